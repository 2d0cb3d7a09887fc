"""Orders: the full transition tables of orders and items, item rules, validation, use cases, history."""

from __future__ import annotations

from application.ports.outbox import OutboxFilter

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest

from application.orders import (
    CancelOrder,
    ChangeItemStatus,
    ChangeOrderStatus,
    NewOrder,
    OrderHistoryHandler,
    OrderQueries,
    PlaceOrder,
)
from adapters.outbound.inprocess import InProcessPublisher
from application.catalog import REGISTRY
from application.dispatch import ApplyEvents
from application.kpi import KpiQuery
from application.envelope import EventEnvelope, Origin
from domain.errors import Conflict, NotFound, ValidationError
from domain.orders import (
    ITEM_FLOW,
    ORDER_FLOW,
    ItemSpec,
    ItemStatus,
    Order,
    OrderCancelled,
    OrderItemStatusChanged,
    OrderReceived,
    OrderStatus,
    OrderStatusChanged,
    TransitionRefused,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
S, I = OrderStatus, ItemStatus


def order_in(state: OrderStatus, held_from: OrderStatus = S.RECEIVED, items: int = 0) -> Order:
    """An order walked to `state` by legal moves (items picked on the way when it must travel)."""
    specs = [ItemSpec(f"SKU-{n}", 1, "1.00", "2.00") for n in range(items)]
    order = Order.receive(T0, customer_name="Ana", address="Rua 1", items=specs)
    path = {
        S.RECEIVED: [],
        S.PICKING: [S.PICKING],
        S.IN_TRANSIT: [S.PICKING, S.IN_TRANSIT],
        S.DELIVERED: [S.PICKING, S.IN_TRANSIT, S.DELIVERED],
        S.CANCELLED: [S.CANCELLED],
        S.ON_HOLD: ([S.PICKING] if held_from is S.PICKING else []) + [S.ON_HOLD],
    }[state]
    for step in path:
        if step is S.IN_TRANSIT:
            for item in order.items:
                order.change_item_status(item.sku, I.PICKED, T0)
        order.move_to(step, T0)
    order.events.clear()
    return order


# --- the order transition table ----------------------------------------------------------------

EXPECTED_ORDER_MOVES = {
    S.RECEIVED: {S.PICKING, S.ON_HOLD, S.CANCELLED},
    S.PICKING: {S.IN_TRANSIT, S.ON_HOLD, S.CANCELLED},
    S.IN_TRANSIT: {S.DELIVERED},
    S.DELIVERED: set(),
    S.CANCELLED: set(),
}


def test_the_order_flow_is_the_documented_one() -> None:
    assert {state: set(moves) for state, moves in ORDER_FLOW.items() if state is not S.ON_HOLD} == \
        EXPECTED_ORDER_MOVES
    assert ORDER_FLOW[S.ON_HOLD] == (S.CANCELLED,)


ORDER_CASES = [(state, target) for state, target in product(EXPECTED_ORDER_MOVES, S)]


@pytest.mark.parametrize(("state", "target"), ORDER_CASES, ids=[f"{a}->{b}" for a, b in ORDER_CASES])
def test_every_order_move(state: OrderStatus, target: OrderStatus) -> None:
    order = order_in(state)
    if target in EXPECTED_ORDER_MOVES[state]:
        order.move_to(target, T0 + timedelta(minutes=1), reason="why not")
        assert order.status is target
        [event] = order.events
        assert (event.from_status, event.to_status) == (state, target)
        assert event.reason == ("why not" if target is not S.CANCELLED else "why not")
        assert isinstance(event, OrderCancelled if target is S.CANCELLED else OrderStatusChanged)
        assert order.updated_at == T0 + timedelta(minutes=1)
    else:
        with pytest.raises(TransitionRefused) as refused:
            order.move_to(target, T0)
        assert refused.value.allowed == [s.value for s in ORDER_FLOW[state]]
        assert order.status is state and order.events == []


HOLD_CASES = [(held, target) for held, target in product((S.RECEIVED, S.PICKING), S)]


@pytest.mark.parametrize(("held_from", "target"), HOLD_CASES, ids=[f"ON_HOLD({a})->{b}" for a, b in HOLD_CASES])
def test_every_move_out_of_hold_resumes_where_it_left_or_cancels(held_from: OrderStatus, target: OrderStatus) -> None:
    order = order_in(S.ON_HOLD, held_from)
    assert order.held_from is held_from
    if target in (held_from, S.CANCELLED):
        order.move_to(target, T0)
        assert order.status is target and order.held_from is None
    else:
        with pytest.raises(TransitionRefused) as refused:
            order.move_to(target, T0)
        assert refused.value.allowed == [held_from.value, "CANCELLED"]
        assert order.status is S.ON_HOLD


def test_a_refusal_names_the_allowed_next_states() -> None:
    with pytest.raises(TransitionRefused, match="allowed next states: PICKING, ON_HOLD, CANCELLED"):
        order_in(S.RECEIVED).move_to(S.DELIVERED, T0)
    with pytest.raises(TransitionRefused, match="allowed next states: none"):
        order_in(S.DELIVERED).cancel(T0)


# --- the item transition table -----------------------------------------------------------------

def test_the_item_flow_is_the_documented_one() -> None:
    assert {state: set(moves) for state, moves in ITEM_FLOW.items()} == {
        I.PENDING: {I.PICKED, I.CANCELLED},
        I.PICKED: {I.IN_TRANSIT, I.CANCELLED},
        I.IN_TRANSIT: {I.DELIVERED},
        I.DELIVERED: set(),
        I.CANCELLED: set(),
    }


def item_in(state: ItemStatus) -> tuple[Order, str]:
    """An order (RECEIVED unless the item state needs it to travel) with one item in `state` and a second one."""
    if state in (I.IN_TRANSIT, I.DELIVERED):
        order = order_in(S.IN_TRANSIT if state is I.IN_TRANSIT else S.DELIVERED, items=2)
    else:
        order = order_in(S.RECEIVED, items=2)
        if state is not I.PENDING:
            order.change_item_status("SKU-0", I.PICKED if state is I.PICKED else I.CANCELLED, T0)
    order.events.clear()
    assert order.item("SKU-0").status is state
    return order, "SKU-0"


# by hand, items are only picked or cancelled; IN_TRANSIT and DELIVERED come with the order
MANUAL_ITEM_MOVES = {I.PENDING: {I.PICKED, I.CANCELLED}, I.PICKED: {I.CANCELLED}}
ITEM_CASES = list(product(I, I))


@pytest.mark.parametrize(("state", "target"), ITEM_CASES, ids=[f"{a}->{b}" for a, b in ITEM_CASES])
def test_every_manual_item_move(state: ItemStatus, target: ItemStatus) -> None:
    order, sku = item_in(state)
    if target in MANUAL_ITEM_MOVES.get(state, set()):
        order.change_item_status(sku, target, T0, reason="checked")
        assert order.item(sku).status is target
        [event] = order.events
        assert isinstance(event, OrderItemStatusChanged)
        assert (event.sku, event.from_status, event.to_status, event.reason) == (sku, state, target, "checked")
    else:
        with pytest.raises(TransitionRefused):
            order.change_item_status(sku, target, T0)
        assert order.item(sku).status is state and order.events == []


def test_items_cannot_change_while_the_order_travels_and_only_be_cancelled_on_hold() -> None:
    order = order_in(S.ON_HOLD, items=2)
    with pytest.raises(TransitionRefused, match="the order is ON_HOLD"):
        order.change_item_status("SKU-0", I.PICKED, T0)
    order.change_item_status("SKU-0", I.CANCELLED, T0)
    assert order.status is S.ON_HOLD


def test_an_unknown_item_is_not_found() -> None:
    with pytest.raises(NotFound):
        order_in(S.RECEIVED, items=1).change_item_status("NOPE", I.PICKED, T0)


# --- orders with items --------------------------------------------------------------------------

def test_an_order_travels_only_once_every_live_item_is_picked_and_its_items_move_with_it() -> None:
    order = order_in(S.PICKING, items=3)
    order.change_item_status("SKU-0", I.PICKED, T0)
    order.change_item_status("SKU-1", I.CANCELLED, T0)
    assert S.IN_TRANSIT not in order.allowed_next()
    with pytest.raises(TransitionRefused, match="not yet: SKU-2"):
        order.move_to(S.IN_TRANSIT, T0)
    order.change_item_status("SKU-2", I.PICKED, T0)
    order.events.clear()
    order.move_to(S.IN_TRANSIT, T0)
    assert [i.status for i in order.items] == [I.IN_TRANSIT, I.CANCELLED, I.IN_TRANSIT]
    assert [type(e) for e in order.events] == [OrderStatusChanged, OrderItemStatusChanged, OrderItemStatusChanged]
    order.move_to(S.DELIVERED, T0)
    assert [i.status for i in order.items] == [I.DELIVERED, I.CANCELLED, I.DELIVERED]


def test_cancelling_an_order_cancels_its_live_items() -> None:
    order = order_in(S.PICKING, items=2)
    order.change_item_status("SKU-0", I.PICKED, T0)
    order.events.clear()
    order.cancel(T0, reason="customer called")
    assert [i.status for i in order.items] == [I.CANCELLED, I.CANCELLED]
    assert isinstance(order.events[0], OrderCancelled) and order.events[0].reason == "customer called"
    assert [(e.sku, e.from_status) for e in order.events[1:]] == [("SKU-0", I.PICKED), ("SKU-1", I.PENDING)]


def test_cancelling_every_item_cancels_the_order() -> None:
    order = order_in(S.RECEIVED, items=2)
    order.change_item_status("SKU-0", I.CANCELLED, T0)
    assert order.status is S.RECEIVED
    order.change_item_status("SKU-1", I.CANCELLED, T0)
    assert order.status is S.CANCELLED
    assert isinstance(order.events[-1], OrderCancelled)
    assert order.events[-1].reason == "every item was cancelled"


def test_the_total_counts_live_items_or_is_the_declared_one_without_items() -> None:
    order = Order.receive(T0, customer_id="C", items=[ItemSpec("A", 2, "45.00", "49.99"),
                                                     ItemSpec("B", 1, 10, "12.50")], total_amount="112.48")
    assert order.total_amount == Decimal("112.48")
    order.change_item_status("B", I.CANCELLED, T0)
    assert order.total_amount == Decimal("99.98")
    assert Order.receive(T0, customer_id="C", total_amount=99.99).total_amount == Decimal("99.99")
    assert Order.receive(T0, customer_id="C").total_amount == Decimal("0.00")


def test_received_event_carries_the_whole_order() -> None:
    order = Order.receive(T0, reference="ORD-1", customer_id="C", items=[ItemSpec("A", 2, "1", "2")])
    [event] = order.events
    assert isinstance(event, OrderReceived)
    assert event.payload()["items"] == [
        {"sku": "A", "quantity": 2, "unit_price": "1.00", "sale_price": "2.00", "status": "PENDING"}]
    assert event.payload()["total_amount"] == "4.00" and event.aggregate_id == str(order.id)


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "field"), [
    ({}, "customer_name"),
    ({"customer_name": "  "}, "customer_name"),
    ({"customer_id": "C", "reference": "4b1e2a52-0000-4000-8000-000000000000"}, "order_id"),
    ({"customer_id": "C", "items": [ItemSpec("A", 0, 1, 1)]}, "items.0.quantity"),
    ({"customer_id": "C", "items": [ItemSpec("A", True, 1, 1)]}, "items.0.quantity"),
    ({"customer_id": "C", "items": [ItemSpec("A", 1, 1, 1), ItemSpec("", 1, 1, 1)]}, "items.1.sku"),
    ({"customer_id": "C", "items": [ItemSpec("A", 1, "-0.01", 1)]}, "items.0.unit_price"),
    ({"customer_id": "C", "items": [ItemSpec("A", 1, 1, "1.001")]}, "items.0.sale_price"),
    ({"customer_id": "C", "items": [ItemSpec("A", 1, 1, "abc")]}, "items.0.sale_price"),
    ({"customer_id": "C", "items": [ItemSpec("A", 1, 1, 1), ItemSpec("A", 2, 1, 1)]}, "items"),
    ({"customer_id": "C", "total_amount": "-1"}, "total_amount"),
    ({"customer_id": "C", "eta": datetime(2026, 3, 10)}, "eta"),
])
def test_invalid_orders_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        Order.receive(T0, **kwargs)
    assert error.value.field == field


