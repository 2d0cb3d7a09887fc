"""The fulfilment process: one step per event, planned as a timer, never waiting in a handler."""

from __future__ import annotations

from application.ports.outbox import OutboxFilter

from datetime import timedelta
from types import SimpleNamespace
from uuid import UUID

import pytest

from adapters.outbound.inprocess import InProcessPublisher
from application.catalog import REGISTRY
from application.dispatch import ApplyEvents
from application.fulfilment import PROCESS_ACTOR, FulfilmentProcess, FulfilmentScheduler
from application.pagination import PageRequest
from application.orders import ChangeOrderStatus, NewOrder, OrderHistoryHandler, OrderQueries, PlaceOrder
from application.registry import HandlerOptions
from application.relay import LocalDelivery, RetryPolicy
from domain.orders import ItemSpec

STEP = 2.0


def build(uow, clock, enabled: bool = True, step: float = STEP) -> SimpleNamespace:
    process = FulfilmentProcess.create(clock, HandlerOptions(fulfilment_auto=enabled, fulfilment_step_seconds=step))
    handlers = [OrderHistoryHandler(clock), *([process] if process else [])]
    relay = LocalDelivery(uow, ApplyEvents(REGISTRY.events, handlers, clock), clock, RetryPolicy(5, 1.0))
    alone = InProcessPublisher(ApplyEvents(REGISTRY.events, [process] if process else [], clock), uow)
    return SimpleNamespace(process=process, deliver=alone.publish, relay=relay,
                           scheduler=FulfilmentScheduler(uow, clock),
                           place=PlaceOrder(uow, clock), move=ChangeOrderStatus(uow, clock),
                           queries=OrderQueries(uow))


@pytest.fixture
def flow(uow, clock) -> SimpleNamespace:
    return build(uow, clock)


def planned(uow) -> list:
    with uow() as tx:
        return tx.fulfilment.due(tx.clock.now().replace(year=2100), 100)


def statuses(flow, key: str) -> list[str]:
    return [e.to_status for e in flow.queries.history(key)[1]]


def test_the_process_delivers_an_order_one_timed_step_per_event(flow, uow, clock, origin) -> None:
    order = flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin)
    key = str(order.id)
    for expected in ("PICKING", "IN_TRANSIT", "DELIVERED"):
        flow.relay.drain()
        [step] = planned(uow)
        assert step.due_at == flow.queries.get(key).updated_at + timedelta(seconds=STEP)
        clock.advance(STEP - 0.5)
        assert flow.scheduler.run_once().advanced == 0  # not due yet: nothing waits, nothing moves
        clock.advance(0.5)
        assert flow.scheduler.run_once().advanced == 1
        assert flow.queries.get(key).status == expected
    flow.relay.drain()
    assert planned(uow) == []
    assert statuses(flow, key) == ["RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED"]
    history = flow.queries.history(key)[1]
    assert [e.actor for e in history] == ["alice"] + [PROCESS_ACTOR] * 3
    assert {e.correlation_id for e in history} == {"corr-42"}  # the process keeps the request's correlation
    assert [e.occurred_at for e in history] == sorted({e.occurred_at for e in history})


def test_a_long_step_only_plans_a_timer(uow, clock, origin) -> None:
    flow = build(uow, clock, step=3600)
    flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin)
    report = flow.relay.drain()
    assert report.published == 1
    [step] = planned(uow)
    assert (step.due_at - clock.now()).total_seconds() == 3600


def test_the_process_picks_the_items_before_the_order_travels(flow, clock, origin) -> None:
    order = flow.place(NewOrder(customer_id="C", items=[ItemSpec("A", 1, 1, 1), ItemSpec("B", 2, 1, 1)]), origin)
    for _ in range(3):
        flow.relay.drain()
        clock.advance(STEP)
        flow.scheduler.run_once()
    flow.relay.drain()
    done = flow.queries.get(str(order.id))
    assert done.status == "DELIVERED" and [i.status for i in done.items] == ["DELIVERED", "DELIVERED"]
    _, changes = flow.queries.history(str(order.id), include_items=True)
    assert [(e.sku, e.to_status) for e in changes if e.sku == "A"] == [
        ("A", "PICKED"), ("A", "IN_TRANSIT"), ("A", "DELIVERED")]


def test_hold_stops_the_process_and_resume_restarts_it(flow, uow, clock, origin) -> None:
    key = str(flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin).id)
    flow.relay.drain()
    flow.move(key, "ON_HOLD", "address check", origin)
    flow.relay.drain()
    assert planned(uow) == []
    clock.advance(60)
    assert flow.scheduler.run_once().due == 0
    flow.move(key, "RECEIVED", None, origin)
    flow.relay.drain()
    clock.advance(STEP)
    assert flow.scheduler.run_once().advanced == 1
    assert flow.queries.get(key).status == "PICKING"


def test_a_cancelled_order_is_dropped_from_the_plan(flow, uow, clock, origin) -> None:
    key = str(flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin).id)
    flow.relay.drain()
    flow.move(key, "CANCELLED", None, origin)
    flow.relay.drain()
    assert planned(uow) == []


def test_a_step_whose_order_moved_on_meanwhile_is_skipped(flow, uow, clock, origin) -> None:
    key = str(flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin).id)
    flow.relay.drain()
    flow.move(key, "PICKING", "by hand", origin)  # not yet relayed: the RECEIVED step is still planned
    clock.advance(STEP)
    report = flow.scheduler.run_once()
    assert (report.due, report.advanced, report.skipped) == (1, 0, 1)
    assert flow.queries.get(key).status == "PICKING"
    flow.relay.drain()  # the manual move's event plans the next step from PICKING
    [step] = planned(uow)
    assert step.expected_status == "PICKING"


def test_the_process_is_idempotent_and_ignores_stale_events(flow, uow, clock, origin, db) -> None:
    key = str(flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin).id)
    with uow() as tx:
        [received] = [r.envelope for r in tx.outbox.list(OutboxFilter(), PageRequest()).items]
    assert flow.deliver([received]) == [None]
    assert len(planned(uow)) == 1
    with uow() as tx:
        tx.fulfilment.drop(UUID(key))
        tx.commit()
    assert flow.deliver([received]) == [None]
    assert planned(uow) == []  # already applied: the plan is not touched again
    assert (FulfilmentProcess.name, received.event_id) in db.state.processed
    flow.move(key, "PICKING", None, origin)
    with uow() as tx:
        tx.fulfilment.drop(UUID(key))
        tx.commit()
    fresh = received.__class__.from_dict({**received.to_dict(), "event_id": "8f14e45f-ceea-467f-a9b6-1c5b2f2a0a01"})
    assert flow.deliver([fresh]) == [None]
    assert (FulfilmentProcess.name, fresh.event_id) in db.state.processed  # applied...
    assert planned(uow) == []  # ...but the order is PICKING: an event saying RECEIVED plans nothing


def test_without_automatic_fulfilment_nothing_is_planned(uow, clock, origin) -> None:
    flow = build(uow, clock, enabled=False)
    assert flow.process is None  # the handler is not built at all
    flow.place(NewOrder(customer_name="Ana", address="Rua 1"), origin)
    assert flow.relay.drain().published == 1
    assert planned(uow) == []
