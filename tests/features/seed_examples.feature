Feature: The earlier systems' documented examples work as their READMEs show them
  Each request below is copied from a seed README (../shared/seeds/), adapted only by a bearer
  token of a role allowed to send it. The order system's own example sends total_amount 99.99 for
  items that add up to 2 x 49.99 = 99.98: SupplyTrace refuses a total that contradicts the items
  (422 naming total_amount) instead of storing another amount than the one sent, so that example is
  shown refused, then sent again with the items' total.

  Background:
    Given today is 2026-03-10

  Scenario: The QHSE demo and backend (seeds 000 and 001), request by request
    When anyone calls GET /health
    Then the answer is 200
    When procurement calls POST /suppliers with {"name":"Beta Metals","certification_expiry":"2026-06-30"}
    Then the answer is 201 with {"id": 1, "name": "Beta Metals", "certification_expiry": "2026-06-30", "at_risk": false}
    When quality calls POST /ncs with {"supplier_id":1,"severity":"high","description":"Certificato materiale mancante"}
    Then the answer is 201 with {"id": 1, "supplier_id": 1, "severity": "high", "status": "OPEN"}
    When the worker runs
    And procurement calls PATCH /suppliers/1/certification with {"certification_expiry":"2020-01-01"}
    Then the answer is 200 with {"id": 1, "certification_expiry": "2020-01-01", "at_risk": true}
    When auditor calls GET /suppliers
    Then the answer is 200 with {"items": [{"id": 1, "at_risk": true}], "total": 1}
    When auditor calls GET /suppliers/1
    Then the answer is 200 with {"name": "Beta Metals"}
    When auditor calls GET /ncs?status=OPEN&severity=high
    Then the answer is 200 with {"items": [{"id": 1, "status": "OPEN", "severity": "high"}], "total": 1}
    When quality calls PATCH /ncs/1/close
    Then the answer is 200 with {"id": 1, "status": "CLOSED"}
    When the worker runs
    And auditor calls GET /audit-log?limit=20&offset=0
    Then the answer is 200 with {"total": 4, "limit": 20, "offset": 0}
    When auditor calls GET /kpi
    Then the answer is 200 with {"nc_open": 0, "nc_open_high": 0, "nc_closed": 1, "outbox_pending": 0, "outbox_failed": 0, "suppliers_at_risk": 1, "audit_events_total": 4}

  Scenario: The delivery service (seed 002): its order shape, status and event history
    When logistics calls POST /orders with {"customer_name": "João Silva", "address": "Rua Exemplo, 123"}
    Then the answer is 201 with {"customer_name": "João Silva", "address": "Rua Exemplo, 123", "status": "RECEIVED"}
    When auditor calls GET /orders/{order_id}
    Then the answer is 200 with {"customer_name": "João Silva", "address": "Rua Exemplo, 123", "status": "RECEIVED"}
    When the worker runs
    And auditor calls GET /orders/{order_id}/events
    Then the answer is 200 with [{"order_id": "{order_id}", "status": "RECEIVED"}]
    When logistics calls POST /orders with {"customer_name": "João Silva"}
    Then the answer is 422 naming "address"

  Scenario: The inventory service (seed 003) under its own paths and field names
    When logistics calls POST /inventario with {"cliente": "ACME", "fecha_caducidad": "2027-01-31"}
    Then the answer is 201 with {"inventario_id": 1, "cliente": "ACME", "total_items": 0, "fecha_caducidad": "2027-01-31", "lineas": []}
    When logistics calls POST /inventario/1/linea with {"producto": "tornillos M8", "cantidad": 5}
    Then the answer is 201 with {"inventario_id": 1, "producto": "tornillos M8", "cantidad": 5}
    When logistics calls POST /inventario/1/linea with {"producto": "tuercas", "cantidad": 0}
    Then the answer is 422 naming "cantidad"
    When auditor calls POST /inventario with {"cliente": "ACME", "fecha_caducidad": "2027-01-31"}
    Then the answer is 403
    When the worker runs
    And auditor calls GET /inventario
    Then the answer is 200 with [{"inventario_id": 1, "cliente": "ACME", "total_items": 5, "fecha_caducidad": "2027-01-31"}]
    When auditor calls GET /inventario/1
    Then the answer is 200 with {"total_items": 5, "lineas": [{"producto": "tornillos M8", "cantidad": 5}]}
    When logistics calls DELETE /inventario/1
    Then the answer is 204
    When the worker runs
    And auditor calls GET /inventario/1
    Then the answer is 404
    When auditor calls GET /inventario
    Then the answer is 200 with []

  Scenario: The order system (seed 004): its example refused for its total, then its whole API
    When logistics calls POST /orders with the order system's example
      """
      {
        "order_id": "ORD-001",
        "customer_id": "CUST-001",
        "facility_id": "FAC-001",
        "status": "pending",
        "total_amount": 99.99,
        "order_datetime": "2024-01-01T10:00:00",
        "eta": "2024-01-01T15:00:00",
        "items": [
          {
            "sku": "ITEM-001",
            "quantity": 2,
            "unit_price": 45.00,
            "sale_price": 49.99
          }
        ]
      }
      """
    Then the answer is 422 naming "total_amount"
    And the answer mentions "99.98"
    When logistics calls POST /create_order with the order system's example again
    Then the answer is 422 naming "total_amount"
    When logistics calls POST /create_order with the order system's example totalling 99.98
    Then the answer is 201 with {"order_id": "ORD-001", "customer_id": "CUST-001", "facility_id": "FAC-001", "status": "RECEIVED", "total_amount": 99.98, "eta": "2024-01-01T15:00:00Z", "items": [{"sku": "ITEM-001", "quantity": 2, "unit_price": 45.0, "sale_price": 49.99, "status": "PENDING"}]}
    When anyone calls GET /get_order_details?order_id=ORD-001
    Then the answer is 401
    When auditor calls GET /get_order_details?order_id=ORD-001
    Then the answer is 200 with {"order_id": "ORD-001", "total_amount": 99.98, "items": [{"sku": "ITEM-001"}]}
    When logistics calls PUT /orders/ORD-001 with {"eta": "2024-01-02T15:00:00", "address": "Rua Nova, 7", "items": [{"sku": "ITEM-001", "quantity": 3, "unit_price": 45.00, "sale_price": 49.99}], "total_amount": 149.97}
    Then the answer is 200 with {"order_id": "ORD-001", "address": "Rua Nova, 7", "eta": "2024-01-02T15:00:00Z", "total_amount": 149.97, "status": "RECEIVED"}
    When logistics calls PATCH /update_item_status with {"order_id": "ORD-001", "sku": "ITEM-001", "status": "picked"}
    Then the answer is 200 with {"items": [{"sku": "ITEM-001", "quantity": 3, "status": "PICKED"}]}
    When logistics calls PUT /orders/ORD-001 with {"items": [{"sku": "ITEM-002", "quantity": 1, "unit_price": 1, "sale_price": 1}]}
    Then the answer is 409 saying "already picked: ITEM-001"
    When logistics calls PUT /update_order_status with {"order_id": "ORD-001", "status": "picking"}
    Then the answer is 200 with {"order_id": "ORD-001", "status": "PICKING"}
    When auditor calls GET /orders?limit=10
    Then the answer is 200 with {"items": [{"order_id": "ORD-001", "status": "PICKING"}], "total": 1, "limit": 10}
    When auditor calls GET /orders/ORD-001
    Then the answer is 200 with {"order_id": "ORD-001", "total_amount": 149.97}
    When logistics calls PUT /orders/ORD-001/cancel
    Then the answer is 200 with {"status": "CANCELLED"}
    When logistics calls PATCH /update_order_status with {"order_id": "ORD-001", "status": "picking"}
    Then the answer is 409 saying "cannot move from CANCELLED to PICKING"
    When logistics calls PUT /orders/ORD-001 with {"eta": "2024-01-03T15:00:00"}
    Then the answer is 409 saying "the order is CANCELLED"
    When the worker runs
    And auditor calls GET /orders/ORD-001/journey
    Then the answer is 200 with [{"current_status": "RECEIVED", "previous_status": null}, {"current_status": "RECEIVED", "reason": "updated eta, address, items"}, {"current_status": "PICKING", "previous_status": "RECEIVED"}, {"current_status": "CANCELLED", "previous_status": "PICKING"}]
    When auditor calls POST /create_order with the order system's example totalling 99.98
    Then the answer is 403