# --- use cases and the history handler -----------------------------------------------------------

@pytest.fixture
def orders(uow, clock):
    from types import SimpleNamespace

    return SimpleNamespace(place=PlaceOrder(uow, clock), move=ChangeOrderStatus(uow, clock),
                           move_item=ChangeItemStatus(uow, clock), cancel=CancelOrder(uow, clock),
                           queries=OrderQueries(uow),
                           history=InProcessPublisher(ApplyEvents(REGISTRY.events, [OrderHistoryHandler(clock)], clock),
                                                      uow).publish)


def outbox_envelopes(uow) -> list[EventEnvelope]:
    from application.pagination import PageRequest

    with uow() as tx:
        return [r.envelope for r in tx.outbox.list(OutboxFilter(), PageRequest(limit=500)).items]


def test_a_duplicate_reference_is_refused_and_nothing_is_written(orders, uow, origin: Origin) -> None:
    orders.place(NewOrder(reference="ORD-1", customer_id="C"), origin)
    with pytest.raises(Conflict, match="ORD-1"):
        orders.place(NewOrder(reference="ORD-1", customer_id="D"), origin)
    assert [e.event_type for e in outbox_envelopes(uow)] == ["ORDER_RECEIVED"]


def test_orders_are_found_by_uuid_or_reference_and_moves_are_stamped(orders, uow, origin: Origin) -> None:
    placed = orders.place(NewOrder(reference="ORD-1", customer_name="Ana"), origin)
    assert orders.queries.get("ORD-1").id == orders.queries.get(str(placed.id)).id == placed.id
    orders.move(str(placed.id), "PICKING", "picker assigned", origin)
    with pytest.raises(ValidationError) as unknown:
        orders.move("ORD-1", "SHIPPED", None, origin)
    assert unknown.value.field == "status"
    with pytest.raises(NotFound):
        orders.cancel("ORD-404", None, origin)
    last = outbox_envelopes(uow)[-1]
    assert (last.event_type, last.actor, last.correlation_id) == ("ORDER_STATUS_CHANGED", "alice", "corr-42")
    assert last.payload["reason"] == "picker assigned"


