"""The retention purge on SQLite and PostgreSQL (as the runtime role): what was handled before the cutoff
goes, with the keys of its event; the hot outbox and the audit log stay; one purge at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy.counters import SqlCounters, recount, reset
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.retention import SqlRetentionStore
from application.audit_chain import GENESIS
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_archive, outbox_events, processed_events
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.retention import OUTBOX_PURGED, PurgeHandledEvents
from tests.support.outbox_rows import archived, hot, keys

NOW = datetime.now(UTC)
OLD, YOUNG = NOW - timedelta(days=10), NOW - timedelta(days=2)  # older, younger than a 7-day retention
WEEK = timedelta(days=7)
SEEDED = ("outbox_archive", "processed_events")  # the tables these tests fill (a rule added later keeps them)


def seeded(counts: dict[str, int]) -> dict[str, int]:
    return {table: counts[table] for table in SEEDED}


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    engine = create_engine(request.getfixturevalue(request.param))
    yield engine
    engine.dispose()


@pytest.fixture
def history(engine: sa.Engine) -> dict[str, uuid.UUID]:
    with engine.begin() as conn:
        ids = {"old": archived(conn, 1, OLD), "older": archived(conn, 2, OLD - timedelta(hours=1)),
               "young": archived(conn, 3, YOUNG), "pending": hot(conn, "PENDING", OLD),
               "failed": hot(conn, "FAILED", OLD), "orphan": uuid.uuid4()}
        # old keys all; those of the young archived event and of the FAILED one stay with their event
        keys(conn, OLD, ids["old"], ids["older"], ids["young"], ids["failed"], ids["orphan"])
        conn.execute(sa.insert(audit_log).values(
            event_id=ids["old"], action="SUPPLIER_CREATED", entity_type="supplier", entity_id="1", actor="alice",
            correlation_id="c", occurred_at=OLD, recorded_at=OLD, details={}, prev_hash=GENESIS, hash=GENESIS))
        reset(conn)  # the counters of the rows above
    return ids


def purge(engine: sa.Engine, **options: object) -> PurgeHandledEvents:
    return PurgeHandledEvents(lambda: SqlUnitOfWork(engine, SystemClock()), SystemClock(), WEEK, **options)


def test_what_was_handled_before_the_cutoff_goes_in_batches_and_nothing_else(
        engine: sa.Engine, history: dict[str, uuid.UUID]) -> None:
    seen: list = []

    report = purge(engine, batch_size=2)(progress=seen.append)

    assert [seeded(batch) for batch in seen] == [{"outbox_archive": 2, "processed_events": 2},
                                                 {"outbox_archive": 0, "processed_events": 1}]
    assert seeded(report.removed) == {"outbox_archive": 2, "processed_events": 3} and report.batches == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(outbox_archive.c.event_id)).scalars().all() == [history["young"]]
        assert set(conn.execute(sa.select(outbox_events.c.event_id, outbox_events.c.status)).all()) == {
            (history["pending"], "PENDING"), (history["failed"], "FAILED")}
        assert set(conn.execute(sa.select(processed_events.c.event_id)).scalars()) == {history["young"],
                                                                                       history["failed"]}
        audit = conn.execute(sa.select(audit_log.c.action, audit_log.c.details).order_by(audit_log.c.id)).all()
        values = {name: n for name, n in SqlCounters(conn).read().items() if n}
        assert values == recount(conn)  # outbox:PUBLISHED counts the archive rows left
    assert [action for action, _ in audit] == ["SUPPLIER_CREATED", OUTBOX_PURGED]
    assert seeded(audit[1].details["removed"]) == {"outbox_archive": 2, "processed_events": 3}


def test_a_dry_run_counts_the_same_and_removes_nothing(engine: sa.Engine, history: dict[str, uuid.UUID]) -> None:
    report = purge(engine)(dry_run=True)

    assert seeded(report.removed) == {"outbox_archive": 2, "processed_events": 3}
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox_archive)).scalar_one() == 3
        assert conn.execute(sa.select(sa.func.count()).select_from(processed_events)).scalar_one() == 5
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one() == 1


@pytest.mark.postgres
def test_two_purges_at_once_on_postgresql_one_skips(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        archived(conn, 1, OLD)
    try:
        with engine.connect() as other, other.begin():  # another process's purge, in its transaction
            assert SqlRetentionStore(other, SqlCounters(other)).try_lock()
            skipped = purge(engine)()
        done = purge(engine)()  # the lock went with that transaction
    finally:
        engine.dispose()
    assert skipped.skipped and skipped.total == 0
    assert not done.skipped and done.removed["outbox_archive"] == 1


@pytest.mark.parametrize("url", ["sqlite_url", "postgres_owner_url"])
def test_triggers_refuse_updates_and_deleting_rows_younger_than_a_day_even_to_the_owner(
        url: str, request: pytest.FixtureRequest) -> None:
    engine = create_engine(request.getfixturevalue(url))
    a, p = outbox_archive.c, processed_events.c
    with engine.begin() as conn:
        young = archived(conn, 1, NOW - timedelta(hours=23))
        old = archived(conn, 2, NOW - timedelta(hours=25))
        keys(conn, NOW - timedelta(hours=23), young)
        keys(conn, NOW - timedelta(hours=25), old)
    refused = [sa.delete(outbox_archive).where(a.event_id == young),
               sa.delete(processed_events).where(p.event_id == young),
               sa.update(outbox_archive).where(a.event_id == old).values(actor="mallory"),
               sa.update(processed_events).where(p.event_id == old).values(handler="other")]
    for statement in refused:
        with pytest.raises(sa.exc.DatabaseError, match="retention floor"), engine.begin() as conn:
            conn.execute(statement)
    with engine.begin() as conn:
        assert conn.execute(sa.delete(outbox_archive).where(a.event_id == old)).rowcount == 1
        assert conn.execute(sa.delete(processed_events).where(p.event_id == old)).rowcount == 1
    engine.dispose()
