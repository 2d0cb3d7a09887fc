"""End-to-end delivery accounting: published is not handled; the reconciler re-drives what a broker lost;
the relay renews the lease of the batch it holds."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta

from application.consumption import DeliverReceivedEvent
from application.delivery import RetryPolicy
from application.dispatch import EventDispatcher
from application.envelope import EventEnvelope
from application.kpi import KpiQuery
from application.ports.outbox import OutboxStatus
from application.ports.publisher import EventPublisher
from application.reconciliation import ReconcileDeliveries
from application.relay import LeaseKeeper, OutboxRelay
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
    audit = AuditTrailHandler(uow, clock)
    deliver = DeliverReceivedEvent(EventDispatcher([audit], ["SUPPLIER_CREATED"]), uow, clock, RetryPolicy(),
                                   group="handlers")

    def consume() -> None:
        records, broker.log[:] = list(broker.log), []
        for envelope in records:
            assert deliver(envelope) is None
        deliver.confirm([e.event_id for e in records])

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
    handler = AuditTrailHandler(uow, clock)
    assert handler(broker.log[0]) is True  # handled, never confirmed
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
        def extend_lease(self, ids, until):
            calls.append(time.monotonic())

    class FakeUow:
        outbox = CountingOutbox()

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return None

        def commit(self):
            return None

    with LeaseKeeper(lambda: FakeUow(), clock, timedelta(seconds=0.15), ["e"]):
        time.sleep(0.4)
    renewed = len(calls)
    time.sleep(0.2)
    assert renewed >= 2 and len(calls) == renewed