def test_the_history_is_written_once_per_event(orders, uow, origin: Origin) -> None:
    placed = orders.place(NewOrder(customer_name="Ana", items=[ItemSpec("A", 1, 1, 1)]), origin)
    orders.move_item(str(placed.id), "A", "PICKED", None, origin)
    orders.cancel(str(placed.id), "customer called", origin)
    envelopes = outbox_envelopes(uow)
    for envelope in envelopes + envelopes:  # one at a time, each twice
        assert orders.history([envelope]) == [None]
    assert orders.history(envelopes) == [None] * len(envelopes)  # and the whole batch again
    _, history = orders.queries.history(str(placed.id))
    assert [(e.from_status, e.to_status, e.reason) for e in history] == [
        (None, "RECEIVED", None), ("RECEIVED", "CANCELLED", "customer called")]
    _, everything = orders.queries.history(str(placed.id), include_items=True)
    assert [(e.sku, e.to_status) for e in everything] == [
        (None, "RECEIVED"), ("A", "PICKED"), (None, "CANCELLED"), ("A", "CANCELLED")]
    assert {e.actor for e in everything} == {"alice"}


def test_the_order_cancel_rate_is_cancelled_over_every_order_placed_and_null_before_any(orders, uow, clock,
                                                                                         origin: Origin) -> None:
    kpi = KpiQuery(uow, clock)
    assert kpi().order_cancel_rate is None  # no order: no rate (as capa_effectiveness_rate before any check)
    placed = [orders.place(NewOrder(customer_name=f"C{n}", address="Rua 1"), origin) for n in range(4)]
    orders.move(str(placed[1].id), "PICKING", None, origin)  # still in flight: counted in the denominator
    orders.move(str(placed[2].id), "ON_HOLD", None, origin)
    orders.cancel(str(placed[3].id), "customer called", origin)
    figures = kpi()
    assert figures.order_cancel_rate == 0.25
    assert figures.order_cancel_rate == figures.orders_by_status["CANCELLED"] / sum(figures.orders_by_status.values())
    orders.cancel(str(placed[2].id), None, origin)  # from hold
    assert kpi().order_cancel_rate == 0.5
    for order in placed[:2]:
        orders.cancel(str(order.id), None, origin)
    assert kpi().order_cancel_rate == 1.0


