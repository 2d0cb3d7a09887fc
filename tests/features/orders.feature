Feature: Orders and their delivery lifecycle
  Logistics places orders, with or without items, and moves them RECEIVED -> PICKING -> IN_TRANSIT
  -> DELIVERED, by hand or through the automatic fulfilment process. Orders can be put on hold and
  resumed, and cancelled before they travel. Every change is an event in the order's history.

  Background:
    Given today is 2026-03-10

  Scenario: An order in the delivery service's shape is received
    When logistics places an order for "João Silva" at "Rua Exemplo, 123"
    Then the answer is 201
    And the order is RECEIVED
    And every role can read the order by its id

  Scenario: An order in the order-management shape keeps its items and its own reference
    When logistics places order "ORD-001" for customer "CUST-001" with items
      | sku      | quantity | unit_price | sale_price |
      | ITEM-001 | 2        | 45.00      | 49.99      |
      | ITEM-002 | 1        | 10.00      | 12.50      |
    Then the answer is 201
    And order "ORD-001" totals 112.48 with items ITEM-001 PENDING, ITEM-002 PENDING
    When logistics places order "ORD-001" for customer "CUST-002" with items
      | sku      | quantity | unit_price | sale_price |
      | ITEM-009 | 1        | 1.00       | 1.00       |
    Then the answer is 409
    And the KPI "orders_by_status.RECEIVED" is 1

  @fulfilment_auto
  Scenario: Automatic fulfilment delivers an order by itself
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    When the worker keeps running for 1 minutes
    Then the order is DELIVERED
    And the order's events are RECEIVED, PICKING, IN_TRANSIT, DELIVERED with rising timestamps
    And the order's journey is RECEIVED, PICKING, IN_TRANSIT, DELIVERED
    And the order's changes after the first were made by "fulfilment-process"
    And the KPI "orders_by_status.DELIVERED" is 1

  @fulfilment_auto
  Scenario: Automatic fulfilment picks the items of an order before it travels
    Given logistics has placed order "ORD-7" for customer "CUST-7" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 1.00       | 2.00       |
      | B   | 3        | 1.00       | 2.00       |
    When the worker keeps running for 1 minutes
    Then order "ORD-7" totals 8.00 with items A DELIVERED, B DELIVERED
    And the order's events are RECEIVED, PICKING, IN_TRANSIT, DELIVERED with rising timestamps

  @fulfilment_auto
  Scenario: Automatic fulfilment waits while an order is on hold and goes on when it resumes
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And the worker has run
    Then the KPI "fulfilment_steps_planned" is 1
    When logistics moves the order to ON_HOLD because "address to be checked"
    And the worker keeps running for 1 minutes
    Then the order is ON_HOLD
    And the KPI "fulfilment_steps_planned" is 0
    When logistics moves the order to RECEIVED
    And the worker keeps running for 1 minutes
    Then the order is DELIVERED
    And the order's events are RECEIVED, ON_HOLD, RECEIVED, PICKING, IN_TRANSIT, DELIVERED in order

  @fulfilment_auto
  Scenario: Automatic fulfilment stops at a cancelled order
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And the worker has run
    When logistics cancels the order because "customer called"
    Then the answer is 200
    And the order is CANCELLED
    When the worker keeps running for 1 minutes
    Then the order is CANCELLED
    And the order's events are RECEIVED, CANCELLED in order

  Scenario: Without automatic fulfilment an order waits for logistics
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    When the worker keeps running for 1 minutes
    Then the order is RECEIVED

  Scenario: Manual moves follow the state machine, one step at a time
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    When logistics moves the order to IN_TRANSIT
    Then the answer is 409 naming the allowed next states PICKING, ON_HOLD, CANCELLED
    When logistics moves the order to PICKING because "picker assigned"
    Then the answer is 200
    When logistics moves the order to IN_TRANSIT
    Then the answer is 200
    When logistics moves the order to PICKING
    Then the answer is 409 naming the allowed next states DELIVERED
    When logistics moves the order to DELIVERED
    Then the answer is 200
    When logistics moves the order to IN_TRANSIT
    Then the answer is 409 naming the allowed next states none
    When the worker runs
    Then the order's events are RECEIVED, PICKING, IN_TRANSIT, DELIVERED in order
    And the order's journey is RECEIVED, PICKING, IN_TRANSIT, DELIVERED
    And the order's history says "picker assigned" for PICKING

  Scenario: An unknown status is refused
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    When logistics moves the order to SHIPPED
    Then the answer is 422 naming "status"
    And the order is RECEIVED

  Scenario: Hold and resume go back to the state the order left
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And logistics has moved the order to PICKING
    When logistics moves the order to ON_HOLD
    Then the answer is 200
    When logistics moves the order to IN_TRANSIT
    Then the answer is 409 naming the allowed next states PICKING, CANCELLED
    When logistics moves the order to RECEIVED
    Then the answer is 409 naming the allowed next states PICKING, CANCELLED
    When logistics moves the order to PICKING
    Then the answer is 200
    And the order is PICKING

  Scenario: An order can be cancelled on hold, and cancelling is final
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And logistics has moved the order to ON_HOLD
    When logistics cancels the order
    Then the answer is 200
    And the order is CANCELLED
    When logistics cancels the order
    Then the answer is 409 naming the allowed next states none
    When logistics moves the order to RECEIVED
    Then the answer is 409

  Scenario: The cancel rate counts the cancelled orders among every order placed
    Then the KPI "order_cancel_rate" is null
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And logistics has placed an order for "Ana Costa" at "Rua Nova, 7"
    And logistics has moved the order to PICKING
    Then the KPI "order_cancel_rate" is 0.0
    Given logistics has placed an order for "Rui Lopes" at "Avenida 5, 2"
    And logistics has placed an order for "Eva Sousa" at "Praça 1, 9"
    When logistics cancels the order because "customer called"
    Then the KPI "order_cancel_rate" is 0.25
    And the KPI "orders_by_status.CANCELLED" is 1
    And the KPI "orders_by_status.RECEIVED" is 2

  Scenario: An order in transit can no longer be cancelled
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And logistics has moved the order to PICKING
    And logistics has moved the order to IN_TRANSIT
    When logistics cancels the order
    Then the answer is 409 naming the allowed next states DELIVERED
    And the order is IN_TRANSIT

  Scenario: An order with items travels only once every live item is picked, and its items move with it
    Given logistics has placed order "ORD-2" for customer "CUST-2" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 5.00       | 6.00       |
      | B   | 2        | 5.00       | 6.00       |
    And logistics has moved the order to PICKING
    When logistics moves item "A" of the order to PICKED
    Then the answer is 200
    When logistics moves the order to IN_TRANSIT
    Then the answer is 409 naming the allowed next states ON_HOLD, CANCELLED
    And the answer says "not yet: B"
    When logistics moves item "B" of the order to PICKED
    And logistics moves the order to IN_TRANSIT
    Then the answer is 200
    And order "ORD-2" totals 18.00 with items A IN_TRANSIT, B IN_TRANSIT
    When logistics moves the order to DELIVERED
    Then order "ORD-2" totals 18.00 with items A DELIVERED, B DELIVERED

  Scenario: Item rules
    Given logistics has placed order "ORD-3" for customer "CUST-3" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 5.00       | 6.00       |
      | B   | 1        | 5.00       | 4.00       |
    When logistics moves item "A" of the order to IN_TRANSIT
    Then the answer is 409 naming the allowed next states PICKED, CANCELLED
    When logistics moves item "A" of the order to LOST
    Then the answer is 422 naming "status"
    When logistics moves item "Z" of the order to PICKED
    Then the answer is 404
    When logistics moves item "A" of the order to CANCELLED
    Then the answer is 200
    And order "ORD-3" totals 4.00 with items A CANCELLED, B PENDING
    When logistics moves item "A" of the order to PICKED
    Then the answer is 409 naming the allowed next states none
    And the order is RECEIVED

  Scenario: Cancelling every item cancels the order
    Given logistics has placed order "ORD-4" for customer "CUST-4" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 5.00       | 6.00       |
      | B   | 1        | 5.00       | 6.00       |
    And logistics has moved item "A" of the order to PICKED
    When logistics moves item "A" of the order to CANCELLED
    And logistics moves item "B" of the order to CANCELLED
    Then the answer is 200
    And the order is CANCELLED
    When the worker runs
    Then the order's events are RECEIVED, CANCELLED in order
    And the order's item changes are A PICKED, A CANCELLED, B CANCELLED

  Scenario: Cancelling an order cancels its live items
    Given logistics has placed order "ORD-5" for customer "CUST-5" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 5.00       | 6.00       |
      | B   | 1        | 5.00       | 6.00       |
    And logistics has moved item "B" of the order to CANCELLED
    When logistics cancels the order
    Then order "ORD-5" totals 0.00 with items A CANCELLED, B CANCELLED
    When the worker runs
    Then the order's item changes are B CANCELLED, A CANCELLED

  Scenario: The order history is written once per event, however often events are delivered
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    And logistics has moved the order to PICKING
    And the worker has run
    When every published event is delivered again
    Then the order's events are RECEIVED, PICKING in order

  Scenario: Wrong ids and roles
    Given logistics has placed an order for "João Silva" at "Rua Exemplo, 123"
    When auditor reads "/orders/ORD-404"
    Then the answer is 404
    When auditor reads "/orders/4b1e2a52-0000-4000-8000-000000000000/events"
    Then the answer is 404
    When logistics moves order "ORD-404" to PICKING
    Then the answer is 404
    When quality moves the order to PICKING
    Then the answer is 403
    When procurement cancels the order
    Then the answer is 403
    When quality places an order for "Mallory" at "Nowhere"
    Then the answer is 403
    And the order is RECEIVED
    And the KPI "orders_by_status.RECEIVED" is 1

  Scenario: Orders are listed newest first, filtered by status and customer, one page at a time
    Given logistics has placed order "ORD-A" for customer "CUST-1" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 1.00       | 1.00       |
    And a minute has passed
    And logistics has placed order "ORD-B" for customer "CUST-2" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 1.00       | 1.00       |
    And a minute has passed
    And logistics has placed order "ORD-C" for customer "CUST-1" with items
      | sku | quantity | unit_price | sale_price |
      | A   | 1        | 1.00       | 1.00       |
    And logistics has moved the order to PICKING
    Then listing orders with "" gives ORD-C, ORD-B, ORD-A of 3
    And listing orders with "customer_id=CUST-1" gives ORD-C, ORD-A of 2
    And listing orders with "status=PICKING" gives ORD-C of 1
    And listing orders with "status=RECEIVED&limit=1&offset=1" gives ORD-A of 2
    When auditor reads "/orders?status=SHIPPED"
    Then the answer is 422 naming "status"

  Scenario Outline: Bad orders are refused with the field named, and nothing is written
    When logistics posts the order <body>
    Then the answer is 422 naming "<field>"
    And no event is waiting in the outbox

    Examples:
      | body                                                                                                       | field         |
      | {"address": "Rua Exemplo, 123"}                                                                             | customer_name |
      | {"customer_name": ""}                                                                                       | customer_name |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 0, "unit_price": 1, "sale_price": 1}]}            | quantity      |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 1.5, "unit_price": 1, "sale_price": 1}]}          | quantity      |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": "2", "unit_price": 1, "sale_price": 1}]}          | quantity      |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 1, "unit_price": -1, "sale_price": 1}]}           | unit_price    |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": 1.234}]}        | sale_price    |
      | {"customer_id": "C", "items": [{"sku": "", "quantity": 1, "unit_price": 1, "sale_price": 1}]}             | sku           |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 1, "unit_price": 1}]}                             | sale_price    |
      | {"customer_id": "C", "items": [{"sku": "A", "quantity": 1, "unit_price": 1, "sale_price": 1}, {"sku": "A", "quantity": 2, "unit_price": 1, "sale_price": 1}]} | items |
      | {"customer_id": "C", "order_id": "4b1e2a52-0000-4000-8000-000000000000"}                                  | order_id      |
      | {"customer_id": "C", "status": "DELIVERED"}                                                               | status        |
      | {"customer_id": "C", "total_amount": -5}                                                                  | total_amount  |
      | {"customer_id": "C", "colour": "red"}                                                                     | colour        |
