"""PostgreSQL: relays claiming concurrently never take one event twice and keep each aggregate's order,
in polling mode (LocalDelivery: one transaction per batch, rows held by locks) and broker mode (leases)."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from adapters.outbound.clock import SystemClock
from adapters.outbound.inprocess import InProcessPublisher
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_archive, outbox_events, processed_events
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit import AuditTrailHandler
from application.catalog import REGISTRY
from application.dispatch import ALL_EVENTS, ApplyEvents, EventHandler
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher
from application.relay import LocalDelivery, OutboxRelay, Relay, RetryPolicy

EVENTS = 3000
AGGREGATES = 150
RELAYS = 4


class RecordingPublisher(EventPublisher):
    """Delegates to the real handlers and records the global order in which events went out."""

    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
        self.handled_on_publish = inner.handled_on_publish
        self.lock = threading.Lock()
        self.delivered: list[tuple[str, int]] = []  # (relay thread, sequence within aggregate)
        self.by_aggregate: dict[str, list[int]] = defaultdict(list)

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        outcomes = self.inner.publish(envelopes)
        with self.lock:
            for envelope in envelopes:
                self.delivered.append((threading.current_thread().name, envelope.payload["n"]))
                self.by_aggregate[envelope.aggregate_id].append(envelope.payload["n"])
        return outcomes


class RecordingHandler(EventHandler):
    """Records, per aggregate, the order in which the handlers were handed its events (and by which thread)."""

    name = "recording"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.by_aggregate: dict[str, list[int]] = defaultdict(list)

    def apply(self, uow, delivery) -> None:
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.by_aggregate[delivery.envelope.aggregate_id].append(delivery.envelope.payload["n"])


def _seed(engine: sa.Engine) -> None:
    """A backlog of interleaved aggregates: event i belongs to aggregate i % AGGREGATES, n-th of it."""
    now = datetime.now(UTC)
    rows = [
        {"event_id": uuid.uuid4(), "event_type": "SUPPLIER_CERT_UPDATED", "aggregate_type": "supplier",
         "aggregate_id": str(i % AGGREGATES), "occurred_at": now, "actor": "load", "correlation_id": "c",
         "payload": {"supplier_id": i % AGGREGATES, "previous_expiry": "2026-01-01",
                     "certification_expiry": "2027-01-01", "n": i // AGGREGATES},
         "status": "PENDING", "attempts": 0, "next_attempt_at": now, "created_at": now}
        for i in range(EVENTS)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(outbox_events), rows)


def _run(threads_relays: list[Relay]) -> list[BaseException]:
    start = threading.Barrier(len(threads_relays))
    errors: list[BaseException] = []

    def run(relay: Relay) -> None:
        try:
            start.wait()
            relay.drain()
        except BaseException as error:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(error)

    threads = [threading.Thread(target=run, args=(r,), name=f"relay-{i}") for i, r in enumerate(threads_relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads), "a relay did not finish"
    return errors


def _audit_order(engine: sa.Engine) -> dict[str, list[int]]:
    """Each aggregate's events in the order the audit trail recorded them (its ids are a sequence)."""
    by_aggregate: dict[str, list[int]] = defaultdict(list)
    with engine.connect() as conn:
        for entity_id, n in conn.execute(sa.select(audit_log.c.entity_id, audit_log.c.details["n"].as_integer())
                                         .order_by(audit_log.c.id)):
            by_aggregate[entity_id].append(n)
    return by_aggregate


def _counts(engine: sa.Engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                     for t in (outbox_events, outbox_archive, audit_log, processed_events))


def test_two_local_delivery_relays_on_four_threads_handle_each_event_once_in_aggregate_order(
        postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=RELAYS * 3)
    clock = SystemClock()
    _seed(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    recording = RecordingHandler(clock)
    relays = [LocalDelivery(uow, ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), recording], clock), clock,
                            RetryPolicy(), batch_size=50) for _ in range(2)]

    errors = _run([relays[i % 2] for i in range(RELAYS)])  # each relay instance run by two threads

    counts = _counts(engine)
    audit_order = _audit_order(engine)
    with engine.connect() as conn:
        handled_by = conn.execute(sa.select(outbox_archive.c.handled_by).distinct()).scalars().all()
    engine.dispose()

    assert errors == []
    assert counts == (0, EVENTS, EVENTS, 2 * EVENTS), "(hot outbox, archive, audit rows, processed keys)"
    assert handled_by == ["in-process"]
    assert len(recording.threads) > 1, "only one thread got work: no concurrency tested"
    expected = list(range(EVENTS // AGGREGATES))
    assert len(recording.by_aggregate) == len(audit_order) == AGGREGATES
    for aggregate, sequence in recording.by_aggregate.items():
        assert sequence == expected, f"aggregate {aggregate}: handed {sequence}"  # once each, in order
        assert audit_order[aggregate] == expected, f"aggregate {aggregate}: audited {audit_order[aggregate]}"


def test_concurrent_leasing_relays_handle_each_event_once_in_aggregate_order(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=RELAYS * 3)
    clock = SystemClock()
    _seed(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
    publisher = RecordingPublisher(InProcessPublisher(apply, uow))
    relays = [OutboxRelay(uow, publisher, clock, RetryPolicy(), batch_size=50) for _ in range(RELAYS)]

    errors = _run(relays)

    counts = _counts(engine)
    engine.dispose()

    assert errors == []
    assert counts == (0, EVENTS, EVENTS, EVENTS), "(hot outbox, archive, audit rows, processed keys)"
    assert len(publisher.delivered) == EVENTS, "an event was handed out twice"
    assert len({name for name, _ in publisher.delivered}) > 1, "only one relay got work: no concurrency tested"
    for aggregate, sequence in publisher.by_aggregate.items():
        assert sequence == sorted(sequence), f"aggregate {aggregate} delivered out of order"