def test_the_order_cancel_rate_is_rounded_to_four_decimals(orders, uow, clock, origin: Origin) -> None:
    placed = [orders.place(NewOrder(customer_name=f"C{n}", address="Rua 1"), origin) for n in range(3)]
    orders.cancel(str(placed[0].id), None, origin)
    assert KpiQuery(uow, clock)().order_cancel_rate == 0.3333


# --- orders as their users send them; PUT /orders/{id} ---------------------------------------------

def test_a_total_that_contradicts_the_items_is_refused_naming_total_amount() -> None:
    items = [ItemSpec("ITEM-001", 2, "45.00", "49.99")]
    with pytest.raises(ValidationError) as error:  # the order system's own README example
        Order.receive(T0, reference="ORD-001", customer_id="CUST-001", items=items, total_amount=99.99)
    assert error.value.field == "total_amount" and "99.98" in error.value.message
    assert Order.receive(T0, customer_id="C", items=items, total_amount="99.98").total_amount == Decimal("99.98")
    assert Order.receive(T0, customer_id="C", items=items, total_amount=99.980).total_amount == Decimal("99.98")


def test_a_delivery_order_needs_an_address() -> None:
    with pytest.raises(ValidationError) as error:
        Order.receive(T0, customer_name="Ana")
    assert error.value.field == "address"
    assert Order.receive(T0, customer_name="Ana", address="Rua 1").address == "Rua 1"
    assert Order.receive(T0, customer_name="Ana", customer_id="C").address is None  # not the delivery shape


