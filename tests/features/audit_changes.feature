Feature: Audit trail with changes
  For every change the auditor sees who made it, what changed (each field's value before and after)
  and why, when the person said why; and finds what one person changed in a given time window.

  Scenario: A certification change and an order move show who, what changed and why; filtered by actor and time
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2027-06-30
    And a minute has passed
    When procurement sets the certification of "Beta Metals" to 2028-01-31
    And logistics places a delivery order for "Acme" at "Dock 4"
    And a minute passes
    And logistics puts the order on hold saying "address to be checked"
    And logistics cancels the order saying "customer withdrew"
    And the worker runs
    Then the audit log of supplier "Beta Metals" says
      | action                | actor       | changes                                                                                          | reason |
      | SUPPLIER_CERT_UPDATED | procurement | certification_expiry: 2027-06-30 -> 2028-01-31                                                   |        |
      | SUPPLIER_CREATED      | procurement | name: null -> Beta Metals; certification_expiry: null -> 2027-06-30; approval_status: null -> PENDING |        |
    And the audit log of the order says
      | action               | actor     | changes                                                                                         | reason                |
      | ORDER_CANCELLED      | logistics | status: ON_HOLD -> CANCELLED                                                                    | customer withdrew     |
      | ORDER_STATUS_CHANGED | logistics | status: RECEIVED -> ON_HOLD                                                                     | address to be checked |
      | ORDER_RECEIVED       | logistics | status: null -> RECEIVED; customer_name: null -> Acme; address: null -> Dock 4; total_amount: null -> 0.00 |                       |
    When the auditor lists what "logistics" changed from 2026-03-10T09:02:00Z to 2026-03-10
    Then the audit log lists ORDER_CANCELLED, ORDER_STATUS_CHANGED
    When the auditor lists what "procurement" changed from 2026-03-10T09:01:00Z to 2026-03-10T09:01:59Z
    Then the audit log lists SUPPLIER_CERT_UPDATED
    When the auditor lists what "procurement" changed from 2026-03-11 to 2026-03-12
    Then the audit log lists nothing
    When the auditor downloads what "procurement" changed as CSV
    Then the CSV row of SUPPLIER_CERT_UPDATED shows the changes [["certification_expiry","2027-06-30","2028-01-31"]]
