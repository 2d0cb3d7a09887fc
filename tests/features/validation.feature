Feature: Input validation
  Bad input gets a clear 4xx naming the field, and nothing is written.

  Background:
    Given today is 2026-03-10
    And procurement has registered supplier "Beta Metals" certified until 2026-06-30

  Scenario Outline: Bad supplier input
    When procurement posts the supplier <body>
    Then the answer is 422 naming "<field>"
    And 1 event is waiting in the outbox

    Examples:
      | body                                                      | field                |
      | {"name": "", "certification_expiry": "2026-06-30"}        | name                 |
      | {"name": "   ", "certification_expiry": "2026-06-30"}     | name                 |
      | {"name": "X", "certification_expiry": "30/06/2026"}       | certification_expiry |
      | {"name": "X", "certification_expiry": "2026-02-30"}       | certification_expiry |
      | {"certification_expiry": "2026-06-30"}                    | name                 |
      | {"name": "X"}                                             | certification_expiry |

  Scenario Outline: Bad non-conformity input
    When quality posts the non-conformity <body>
    Then the answer is 422 naming "<field>"
    And the KPI "nc_open" is 0

    Examples:
      | body                                                               | field       |
      | {"supplier_id": 1, "severity": "critical", "description": "x"}     | severity    |
      | {"supplier_id": 1, "severity": "high", "description": ""}          | description |
      | {"supplier_id": 1, "severity": "high", "description": "   "}       | description |
      | {"supplier_id": "one", "severity": "high", "description": "x"}     | supplier_id |
      | {"severity": "high", "description": "x"}                           | supplier_id |

  Scenario Outline: Bad query parameters
    When auditor reads "<path>"
    Then the answer is 422 naming "<field>"

    Examples:
      | path                     | field    |
      | /ncs?limit=-1            | limit    |
      | /ncs?offset=-5           | offset   |
      | /ncs?limit=100000        | limit    |
      | /ncs?severity=critical   | severity |
      | /outbox?status=LOST      | status   |
      | /suppliers/abc           | supplier_id |

  Scenario: A malformed JSON body
    When procurement posts the raw body "{not json"
    Then the answer is 422

  Scenario: An unknown supplier
    When auditor reads "/suppliers/999"
    Then the answer is 404

  # --- input the records cannot hold: refused with 422 naming the field, on every database ---

  Scenario Outline: An id or a page offset past what the records can hold
    When auditor reads "<path>"
    Then the answer is 422 naming "<field>"

    Examples:
      | path                                     | field        |
      | /ncs?supplier_id=9223372036854775808     | supplier_id  |
      | /ncs?supplier_id=2147483648              | supplier_id  |
      | /suppliers/2147483648                    | supplier_id  |
      | /ncs/2147483648                          | nc_id        |
      | /inventories/99999999999                 | inventory_id |
      | /suppliers?offset=9223372036854775808    | offset       |
      | /ncs?offset=2147483648                   | offset       |
      | /orders?offset=9223372036854775808       | offset       |
      | /inventories?offset=9223372036854775808  | offset       |
      | /audit-log?offset=9223372036854775808    | offset       |
      | /outbox?offset=9223372036854775808       | offset       |

  Scenario: The largest id is well-formed, and unknown
    When auditor reads "/suppliers/2147483647"
    Then the answer is 404

  Scenario: Numbers in a query are still read from its text
    When auditor reads "/ncs?supplier_id=1&limit=10&offset=0"
    Then the answer is 200

  Scenario Outline: A write naming an id past what the records can hold
    When <role> sends <method> "<path>" with <body>
    Then the answer is 422 naming "<field>"
    And nothing was written

    Examples:
      | role        | method | path                                 | body                                                                          | field        |
      | quality     | POST   | /ncs                                 | {"supplier_id": 2147483648, "severity": "high", "description": "x"}          | supplier_id  |
      | quality     | POST   | /ncs                                 | {"supplier_id": 9223372036854775808, "severity": "high", "description": "x"} | supplier_id  |
      | procurement | PATCH  | /suppliers/2147483648/certification  | {"certification_expiry": "2027-01-01"}                                        | supplier_id  |
      | logistics   | POST   | /inventories/2147483648/lines        | {"product": "bolts M8", "quantity": 1}                                        | inventory_id |
      | quality     | PATCH  | /ncs/9223372036854775808/close       | {}                                                                            | nc_id        |

  Scenario Outline: Text with a NUL, a lone surrogate or a control character
    When <role> sends POST "<path>" with <body>
    Then the answer is 422 naming "<field>"
    And nothing was written

    Examples:
      | role        | path         | body                                                                                                   | field         |
      | procurement | /suppliers   | {"name": "Beta\u0000Metals", "certification_expiry": "2026-06-30"}                                     | name          |
      | procurement | /suppliers   | {"name": "Beta \ud800", "certification_expiry": "2026-06-30"}                                          | name          |
      | procurement | /suppliers   | {"name": "Beta\u001b[31m", "certification_expiry": "2026-06-30"}                                       | name          |
      | procurement | /suppliers   | {"name": "Beta\u000aMetals", "certification_expiry": "2026-06-30"}                                     | name          |
      | quality     | /ncs         | {"supplier_id": 1, "severity": "high", "description": "weld\u0000porosity"}                            | description   |
      | quality     | /ncs         | {"supplier_id": 1, "severity": "high", "description": "\udc00 weld porosity"}                          | description   |
      | logistics   | /orders      | {"customer_name": "Ana\u0000", "address": "Rua 1"}                                                     | customer_name |
      | logistics   | /orders      | {"customer_name": "Ana", "address": "Rua\u0000 1"}                                                     | address       |
      | logistics   | /orders      | {"customer_id": "C1", "items": [{"sku": "A\u0000", "quantity": 1, "unit_price": 1, "sale_price": 1}]} | sku           |
      | logistics   | /inventories | {"customer": "ACME\u0000", "expiry_date": "2027-01-31"}                                                | customer      |

  Scenario: A description keeps its line breaks and tabs
    When quality sends POST "/ncs" with {"supplier_id": 1, "severity": "low", "description": "batch 42:\u000a\u0009porosity"}
    Then the answer is 201

  Scenario Outline: A NUL or a control character in a path or a query
    When auditor reads "<path>"
    Then the answer is 422 naming "<field>"

    Examples:
      | path                         | field       |
      | /orders/ORD%00001            | order_key   |
      | /orders/ORD%1B/journey       | order_key   |
      | /orders?customer_id=C%00     | customer_id |
      | /inventories?customer=A%00   | customer    |
      | /audit-log?entity_id=1%00    | entity_id   |
      | /audit-log?event_type=%1B    | event_type  |
      | /audit-log?entity_type=nc%00 | entity_type |

  Scenario Outline: A NUL in the path of an order move
    When logistics sends <method> "<path>" with <body>
    Then the answer is 422 naming "<field>"
    And nothing was written

    Examples:
      | method | path                             | body                   | field     |
      | PATCH  | /orders/ORD%00/status            | {"status": "PICKING"}  | order_key |
      | PATCH  | /orders/ORD-1/items/A%00B/status | {"status": "PICKED"}   | sku       |
      | PUT    | /orders/%00/cancel               | {"reason": "x"}        | order_key |

  Scenario Outline: An order whose amounts cannot be stored exactly
    When logistics sends POST "/orders" with <body>
    Then the answer is 422 naming "<field>"
    And nothing was written

    Examples:
      | body                                                                                                                                                        | field        |
      | {"customer_id": "C1", "items": [{"sku": "A", "quantity": 1000000, "unit_price": 1, "sale_price": 9999999999.99}]}                                          | items        |
      | {"customer_id": "C1", "items": [{"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": 6000000000}, {"sku": "B", "quantity": 1, "unit_price": 1, "sale_price": 6000000000}]} | items |
      | {"customer_id": "C1", "items": [{"sku": "A", "quantity": 1, "unit_price": 99999999999, "sale_price": 1}]}                                                  | unit_price   |
      | {"customer_id": "C1", "items": [{"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": "1e3"}]}                                                        | sale_price   |
      | {"customer_id": "C1", "total_amount": 10000000000}                                                                                                          | total_amount |
      | {"customer_id": "C1", "total_amount": 0.001}                                                                                                                | total_amount |

  Scenario: The largest order total that fits is accepted
    When logistics sends POST "/orders" with {"customer_id": "C1", "items": [{"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": "9999999999.99"}]}
    Then the answer is 201

  Scenario Outline: A value of the wrong JSON type
    When <role> sends <method> "<path>" with <body>
    Then the answer is 422 naming "<field>"
    And nothing was written

    Examples:
      | role        | method | path                       | body                                                                | field                |
      | quality     | POST   | /ncs                       | {"supplier_id": true, "severity": "high", "description": "x"}      | supplier_id          |
      | quality     | POST   | /ncs                       | {"supplier_id": 1.0, "severity": "high", "description": "x"}       | supplier_id          |
      | quality     | POST   | /ncs                       | {"supplier_id": "1", "severity": "high", "description": "x"}       | supplier_id          |
      | procurement | POST   | /suppliers                 | {"name": "Gamma", "certification_expiry": 0}                        | certification_expiry |
      | procurement | POST   | /suppliers                 | {"name": "Gamma", "certification_expiry": "0"}                      | certification_expiry |
      | procurement | PATCH  | /suppliers/1/certification | {"certification_expiry": 0}                                         | certification_expiry |
      | logistics   | POST   | /inventories               | {"customer": "ACME", "expiry_date": 0}                              | expiry_date          |
      | logistics   | POST   | /orders                    | {"customer_name": "Ana", "eta": 0}                                  | eta                  |
      | logistics   | POST   | /orders                    | {"customer_name": "Ana", "eta": "1700000000"}                       | eta                  |
      | logistics   | POST   | /orders                    | {"customer_name": "Ana", "eta": "0001-01-01T00:00:00+01:00"}        | eta                  |
      | logistics   | POST   | /orders                    | {"customer_name": "Ana", "total_amount": true}                      | total_amount         |
      | logistics   | POST   | /orders                    | {"customer_id": "C1", "items": [{"sku": "A", "quantity": true, "unit_price": 1, "sale_price": 1}]} | quantity |
      | logistics   | POST   | /orders                    | {"customer_name": "Ana", "total_amount": NaN}                       | total_amount         |
      | quality     | POST   | /ncs                       | {"supplier_id": Infinity, "severity": "high", "description": "x"}  | supplier_id          |
      | procurement | POST   | /suppliers                 | {"name": -Infinity, "certification_expiry": "2026-06-30"}          | name                 |