def test_legacy_statuses_are_read_in_any_case() -> None:
    from domain.orders import item_status_named, order_status_named

    assert order_status_named("pending") is S.RECEIVED and order_status_named("picking") is S.PICKING
    assert item_status_named("picked") is I.PICKED
    with pytest.raises(ValidationError):
        order_status_named("shipped")


def test_an_update_changes_eta_address_and_items_as_one_event() -> None:
    from domain.orders import OrderChanges, OrderUpdated

    order = order_in(S.RECEIVED, items=1)
    order.events.clear()
    later = T0 + timedelta(days=1)
    changed = order.update(OrderChanges(eta=later, address="Rua 2", status="pending", customer_name="Ana",
                                        items=[ItemSpec("X", 3, "1.00", "2.50")], total_amount="7.50"), T0)
    assert changed == ["eta", "address", "items"]
    [event] = order.events
    assert isinstance(event, OrderUpdated) and event.changed == ("eta", "address", "items")
    assert event.payload()["items"][0]["sku"] == "X" and event.payload()["total_amount"] == "7.50"
    assert (order.eta, order.address, order.total_amount, [i.sku for i in order.items]) == (
        later, "Rua 2", Decimal("7.50"), ["X"])
    assert OrderUpdated.rebuild(event.payload(), event.event_id, event.occurred_at).payload() == event.payload()
    assert order.update(OrderChanges(eta=later, address="Rua 2"), T0) == [] and len(order.events) == 1


