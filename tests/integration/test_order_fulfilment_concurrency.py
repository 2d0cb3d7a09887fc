"""PostgreSQL: many orders fulfilled by several workers at once, while logistics holds some of them.

Every order must end DELIVERED with a history that is complete (one entry per order event of the
outbox) and in order (each entry starts where the previous one ended, along the state machine).
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa

from adapters.outbound.sqlalchemy.tables import order_history, outbox_archive
from application.envelope import Origin
from application.orders import NewOrder
from application.ports.orders import ConcurrentUpdate
from domain.errors import Conflict
from domain.orders import ORDER_FLOW, ItemSpec, OrderStatus
from bootstrap.container import build_container
from bootstrap.settings import Settings

ORDERS = 80
WORKERS = 4
ORIGIN = Origin(actor="logistics", correlation_id="load")


def _legal(previous: str, current: str, held_from: str | None) -> bool:
    if previous == OrderStatus.ON_HOLD:
        return current in (held_from, OrderStatus.CANCELLED)
    return OrderStatus(current) in ORDER_FLOW[OrderStatus(previous)]


def test_concurrent_workers_deliver_every_order_with_a_complete_ordered_history(postgres_url: str) -> None:
    settings = Settings(_env_file=None, database_url=postgres_url, fulfilment_auto=True, fulfilment_step_seconds=0,
                        outbox_batch_size=20, database_pool_size=WORKERS * 3)
    container = build_container(settings)
    place = container.place_order()
    orders = [
        place(NewOrder(reference=f"ORD-{n}", customer_id=f"C-{n % 7}",
                       items=[ItemSpec(f"SKU-{k}", k + 1, "1.00", "2.50") for k in range(n % 3)]), ORIGIN)
        for n in range(ORDERS)
    ]
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        relay, scheduler = container.relay(), container.fulfilment_scheduler()
        try:
            while not stop.is_set():
                relay.run_once()
                scheduler.run_once()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    held: set[str] = set()

    def interfere() -> None:
        """Logistics puts every fourth order on hold for a moment, racing the workers."""
        move = container.change_order_status()
        for order in orders[::4]:
            time.sleep(random.uniform(0, 0.3))  # spread over the run: holds meet orders in every state
            try:
                before = move(order.reference, "ON_HOLD", "spot check", ORIGIN)
            except Conflict:
                continue  # already in transit, or the process moved it at that very moment
            held.add(before.reference)
            time.sleep(random.uniform(0, 0.01))
            while True:
                try:
                    move(order.reference, before.held_from.value, "spot check done", ORIGIN)
                    break
                except Conflict:
                    time.sleep(0.01)

    threads = [threading.Thread(target=work, name=f"worker-{i}") for i in range(WORKERS)]
    threads.append(threading.Thread(target=interfere, name="logistics"))
    for thread in threads:
        thread.start()
    queries = container.order_queries()
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if all(queries.get(o.reference).status is OrderStatus.DELIVERED for o in orders) \
                    and container.kpi()().outbox_pending == 0:
                break
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    assert container.kpi()().orders_by_status["DELIVERED"] == ORDERS
    assert held, "the race never held an order: the test did not test it"

    engine = container.engine()
    with engine.connect() as conn:
        events = conn.execute(sa.select(outbox_archive.c.aggregate_id, sa.func.count())
                              .where(outbox_archive.c.aggregate_type == "order",
                                     outbox_archive.c.event_type != "ORDER_ITEM_STATUS_CHANGED")
                              .group_by(outbox_archive.c.aggregate_id)).all()
        recorded = conn.execute(sa.select(sa.func.count()).select_from(order_history)).scalar_one()
        total_events = conn.execute(sa.select(sa.func.count()).select_from(outbox_archive)
                                    .where(outbox_archive.c.aggregate_type == "order")).scalar_one()
    assert recorded == total_events  # item changes included: one history entry per order event (all handled)
    per_order = dict(events)
    for order in orders:
        _, history = queries.history(order.reference)
        assert len(history) == per_order[str(order.id)], order.reference
        steps = [(e.from_status, e.to_status) for e in history]
        assert steps[0] == (None, "RECEIVED") and steps[-1][1] == "DELIVERED"
        held_from = None
        for (_, previous), (origin, current) in zip(steps, steps[1:]):
            assert origin == previous and _legal(previous, current, held_from), (order.reference, steps)
            held_from = previous if current == OrderStatus.ON_HOLD else held_from
        times = [e.occurred_at for e in history]
        assert times == sorted(times)
        assert (order.reference in held) == any(to == "ON_HOLD" for _, to in steps)
    engine.dispose()


def test_two_transactions_moving_the_same_order_cannot_both_win(postgres_url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=postgres_url))
    order = container.place_order()(NewOrder(reference="ORD-RACE", customer_name="Ana"), ORIGIN)
    first, second = container.uow(), container.uow()
    with first, second:
        mine, theirs = first.orders.find("ORD-RACE"), second.orders.find("ORD-RACE")
        theirs.move_to(OrderStatus.PICKING, theirs.updated_at)
        second.commit()
        mine.move_to(OrderStatus.ON_HOLD, mine.updated_at)
        with pytest.raises(ConcurrentUpdate):
            first.commit()
    assert container.order_queries().get(str(order.id)).status is OrderStatus.PICKING
    container.engine().dispose()
