"""End-to-end delivery accounting: published is not handled; the reconciler re-drives what a broker lost;
the relay renews the lease of the batch it holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from adapters.outbound.inprocess import InProcessPublisher
from application.catalog import REGISTRY
from application.consumption import HELD_BACK_NOTE, DeliverReceivedEvents
from application.delivery import RetryPolicy
from application.dispatch import ALL_EVENTS, ApplyEvents, EventHandler
from application.envelope import EventEnvelope
from application.kpi import KpiQuery
from application.ports.outbox import Claim, OutboxStatus
from application.ports.publisher import EventPublisher
from application.reconciliation import ReconcileDeliveries
from application.relay import LeaseKeeper, OutboxRelay
from application.ports.unit_of_work import StoreUnavailable
from application.audit import AuditTrailHandler

FUTURE = date(2027, 6, 30)
WINDOW = 300.0


class LossyBroker(EventPublisher):
    """Acknowledges every record and keeps it, like a broker; `lose()` drops what nobody consumed."""

    def __init__(self) -> None:
        self.log: list[EventEnvelope] = []

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        self.log.extend(envelopes)
        return [None] * len(envelopes)

    def lose(self) -> None:
        self.log.clear()


def broker_mode(uow, clock):
    broker = LossyBroker()
    relay = OutboxRelay(uow, broker, clock, RetryPolicy())
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
    deliver = DeliverReceivedEvents(apply, uow, clock, RetryPolicy(), group="handlers")

    def consume() -> None:
        records, broker.log[:] = list(broker.log), []
        assert deliver(records) == [None] * len(records)

    return broker, relay, consume


def test_a_published_event_is_unhandled_until_its_consumer_group_confirms_it(app, uow, clock, origin, outbox):
    broker, relay, consume = broker_mode(uow, clock)
    app.create_supplier("Acme", FUTURE, origin)
    relay.run_once()
    [record] = outbox()
    assert (record.status, record.handled_at) == (OutboxStatus.PUBLISHED, None)
    consume()
    [record] = outbox()
    assert (record.handled_at, record.handled_by) == (clock.now(), "handlers")


def test_in_process_delivery_is_handled_when_published(app, uow, clock, origin, outbox):
    class InProcess(LossyBroker):
        handled_on_publish = "in-process"

    OutboxRelay(uow, InProcess(), clock, RetryPolicy()).run_once()
    app.create_supplier("Acme", FUTURE, origin)
    OutboxRelay(uow, InProcess(), clock, RetryPolicy()).run_once()
    [record] = outbox()
    assert (record.status, record.handled_by) == (OutboxStatus.PUBLISHED, "in-process")
    assert record.handled_at == clock.now()


def test_events_a_broker_lost_are_reported_then_re_driven_and_handled_once(app, uow, clock, origin, outbox):
    broker, relay, consume = broker_mode(uow, clock)
    reconcile = ReconcileDeliveries(uow, clock, WINDOW)
    kpi = KpiQuery(uow, clock, unhandled_after_seconds=WINDOW)
    for i in range(3):
        app.create_supplier(f"Supplier {i}", FUTURE, origin)
    relay.run_once()
    broker.lose()  # acknowledged, never consumed

    clock.advance(WINDOW - 1)
    assert reconcile() == 0 and kpi().events_unhandled == 0  # not overdue yet
    clock.advance(2)
    assert kpi().events_unhandled == 3
    assert reconcile() == 3
    assert all(r.status is OutboxStatus.PENDING and r.attempts == 0 and "re-driven" in r.last_error
               for r in outbox())
    assert relay.run_once().published == 3
    consume()
    assert kpi().events_unhandled == 0 and reconcile() == 0
    assert [r.handled_by for r in outbox()] == ["handlers"] * 3
    assert kpi().audit_events_total == 3


def test_a_re_driven_event_already_handled_changes_nothing(app, uow, clock, origin, outbox):
    """The consumer handled the event but died before confirming it: the second delivery is a no-op."""
    broker, relay, consume = broker_mode(uow, clock)
    app.create_supplier("Acme", FUTURE, origin)
    relay.run_once()
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
    assert InProcessPublisher(apply, uow).publish(broker.log[:1]) == [None]  # handled, never confirmed
    clock.advance(WINDOW + 1)
    assert ReconcileDeliveries(uow, clock, WINDOW)() == 1
    relay.run_once()
    consume()
    assert KpiQuery(uow, clock)().audit_events_total == 1
    assert outbox()[0].handled_by == "handlers"


class SlowPublisher(LossyBroker):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        time.sleep(self.seconds)
        return super().publish(envelopes)


def test_a_batch_slower_than_its_lease_is_not_taken_by_another_relay(app, uow, clock, origin):
    """With the real clock: a 0.3 s lease renewed every 0.1 s while the relay works for 1 s."""
    from adapters.outbound.clock import SystemClock

    real = SystemClock()
    for i in range(5):
        app.create_supplier(f"Supplier {i}", FUTURE, origin)
    clock.advance(-3600)  # the events are due for the real clock too
    slow = OutboxRelay(uow, SlowPublisher(1.0), real, RetryPolicy(), lease_seconds=0.3)
    fast = OutboxRelay(uow, LossyBroker(), real, RetryPolicy(), lease_seconds=0.3)
    worker = threading.Thread(target=slow.run_once)
    worker.start()
    time.sleep(0.6)  # twice the lease: without renewal the batch would be free again
    assert fast.run_once().claimed == 0
    worker.join()
    assert slow.publisher.log and len(slow.publisher.log) == 5


def test_the_lease_keeper_stops_renewing_once_the_batch_is_settled(uow, clock):
    calls: list[float] = []

    class CountingOutbox:
        def extend_lease(self, ids, token, until):
            calls.append(time.monotonic())

    class FakeUow:
        outbox = CountingOutbox()

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return None

        def commit(self):
            return None

    with LeaseKeeper(lambda: FakeUow(), clock, timedelta(seconds=0.15), Claim([], "token")):
        time.sleep(0.4)
    renewed = len(calls)
    time.sleep(0.2)
    assert renewed >= 2 and len(calls) == renewed


# --- the consumer's batch: DeliverReceivedEvents ---------------------------------------------------


class Switchable(EventHandler):
    """Records what it applied; fails on the aggregates listed in `failing`."""

    name = "switchable"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.failing: set[str] = set()
        self.seen: list[tuple[str, str]] = []

    def apply(self, uow, delivery) -> None:
        if delivery.envelope.aggregate_id in self.failing:
            raise RuntimeError("downstream down")
        self.seen.append((delivery.envelope.event_type, delivery.envelope.aggregate_id))


@pytest.fixture
def consumer(uow, clock):
    broker = LossyBroker()
    handler = Switchable(clock)
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), handler], clock)
    deliver = DeliverReceivedEvents(apply, uow, clock, RetryPolicy(max_attempts=2, backoff_seconds=10),
                                    group="handlers")
    relay = OutboxRelay(uow, broker, clock, RetryPolicy(max_attempts=2, backoff_seconds=10))

    def publish() -> list[EventEnvelope]:
        relay.run_once()
        records, broker.log[:] = list(broker.log), []
        return records

    return SimpleNamespace(deliver=deliver, handler=handler, publish=publish, relay=relay)


def by_id(outbox) -> dict:
    return {r.envelope.event_id: r for r in outbox()}


def test_a_received_batch_is_handled_and_archived_for_its_consumer_group(app, origin, consumer, uow, outbox, clock,
                                                                        db):
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", FUTURE, origin)
    received = consumer.publish()
    clock.advance(1)

    assert consumer.deliver(received) == [None, None]

    assert [(r.status, r.handled_by, r.handled_at, r.attempts) for r in outbox()] == [
        (OutboxStatus.PUBLISHED, "handlers", clock.now(), 0)] * 2
    with uow() as tx:
        assert tx.outbox.unhandled(clock.now() + timedelta(days=1), 10) == []  # nothing left to re-drive
        assert tx.outbox.claim(10, clock.now() + timedelta(days=1)).records == []
    assert consumer.handler.seen == [("SUPPLIER_CREATED", "1"), ("SUPPLIER_CREATED", "2")]
    assert len(db.state.audit) == 2


def test_a_failure_counts_an_attempt_on_the_events_row_and_is_returned(app, origin, consumer, outbox, clock, db):
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", FUTURE, origin)
    consumer.handler.failing = {"1"}
    received = consumer.publish()

    outcomes = consumer.deliver(received)

    assert outcomes == [(OutboxStatus.PENDING, "HandlerFailures: switchable: RuntimeError: downstream down"), None]
    failed, handled = outbox()
    assert (failed.status, failed.attempts, failed.handled_at) == (OutboxStatus.PENDING, 1, None)
    assert failed.last_error == "HandlerFailures: switchable: RuntimeError: downstream down"
    assert failed.next_attempt_at == clock.now() + timedelta(seconds=10)
    assert handled.handled_by == "handlers"
    assert {e.entity_id for e in db.state.audit} == {"1", "2"}  # the audit handler kept its part

    consumer.handler.failing = set()
    clock.advance(10)
    assert consumer.deliver(consumer.publish()) == [None]  # the relay published it again
    assert by_id(outbox)[failed.envelope.event_id].handled_by == "handlers"
    assert len(db.state.audit) == 2


def test_the_last_failed_attempt_dead_letters_the_event(app, origin, consumer, outbox, clock):
    app.create_supplier("A", FUTURE, origin)
    consumer.handler.failing = {"1"}
    consumer.deliver(consumer.publish())
    clock.advance(10)

    [(status, error)] = consumer.deliver(consumer.publish())

    assert status is OutboxStatus.FAILED and "downstream down" in error
    [record] = outbox()
    assert (record.status, record.attempts) == (OutboxStatus.FAILED, 2)
    # received once more (a duplicate in the topic): dead-lettered again, the row is left as it is
    assert consumer.deliver([record.envelope])[0][0] is OutboxStatus.FAILED
    assert outbox()[0].attempts == 2


def test_later_events_of_a_failed_aggregate_in_the_batch_are_made_pending_again_without_an_attempt(
        app, origin, consumer, outbox, clock):
    app.create_supplier("A", FUTURE, origin)
    app.update_certification(1, date(2028, 1, 1), origin)
    consumer.handler.failing = {"1"}
    received = consumer.publish()

    outcomes = consumer.deliver(received)

    assert outcomes[0][0] is OutboxStatus.PENDING and outcomes[1] is None
    created, updated = outbox()
    assert (created.status, created.attempts) == (OutboxStatus.PENDING, 1)
    assert (updated.status, updated.attempts, updated.last_error) == (OutboxStatus.PENDING, 0, HELD_BACK_NOTE)
    consumer.handler.failing = set()
    clock.advance(10)
    assert consumer.deliver(consumer.publish()) == [None, None]  # the relay delivers both, in order
    assert consumer.handler.seen == [("SUPPLIER_CREATED", "1"), ("SUPPLIER_CERT_UPDATED", "1")]


def test_an_event_received_before_its_aggregates_earlier_pending_event_is_held_back(app, origin, consumer, outbox,
                                                                                  clock, db):
    app.create_supplier("A", FUTURE, origin)
    app.update_certification(1, date(2028, 1, 1), origin)
    created, updated = consumer.publish()
    consumer.handler.failing = {"1"}
    consumer.deliver([created])  # a first poll: fails, PENDING again for a retry
    consumer.handler.failing = set()

    assert consumer.deliver([updated]) == [None]  # the next poll: must not overtake it

    assert consumer.handler.seen == []
    assert all(key[1] != updated.event_id for key in db.state.processed)
    record = by_id(outbox)[updated.event_id]
    assert (record.status, record.attempts, record.last_error, record.handled_at) == (
        OutboxStatus.PENDING, 0, HELD_BACK_NOTE, None)
    clock.advance(10)
    assert consumer.deliver(consumer.publish()) == [None, None]
    assert consumer.handler.seen == [("SUPPLIER_CREATED", "1"), ("SUPPLIER_CERT_UPDATED", "1")]
    assert {r.handled_by for r in outbox()} == {"handlers"}


def test_a_store_outage_while_consuming_records_nothing(app, origin, uow, clock, outbox, db):
    class StoreAway(EventHandler):
        name = "store_away"
        subscribes_to = frozenset({ALL_EVENTS})

        def apply(self, uow, delivery) -> None:
            raise StoreUnavailable("database unavailable")

    broker = LossyBroker()
    app.create_supplier("A", FUTURE, origin)
    OutboxRelay(uow, broker, clock, RetryPolicy()).run_once()
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), StoreAway(clock)], clock)
    deliver = DeliverReceivedEvents(apply, uow, clock, RetryPolicy(), group="handlers")

    with pytest.raises(StoreUnavailable):
        deliver(broker.log)

    [record] = outbox()
    assert (record.status, record.attempts, record.handled_at) == (OutboxStatus.PUBLISHED, 0, None)
    assert db.state.audit == [] and db.state.processed == {}


def test_an_event_the_reconciler_re_drove_before_it_was_consumed_counts_once(uow, clock, origin):
    """The consumer lags behind the window: the topic holds the event twice, one poll reads both copies."""
    from application.inventories import AddInventoryLine, CreateInventory, InventoryProjectionHandler

    broker = LossyBroker()
    relay = OutboxRelay(uow, broker, clock, RetryPolicy())
    apply = ApplyEvents(REGISTRY.events, [InventoryProjectionHandler(clock)], clock)
    deliver = DeliverReceivedEvents(apply, uow, clock, RetryPolicy(), group="handlers")
    CreateInventory(uow, clock)("ACME", FUTURE, origin)
    AddInventoryLine(uow, clock)(1, "bolts", 5, origin)
    relay.run_once()
    clock.advance(WINDOW + 1)
    assert ReconcileDeliveries(uow, clock, WINDOW)() == 2
    relay.run_once()
    assert len(broker.log) == 4

    assert deliver(broker.log) == [None] * 4

    with uow() as tx:
        [summary] = tx.inventory_summary.all()
    assert (summary.total_items, summary.line_count) == (5, 1)
