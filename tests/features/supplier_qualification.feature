Feature: Supplier qualification
  Quality keeps each supplier's certificates on record and decides its approval status. The
  certificates show whether they are valid, expiring within 30 days or expired; the earliest
  required one is the supplier's certification date, so the supplier is at risk once it passes.
  Procurement may ask for a change of status, only quality applies it, and a high non-conformity
  against a supplier in use asks quality for a review without blocking anyone. Quality is reminded
  60, 30 and 7 days before a certificate expires and when it has expired, each reminder once.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2027-12-31

  Scenario: Certificates on record define the certification date and show their status
    When quality records certificate ISO_9001 "Q-100" of "Beta Metals" issued 2025-04-01 expiring 2026-04-01
    And procurement records certificate ISO_14001 "E-200" of "Beta Metals" issued 2025-06-01 expiring 2028-06-01
    And procurement records an optional certificate OTHER "R-300" of "Beta Metals" issued 2025-01-01 expiring 2026-03-01
    Then the certificates of "Beta Metals" are
      | number | status   |
      | Q-100  | EXPIRING |
      | E-200  | VALID    |
      | R-300  | EXPIRED  |
    And the certification of "Beta Metals" runs until 2026-04-01
    And the KPI "certs_expiring_30d" is 1
    And procurement can no longer set the certification of "Beta Metals" directly
    And a certificate of "Beta Metals" expiring before it was issued is refused naming "expires_on"
    When the date becomes 2026-04-02
    Then certificate "Q-100" of "Beta Metals" is EXPIRED
    And supplier "Beta Metals" is at risk
    When quality renews certificate "Q-100" of "Beta Metals" until 2029-04-01
    Then the certification of "Beta Metals" runs until 2028-06-01
    And supplier "Beta Metals" is not at risk
    When the worker runs
    Then the audit trail of "Beta Metals" shows SUPPLIER_CREATED, CERTIFICATE_ADDED, SUPPLIER_CERT_UPDATED, CERTIFICATE_ADDED, CERTIFICATE_ADDED, CERTIFICATE_UPDATED, SUPPLIER_CERT_UPDATED
    And the audit trail of "Beta Metals" records the change of expires_on from 2026-04-01 to 2029-04-01

  Scenario: Quality decides the approval status, procurement only asks, a high NC asks for a review
    Then "Beta Metals" is PENDING
    When procurement asks quality to set "Beta Metals" to APPROVED because "needed for the Q3 launch"
    Then the answer is 202
    And "Beta Metals" is PENDING
    When procurement tries to set "Beta Metals" to APPROVED
    Then the answer is 403
    When quality sets "Beta Metals" to APPROVED because "supplier audit passed"
    Then "Beta Metals" is APPROVED, changed by "quality" because "supplier audit passed"
    When quality tries to set "Beta Metals" to REJECTED
    Then the answer is 409 allowing CONDITIONAL, BLOCKED
    When quality raises a high non-conformity against "Beta Metals"
    And the worker runs
    And quality sets "Beta Metals" to BLOCKED because "porosity in three lots"
    Then the KPI "suppliers_blocked" is 1
    When quality tries to set "Beta Metals" to APPROVED
    Then the answer is 409 allowing CONDITIONAL
    When quality sets "Beta Metals" to CONDITIONAL because "8D report accepted"
    Then the KPIs are
      | suppliers_blocked | suppliers_conditional | suppliers_at_risk |
      | 0                 | 1                     | 1                 |
    And listing suppliers with "approval_status=CONDITIONAL" gives 1 of 1
    And listing suppliers with "approval_status=BLOCKED" gives 0 of 0
    When the worker runs
    And every published event is delivered again
    And the worker runs
    Then the audit trail of "Beta Metals" shows SUPPLIER_CREATED, SUPPLIER_STATUS_CHANGE_REQUESTED, SUPPLIER_STATUS_CHANGED, SUPPLIER_REVIEW_REQUIRED, SUPPLIER_STATUS_CHANGED, SUPPLIER_STATUS_CHANGED
    And the review of "Beta Metals" names the high non-conformity and left it APPROVED

  Scenario: Quality is reminded once as a certificate nears its expiry, and asked for a review when it passes
    When quality sets "Beta Metals" to APPROVED because "supplier audit passed"
    And quality records certificate ISO_9001 "Q-100" of "Beta Metals" issued 2025-04-09 expiring 2026-04-09
    And two workers run the reminder job at the same time
    And the reminder job runs
    Then the reminders sent are
      | event         | number | threshold | days_left |
      | CERT_EXPIRING | Q-100  | 30        | 30        |
    When the date becomes 2026-04-05
    And the reminder job runs
    And the date becomes 2026-04-10
    And the reminder job runs
    And the reminder job runs
    Then the reminders sent are
      | event         | number | threshold | days_left |
      | CERT_EXPIRING | Q-100  | 30        | 30        |
      | CERT_EXPIRING | Q-100  | 7         | 4         |
      | CERT_EXPIRED  | Q-100  | 0         | -1        |
    And "Beta Metals" is APPROVED
    And the audit trail of "Beta Metals" shows SUPPLIER_CREATED, SUPPLIER_STATUS_CHANGED, CERTIFICATE_ADDED, SUPPLIER_CERT_UPDATED, CERT_EXPIRING, CERT_EXPIRING, CERT_EXPIRED, SUPPLIER_REVIEW_REQUIRED
