Feature: Inventories with a CQRS read projection
  Logistics keeps customers' inventories and their lines. The list and the detail are read from a
  projection that an event handler maintains: a change shows once the worker has handled its event.

  Background:
    Given today is 2026-03-10

  Scenario: Create an inventory
    When logistics creates an inventory for "ACME" expiring 2027-01-31
    Then the answer is 201
    And the new inventory for "ACME" has 0 items
    And the inventory list is empty
    And the KPI "projection_lag_events" is 1
    When the worker runs
    Then the inventory list shows "ACME" with 0 items in 0 lines
    And the KPI "projection_lag_events" is 0

  Scenario: Two lines are totalled once their events are handled
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    And the worker has run
    When logistics adds 5 of "bolts M8" to the inventory of "ACME"
    And logistics adds 7 of "nuts M8" to the inventory of "ACME"
    Then the answer is 201
    And the inventory list shows "ACME" with 0 items in 0 lines
    And the KPI "projection_lag_events" is 2
    When the worker runs
    Then the inventory list shows "ACME" with 12 items in 2 lines
    And the KPI "projection_lag_events" is 0
    And the detail of "ACME" shows 12 items in these lines
      | product  | quantity |
      | bolts M8 | 5        |
      | nuts M8  | 7        |

  Scenario: Delivering the events again counts nothing twice
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    And logistics has added 5 of "bolts M8" to the inventory of "ACME"
    And the worker has run
    When every published event is delivered again
    Then the inventory list shows "ACME" with 5 items in 1 lines

  Scenario: A deleted inventory is gone
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    And logistics has created an inventory for "Beta" expiring 2027-02-28
    And logistics has added 5 of "bolts M8" to the inventory of "ACME"
    And the worker has run
    When logistics deletes the inventory of "ACME"
    Then the answer is 204
    And reading the inventory of "ACME" answers 404
    When the worker runs
    Then the inventory list does not show "ACME"
    And the inventory list shows "Beta" with 0 items in 0 lines
    When logistics deletes the inventory of "ACME"
    Then the answer is 404

  Scenario: A deleted inventory refuses lines
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    And logistics has deleted the inventory of "ACME"
    When logistics adds 5 of "bolts M8" to the inventory of "ACME"
    Then the answer is 404
    And 2 events are waiting in the outbox

  Scenario: An unknown inventory
    When logistics adds 5 of "bolts M8" to inventory 999
    Then the answer is 404
    When logistics deletes inventory 999
    Then the answer is 404
    When auditor reads "/inventories/999"
    Then the answer is 404
    And no event is waiting in the outbox

  Scenario Outline: Bad lines are refused and nothing is written
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    When logistics posts the line <body> to the inventory of "ACME"
    Then the answer is 422 naming "<field>"
    And 1 event is waiting in the outbox

    Examples:
      | body                                          | field    |
      | {"product": "bolts", "quantity": 0}           | quantity |
      | {"product": "bolts", "quantity": -1}          | quantity |
      | {"product": "bolts", "quantity": 1.5}         | quantity |
      | {"product": "bolts", "quantity": "abc"}       | quantity |
      | {"product": "bolts", "quantity": true}        | quantity |
      | {"product": "bolts", "quantity": 1000001}     | quantity |
      | {"product": "bolts"}                          | quantity |
      | {"product": "", "quantity": 3}                | product  |
      | {"product": "   ", "quantity": 3}             | product  |
      | {"quantity": 3}                               | product  |
      | {"product": "bolts", "quantity": 3, "x": 1}   | x        |

  Scenario Outline: Bad inventories are refused and nothing is written
    When logistics posts the inventory <body>
    Then the answer is 422 naming "<field>"
    And no event is waiting in the outbox

    Examples:
      | body                                                   | field       |
      | {"customer": "", "expiry_date": "2027-01-31"}          | customer    |
      | {"customer": "   ", "expiry_date": "2027-01-31"}       | customer    |
      | {"expiry_date": "2027-01-31"}                          | customer    |
      | {"customer": "ACME", "expiry_date": "31/01/2027"}      | expiry_date |
      | {"customer": "ACME", "expiry_date": "2027-02-30"}      | expiry_date |
      | {"customer": "ACME"}                                   | expiry_date |

  Scenario: The seed system's field names are understood
    When logistics posts the inventory {"cliente": "ACME", "fecha_caducidad": "2027-01-31"}
    Then the answer is 201
    When logistics posts the line {"producto": "tornillos", "cantidad": 4} to the inventory of "ACME"
    Then the answer is 201
    When the worker runs
    Then the inventory list shows "ACME" with 4 items in 1 lines

  Scenario: Other roles may read inventories but not change them
    Given logistics has created an inventory for "ACME" expiring 2027-01-31
    And the worker has run
    Then quality, auditor and procurement may read the inventory of "ACME" but not change it

  Scenario: An admin may change inventories
    When admin creates an inventory for "ACME" expiring 2027-01-31
    And admin adds 3 of "bolts M8" to the inventory of "ACME"
    And the worker runs
    Then the inventory list shows "ACME" with 3 items in 1 lines
    When admin deletes the inventory of "ACME"
    Then the answer is 204

  Scenario: Filter by customer and expiry, latest expiry first, one page at a time
    Given logistics has created these inventories
      | customer | expiry_date |
      | ACME     | 2027-01-31  |
      | Beta     | 2026-06-30  |
      | ACME     | 2028-03-01  |
      | Gamma    | 2026-12-31  |
    And the worker has run
    Then listing inventories with "limit=50" gives ACME, ACME, Gamma, Beta of 4
    And listing inventories with "customer=ACME" gives ACME, ACME of 2
    And listing inventories with "expiring_before=2027-01-31" gives Gamma, Beta of 2
    And listing inventories with "customer=Beta&expiring_before=2026-06-30" gives none
    And listing inventories with "limit=2&offset=1" gives ACME, Gamma of 4
    And listing inventories by expiry date gives 2028-03-01, 2027-01-31, 2026-12-31, 2026-06-30
