Feature: Investigating a non-conformity with corrective and preventive actions
  The quality team investigates a non-conformity with a named owner, records its root cause, plans
  corrective actions with owners, due dates and effectiveness criteria, has each action checked by
  someone other than its owner, and closes the non-conformity once a corrective action proved effective.
  Action owners are reminded a week before the due date and once it passes; a week late, the
  non-conformity's owner is told too.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30
    And quality has raised a high non-conformity against "Beta Metals"

  Scenario: A high non-conformity is investigated, corrected, verified by someone else and closed
    When quality moves the non-conformity to ACTION_PLANNED
    Then the answer is 409 allowing INVESTIGATING, CLOSED, CANCELLED
    When quality starts the investigation with owner "nobody"
    Then the answer is 422 naming "owner"
    When quality starts the investigation with owner "quality"
    Then the non-conformity is INVESTIGATING
    When quality records the root cause MATERIAL: "the resin lot was stored wet"
    And quality plans a corrective action for "procurement" due 2026-03-20 without effectiveness criteria
    Then the answer is 422 naming "effectiveness_criteria"
    When quality plans a corrective action for "procurement" due 2026-03-20 checked by "no porosity in 3 lots"
    And quality moves the non-conformity to ACTION_PLANNED
    Then the non-conformity is ACTION_PLANNED
    And the supplier "Beta Metals" is at risk
    When "procurement" marks the action IN_PROGRESS
    And "procurement" marks the action DONE noting "the supplier dries every resin lot"
    And "procurement" marks the action VERIFIED with the result "no porosity in 3 lots"
    Then the answer is 403
    When "quality" marks the action VERIFIED with the result "no porosity in lots 41, 42 and 43"
    Then the answer is 200
    When quality closes the non-conformity noting "corrective action effective"
    Then the non-conformity is CLOSED
    And supplier "Beta Metals" is not at risk
    And the quality KPIs are
      | nc_open | nc_open_high | nc_closed | nc_high_closed_without_capa | capa_effectiveness_rate | nc_by_root_cause.MATERIAL | nc_by_status.CLOSED | avg_days_to_close_90d |
      | 0       | 0            | 1         | 0                           | 1.0                     | 1                         | 1                   | 0.0                   |
    When the worker runs
    Then the audit log shows the changes of NC_STATUS_CHANGED, NC_ACTION_CREATED, NC_ACTION_STATUS_CHANGED, NC_CLOSED

  Scenario: A late action is reminded and escalated; an ineffective one reopens the investigation; a quick close is counted
    Given quality has started the investigation with owner "quality"
    And quality has recorded the root cause METHOD: "no drying step in the work instruction"
    And quality has planned a corrective action for "procurement" due 2026-03-12 checked by "no porosity"
    And quality has moved the non-conformity to ACTION_PLANNED
    When the reminder job runs
    And the date becomes 2026-03-14
    And the reminder job runs
    Then the quality KPIs are
      | actions_overdue | actions_due_7d | nc_by_status.ACTION_PLANNED | nc_open_high |
      | 1               | 0              | 1                           | 1            |
    When the date becomes 2026-03-21
    And the reminder job runs
    And the reminder job runs
    Then the reminders sent are
      | event            | owner       | days_left | notify               |
      | ACTION_DUE_SOON  | procurement | 2         | procurement          |
      | ACTION_OVERDUE   | procurement | -2        | procurement          |
      | ACTION_ESCALATED | procurement | -9        | procurement, quality |
    When "procurement" marks the action IN_PROGRESS
    And "procurement" marks the action DONE noting "drying added"
    And "admin" marks the action INEFFECTIVE with the result "porosity found again in lot 44"
    Then the answer is 200
    And the non-conformity is back in INVESTIGATING
    When quality closes the last non-conformity
    Then the non-conformity is CLOSED
    And the quality KPIs are
      | nc_high_closed_without_capa | capa_effectiveness_rate | actions_overdue | nc_open | nc_closed |
      | 1                           | 0.0                     | 0               | 0       | 1         |
    When quality reopens the non-conformity because "porosity came back"
    Then the non-conformity is INVESTIGATING
    And the quality KPIs are
      | nc_high_closed_without_capa | nc_open_high | nc_by_status.INVESTIGATING |
      | 0                           | 1            | 1                          |
