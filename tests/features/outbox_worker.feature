Feature: Outbox and idempotent worker
  Every business change is written with its event in one transaction; the worker hands each
  event to the handlers, which apply it exactly once and leave one audit record.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30

  Scenario: An event waits in the outbox until the worker handles it
    Then 1 event is waiting in the outbox
    And the audit log is empty
    When the worker runs
    Then no event is waiting in the outbox
    And the audit log holds 1 record for "SUPPLIER_CREATED" by "procurement"

  Scenario: Every handled event leaves exactly one audit record
    Given quality has raised a high non-conformity against "Beta Metals"
    And quality has closed the last non-conformity
    And procurement has set the certification of "Beta Metals" to 2020-01-01
    When the worker runs
    And the worker runs
    Then the audit log holds one record per event: SUPPLIER_CREATED, NC_CREATED, NC_CLOSED, SUPPLIER_CERT_UPDATED

  Scenario: An event delivered twice is applied once
    Given the worker has run
    When every published event is delivered again
    Then the audit log holds 1 record for "SUPPLIER_CREATED" by "procurement"

  Scenario: A failing delivery is retried with backoff, then FAILED, then replayed by an admin
    Given a downstream handler is failing
    And quality has raised a low non-conformity against "Beta Metals"
    When the worker runs
    Then 2 events are waiting in the outbox with 1 attempt and the error "downstream system unavailable"
    When the worker runs
    Then 2 events are waiting in the outbox with 1 attempt and the error "downstream system unavailable"
    When the worker keeps running for 10 minutes
    Then the KPI "outbox_failed" is 2
    And the auditor sees 2 FAILED events in the outbox
    When the downstream handler recovers
    And the admin replays every FAILED event
    And the worker runs
    Then the KPI "outbox_failed" is 0
    And no event is waiting in the outbox
    And the audit log holds one record per event: SUPPLIER_CREATED, NC_CREATED

  Scenario: Only admins replay events
    Given a downstream handler is failing
    And the worker keeps running for 10 minutes
    Then the auditor may not replay a FAILED event

  Scenario: An event the transport acknowledged but never delivered is re-driven and handled once
    Given the event transport acknowledges events but delivers none
    When the worker runs
    Then no event is waiting in the outbox
    And the audit log is empty
    And the KPI "events_unhandled" is 0
    When the event transport delivers again
    And 6 minutes pass
    Then the KPI "events_unhandled" is 1
    When the worker runs
    Then the KPI "events_unhandled" is 0
    And the audit log holds 1 record for "SUPPLIER_CREATED" by "procurement"
    When the worker keeps running for 10 minutes
    Then the audit log holds 1 record for "SUPPLIER_CREATED" by "procurement"