@pytest.mark.parametrize(("state", "changes", "why"), [
    (S.PICKING, {"items": [ItemSpec("X", 1, "1", "1")]}, "order is PICKING"),
    (S.IN_TRANSIT, {"address": "Rua 9"}, "order is IN_TRANSIT"),
    (S.DELIVERED, {"eta": T0 + timedelta(days=2)}, "order is DELIVERED"),
    (S.CANCELLED, {"address": "Rua 9"}, "order is CANCELLED"),
    (S.RECEIVED, {"customer_name": "Bea"}, "customer_name"),
    (S.RECEIVED, {"status": "PICKING"}, "PUT does not move it"),
])
def test_what_may_no_longer_change_is_refused_saying_why(state, changes, why) -> None:
    from domain.orders import OrderChanges

    order = order_in(state, items=1)
    before = len(order.events)
    from domain.errors import InvalidTransition

    with pytest.raises(InvalidTransition, match=why):  # a 409
        order.update(OrderChanges(**changes), T0)
    assert len(order.events) == before


def test_items_cannot_change_once_one_is_picked_nor_contradict_the_total() -> None:
    from domain.errors import InvalidTransition
    from domain.orders import OrderChanges

    order = order_in(S.RECEIVED, items=2)
    for changes, field in ((OrderChanges(items=[ItemSpec("X", 1, "1", "1")], total_amount="2.00"), "total_amount"),
                           (OrderChanges(address="  "), "address"),
                           (OrderChanges(items=[ItemSpec("X", 0, "1", "1")]), "items.0.quantity")):
        with pytest.raises(ValidationError) as error:
            order.update(changes, T0)
        assert error.value.field == field
    order.change_item_status("SKU-0", I.PICKED, T0)
    with pytest.raises(InvalidTransition, match="already picked: SKU-0"):
        order.update(OrderChanges(items=[ItemSpec("X", 1, "1", "1")]), T0)
    assert order.update(OrderChanges(eta=T0 + timedelta(hours=5)), T0) == ["eta"]


def test_the_update_use_case_writes_one_event_and_the_history_shows_it(orders, uow, origin: Origin) -> None:
    from application.orders import UpdateOrder
    from domain.orders import OrderChanges

    update = UpdateOrder(uow, orders.move.clock)
    placed = orders.place(NewOrder(reference="ORD-9", customer_id="C", items=[ItemSpec("A", 1, 1, 1)]), origin)
    updated = update("ORD-9", OrderChanges(address="Rua 3", items=[ItemSpec("B", 2, 1, "1.50")]), origin)
    assert (updated.address, updated.total_amount) == ("Rua 3", Decimal("3.00"))
    assert orders.queries.get("ORD-9").items[0].sku == "B"
    update("ORD-9", OrderChanges(address="Rua 3"), origin)  # nothing changes: nothing written
    envelopes = outbox_envelopes(uow)
    assert [e.event_type for e in envelopes] == ["ORDER_RECEIVED", "ORDER_UPDATED"]
    assert envelopes[-1].payload["changed"] == ["address", "items"]
    orders.history(envelopes)
    _, history = orders.queries.history(str(placed.id))
    assert [(e.event_type, e.to_status, e.reason) for e in history] == [
        ("ORDER_RECEIVED", "RECEIVED", None), ("ORDER_UPDATED", "RECEIVED", "updated address, items")]
    orders.cancel("ORD-9", None, origin)
    with pytest.raises(Conflict, match="CANCELLED"):
        update("ORD-9", OrderChanges(address="Rua 4"), origin)
