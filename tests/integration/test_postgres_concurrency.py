"""PostgreSQL: relays claiming concurrently never take one event twice and keep each aggregate's order."""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_events
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit import AuditTrailHandler
from application.dispatch import EventDispatcher
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher
from application.relay import OutboxRelay, RetryPolicy
from adapters.outbound.inprocess import InProcessPublisher

EVENTS = 3000
AGGREGATES = 150
RELAYS = 4


class RecordingPublisher(EventPublisher):
    """Delegates to the real handlers and records the global order in which events went out."""

    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
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


def _seed(engine: sa.Engine) -> None:
    now = datetime.now(UTC)
    rows = [
        {"event_id": uuid.uuid4(), "event_type": "SUPPLIER_CERT_UPDATED", "aggregate_type": "supplier",
         "aggregate_id": str(i % AGGREGATES), "occurred_at": now, "actor": "load", "correlation_id": "c",
         "payload": {"n": i // AGGREGATES}, "status": "PENDING", "attempts": 0, "next_attempt_at": now,
         "created_at": now}
        for i in range(EVENTS)
    ]
    with engine.begin() as conn:
        conn.execute(sa.insert(outbox_events), rows)


def test_concurrent_relays_handle_each_event_once_in_aggregate_order(postgres_url: str) -> None:
    engine = create_engine(postgres_url, pool_size=RELAYS * 3)
    clock = SystemClock()
    _seed(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    dispatcher = EventDispatcher([AuditTrailHandler(uow, clock)], ["SUPPLIER_CERT_UPDATED"])
    publisher = RecordingPublisher(InProcessPublisher(dispatcher))
    relays = [OutboxRelay(uow, publisher, clock, RetryPolicy(), batch_size=50) for _ in range(RELAYS)]
    start = threading.Barrier(RELAYS)

    def run(relay: OutboxRelay) -> None:
        start.wait()
        relay.drain()

    threads = [threading.Thread(target=run, args=(r,), name=f"relay-{i}") for i, r in enumerate(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.select(outbox_events.c.status, sa.func.count()).group_by("status")).all())
        audit_rows = conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one()
    engine.dispose()

    assert statuses == {"PUBLISHED": EVENTS}
    assert len(publisher.delivered) == EVENTS, "an event was handed out twice"
    assert audit_rows == EVENTS
    assert len({name for name, _ in publisher.delivered}) > 1, "only one relay got work: no concurrency tested"
    for aggregate, sequence in publisher.by_aggregate.items():
        assert sequence == sorted(sequence), f"aggregate {aggregate} delivered out of order"
