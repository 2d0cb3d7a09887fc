Feature: Non-conformity lifecycle
  Quality raises non-conformities against suppliers and closes them once; the list can be
  filtered and paged.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30

  Scenario: Raise and close a non-conformity
    When quality raises a high non-conformity against "Beta Metals"
    Then the answer is 201
    And the non-conformity is OPEN
    When quality closes the last non-conformity
    Then the answer is 200
    And the non-conformity is CLOSED

  Scenario: A closed non-conformity cannot be closed again
    Given quality has raised a low non-conformity against "Beta Metals"
    And quality has closed the last non-conformity
    When quality closes the last non-conformity
    Then the answer is 409
    And the KPI "nc_closed" is 1

  Scenario: Closing a non-conformity that does not exist
    When quality closes non-conformity 999
    Then the answer is 404

  Scenario: A non-conformity against an unknown supplier is refused and nothing is written
    When quality raises a high non-conformity against supplier 999
    Then the answer is 404
    And the KPI "nc_open" is 0
    And 1 event is waiting in the outbox

  Scenario: Filter non-conformities by status, severity and supplier, one page at a time
    Given procurement has registered supplier "Acme Plastics" certified until 2026-09-30
    And quality has raised a high non-conformity against "Beta Metals"
    And quality has raised a low non-conformity against "Beta Metals"
    And quality has raised a high non-conformity against "Acme Plastics"
    And quality has closed the last non-conformity
    Then listing non-conformities with "status=OPEN" gives 2 of 2
    And listing non-conformities with "status=OPEN&severity=high" gives 1 of 1
    And listing non-conformities with "status=CLOSED" gives 1 of 1
    And listing non-conformities of "Beta Metals" gives 2 of 2
    And listing non-conformities with "limit=2&offset=2" gives 1 of 3
    And listing non-conformities with "limit=1" gives 1 of 3
