Feature: Supplier risk
  A supplier is at risk when its certification has expired or when it has an open
  non-conformity of high severity. Quality and procurement see it on the supplier and in the KPIs.

  Background:
    Given today is 2026-03-10

  Scenario: A supplier with a valid certification is not at risk
    When procurement registers supplier "Beta Metals" certified until 2026-06-30
    Then the answer is 201
    And supplier "Beta Metals" is not at risk
    And the KPI "suppliers_at_risk" is 0

  Scenario: The certification is still valid on its expiry day and expired the day after
    Given procurement has registered supplier "Beta Metals" certified until 2026-03-10
    Then supplier "Beta Metals" is not at risk
    When the date becomes 2026-03-11
    Then supplier "Beta Metals" is at risk
    And the KPI "suppliers_at_risk" is 1

  Scenario: An expired certification puts the supplier at risk, a renewal takes it out
    Given procurement has registered supplier "Beta Metals" certified until 2026-06-30
    When procurement sets the certification of "Beta Metals" to 2020-01-01
    Then the answer is 200
    And supplier "Beta Metals" is at risk
    And the KPI "suppliers_at_risk" is 1
    When procurement sets the certification of "Beta Metals" to 2027-01-31
    Then supplier "Beta Metals" is not at risk
    And the KPI "suppliers_at_risk" is 0

  Scenario Outline: Only an open high non-conformity puts the supplier at risk
    Given procurement has registered supplier "Beta Metals" certified until 2026-06-30
    When quality raises a <severity> non-conformity against "Beta Metals"
    Then supplier "Beta Metals" <risk> at risk

    Examples:
      | severity | risk   |
      | low      | is not |
      | medium   | is not |
      | high     | is     |

  Scenario: Closing the high non-conformity takes the supplier out of risk
    Given procurement has registered supplier "Beta Metals" certified until 2026-06-30
    And quality has raised a high non-conformity against "Beta Metals"
    When quality closes the last non-conformity
    Then supplier "Beta Metals" is not at risk
    And the KPI "suppliers_at_risk" is 0

  Scenario: A supplier both expired and with a high non-conformity counts once
    Given procurement has registered supplier "Beta Metals" certified until 2020-01-01
    And quality has raised a high non-conformity against "Beta Metals"
    Then the KPI "suppliers_at_risk" is 1
