Feature: Supplier scorecard
  Every month quality scores each supplier in use on what the month brought: the non-conformities
  raised against it (quality, weight 50), whether its deliveries arrived by the promised day
  (delivery, 30) and how much incoming inspection rejected (acceptance, 20). A criterion without
  activity is not applicable, never a free 100. A month once scored never changes; a month in the
  worst band asks quality for a review. The month under way is shown as it stands, provisional.

  Background:
    Given today is 2026-01-20
    And procurement has registered supplier "Beta Metals" certified until 2027-12-31
    And quality has approved "Beta Metals" because "supplier audit passed"

  Scenario: Late deliveries, rejects and high non-conformities make a very poor month and a review
    Given today is 2026-02-10
    When quality raises 6 high non-conformities against "Beta Metals"
    And logistics records delivery "DN-101" of "Beta Metals" promised 2026-02-02, received 2026-02-05: 100 parts, 50 rejected
    And quality records delivery "DN-102" of "Beta Metals" promised 2026-02-06, received 2026-02-09: 50 parts, 40 rejected
    Then procurement may not record a delivery of "Beta Metals"
    And the month under way of "Beta Metals" is provisionally VERY_POOR
    When the date becomes 2026-03-02
    And the monthly scores are computed, storing 1
    And the monthly scores are computed, storing 0
    Then the scorecard of "Beta Metals" for 2026-02 shows
      | quality | delivery | acceptance | total | standing  |
      | 40.0    | 0.0      | 40.0       | 28.0  | VERY_POOR |
    When the worker runs
    Then quality is asked once to review "Beta Metals" for its 2026-02 score

  Scenario: A month without deliveries or non-conformities is not applicable
    When the date becomes 2026-03-02
    And the monthly scores are computed, storing 1
    Then the scorecard of "Beta Metals" for 2026-02 shows
      | quality | delivery | acceptance | total | standing |
      | N/A     | N/A      | N/A        | N/A   | N/A      |
    When the worker runs
    Then quality is not asked to review "Beta Metals"
