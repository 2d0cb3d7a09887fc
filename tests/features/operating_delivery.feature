Feature: Operators steer delivery
  An event that cannot be delivered stops its aggregate, not the others; operators see where each
  event is and why it failed, and replay or skip it with a reason, and every such action is audited.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30
    And a downstream handler is failing
    And the worker keeps running for 2 minutes

  Scenario: A FAILED event parks the later events of its aggregate; one audited replay delivers them in order
    When procurement sets the certification of "Beta Metals" to 2027-01-01
    And procurement sets the certification of "Beta Metals" to 2028-01-01
    And the downstream handler recovers
    And procurement registers supplier "Gamma Alloys" certified until 2027-06-30
    And the worker runs
    Then the KPI "outbox_failed" is 1
    And the KPI "outbox_parked" is 2
    And the auditor sees the events of "Beta Metals" as FAILED, PARKED, PARKED
    And the auditor sees the events of "Gamma Alloys" as PUBLISHED
    When the admin replays the FAILED event because "downstream system fixed"
    And the worker runs
    Then the KPI "outbox_failed" is 0
    And the KPI "outbox_parked" is 0
    And the handlers saw the events of "Beta Metals" in commit order: SUPPLIER_CREATED, SUPPLIER_CERT_UPDATED, SUPPLIER_CERT_UPDATED
    And the audit log records that "admin" replayed the event because "downstream system fixed"

  Scenario: The timeline of a replayed event shows every step of its delivery
    When the downstream handler recovers
    And the admin replays the FAILED event because "downstream system fixed"
    And the worker runs
    Then the timeline of the event shows, in order: WRITTEN, CLAIMED, ATTEMPT_FAILED, DEAD_LETTERED, REPLAYED, CLAIMED, HANDLED
    And the timeline shows 5 failed attempts with the error "downstream system unavailable"
    And the timeline names "admin" and the reason "downstream system fixed" on the replay

  Scenario: A FAILED event is a dead letter until it is replayed, once
    Then the auditor sees 1 open dead letter for "SUPPLIER_CREATED" with the error "downstream system unavailable"
    And a replay without a reason is refused, naming the field "reason"
    When the admin replays the FAILED event because "downstream system fixed"
    Then replaying it again is a conflict
    And the dead letter is "REPLAYED" by "admin"

  Scenario: Skipping a FAILED event releases the parked events of its aggregate
    When procurement sets the certification of "Beta Metals" to 2027-01-01
    And the downstream handler recovers
    And the worker runs
    Then the KPI "outbox_parked" is 1
    When the admin skips the FAILED event because "created by hand in the downstream system"
    And the worker runs
    Then the KPI "outbox_parked" is 0
    And the KPI "outbox_failed" is 0
    And the auditor sees the events of "Beta Metals" as SKIPPED, PUBLISHED
    And the audit log records that "admin" skipped the event because "created by hand in the downstream system"
