Feature: Operational KPIs
  The QHSE demo's workflow, followed through the KPIs that auditors and quality watch.

  Scenario: The QHSE workflow step by step
    Given today is 2026-03-10
    When procurement registers supplier "Beta Metals" certified until 2026-06-30
    And quality raises a low non-conformity against "Beta Metals"
    Then the KPIs are
      | nc_open | nc_open_high | nc_closed | outbox_pending | outbox_failed | suppliers_at_risk | audit_events_total |
      | 1       | 0            | 0         | 2              | 0             | 0                 | 0                  |
    When the worker runs
    Then the KPIs are
      | nc_open | nc_open_high | nc_closed | outbox_pending | outbox_failed | suppliers_at_risk | audit_events_total |
      | 1       | 0            | 0         | 0              | 0             | 0                 | 2                  |
    When quality raises a high non-conformity against "Beta Metals"
    And quality closes the last non-conformity
    And procurement sets the certification of "Beta Metals" to 2020-01-01
    And the worker runs
    Then the KPIs are
      | nc_open | nc_open_high | nc_closed | outbox_pending | outbox_failed | suppliers_at_risk | audit_events_total |
      | 1       | 0            | 1         | 0              | 0             | 1                 | 5                  |

  Scenario: The KPIs are for auditors, quality and admins only
    Then the KPIs can be read by auditor, quality and admin
    And the KPIs are refused to procurement and logistics
