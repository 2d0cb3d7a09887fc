"""Outbox relay throughput: events/s through claim → publish → mark, on SQLite and PostgreSQL.

    .venv/bin/python bench/outbox_throughput.py [--events 20000] [--postgres URL]

Prints, per database: the rate with a no-op publisher (the outbox mechanics alone) and with the
real in-process audit handler (polling mode end to end), plus the dead tuples left on PostgreSQL.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.outbound.clock import SystemClock  # noqa: E402
from adapters.outbound.sqlalchemy import migrate  # noqa: E402
from adapters.outbound.sqlalchemy.engine import create_engine  # noqa: E402
from adapters.outbound.sqlalchemy.tables import metadata, outbox_events  # noqa: E402
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork  # noqa: E402
from application.audit import AuditTrailHandler  # noqa: E402
from application.catalog import REGISTRY  # noqa: E402
from application.dispatch import ApplyEvents  # noqa: E402
from application.envelope import EventEnvelope  # noqa: E402
from application.ports.publisher import EventPublisher  # noqa: E402
from application.relay import LocalDelivery, OutboxRelay, Relay, RetryPolicy  # noqa: E402
from tests.support.databases import ScratchPostgres  # noqa: E402


class NoOpPublisher(EventPublisher):
    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        return [None] * len(envelopes)


def seed(engine: sa.Engine, count: int) -> None:
    now = datetime.now(UTC)
    rows = [{"event_id": uuid.uuid4(), "event_type": "SUPPLIER_CERT_UPDATED", "aggregate_type": "supplier",
             "aggregate_id": str(i % 500), "occurred_at": now, "actor": "bench", "correlation_id": "bench",
             "payload": {"supplier_id": i % 500, "previous_expiry": "2026-01-01", "certification_expiry": "2027-01-01",
                         "n": i}, "status": "PENDING", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for i in range(count)]
    with engine.begin() as conn:
        for start in range(0, count, 1000):
            conn.execute(sa.insert(outbox_events), rows[start:start + 1000])
    if engine.dialect.name == "postgresql":
        # statistics of a table that was empty make the planner scan the outbox once per candidate
        # row: 81 instead of ~4000 events/s here, until autovacuum analyses it (up to a minute)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE outbox_events")


def reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text(f"TRUNCATE {table.name} RESTART IDENTITY CASCADE"))
            elif table.name != "audit_log":
                conn.execute(table.delete())
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
            conn.execute(sa.text("DELETE FROM audit_log"))


def measure(engine: sa.Engine, count: int, handlers: bool, repeats: int = 3) -> float:
    clock = SystemClock()
    rates = []
    for _ in range(repeats):
        reset(engine)
        seed(engine, count)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, clock)

        relay: Relay = OutboxRelay(uow, NoOpPublisher(), clock, RetryPolicy(), batch_size=100)
        if handlers:  # polling mode: the relay applies each batch to the handlers in its claim transaction
            apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
            relay = LocalDelivery(uow, apply, clock, RetryPolicy(), batch_size=100)
        started = time.perf_counter()
        report = relay.drain(max_batches=10 * count)
        elapsed = time.perf_counter() - started
        assert report.published == count, report
        rates.append(count / elapsed)
    return statistics.median(rates)


def dead_tuples(engine: sa.Engine) -> int | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'outbox_events'")).scalar()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--handled-events", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        targets = [("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", None)]
        postgres = ScratchPostgres()
        targets.append(("postgresql", postgres.owner_url, postgres))
        try:
            for name, url, _ in targets:
                engine = create_engine(url)
                migrate.upgrade(engine)
                mechanics = measure(engine, args.events, handlers=False)
                handled = measure(engine, args.handled_events, handlers=True)
                print(f"{name:10s} outbox mechanics {mechanics:8.0f} events/s ({args.events} events, median of 3)  "
                      f"with audit handler {handled:6.0f} events/s ({args.handled_events} events)  "
                      f"dead tuples after: {dead_tuples(engine)}")
                engine.dispose()
        finally:
            postgres.drop()


if __name__ == "__main__":
    main()
