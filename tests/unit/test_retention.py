"""The retention purge on the memory store: only what was handled before the cutoff goes, in batches,
with one audit record per purge; the hot outbox, the audit log and the keys of kept events stay."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapters.inbound.worker import retention_loop
from adapters.outbound.memory import retention
from adapters.outbound.memory.retention import MemoryRetentionStore
from application.audit import AuditTrailHandler
from application.catalog import REGISTRY
from application.dispatch import ALL_EVENTS, ApplyEvents, EventHandler
from application.ports.outbox import OutboxStatus
from application.relay import LocalDelivery, RetryPolicy
from application.retention import OUTBOX_PURGED, SYSTEM_ACTOR, PurgeHandledEvents

FUTURE = date(2027, 6, 30)
WEEK = timedelta(days=7)
SEEDED = ("outbox_archive", "processed_events")  # the tables these tests fill (a rule added later keeps them)


def seeded(counts: dict[str, int]) -> dict[str, int]:
    return {table: counts[table] for table in SEEDED}


class FailsOn(EventHandler):
    name = "fails_on"
    subscribes_to = frozenset({ALL_EVENTS})
    aggregate_id = "none"

    def apply(self, uow, delivery) -> None:
        if delivery.envelope.aggregate_id == self.aggregate_id:
            raise RuntimeError("bad event")


@pytest.fixture
def history(app, origin, uow, clock, db):
    """Supplier events handled 10 days ago (1–3; 3's delivery FAILED), 3 days ago (4–5), and one PENDING (6)."""
    failing = FailsOn(clock)
    relay = LocalDelivery(uow, ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), failing], clock), clock,
                          RetryPolicy(max_attempts=1, backoff_seconds=1))
    failing.aggregate_id = "3"
    for name in "ABC":
        app.create_supplier(name, FUTURE, origin)
    relay.drain()
    clock.advance(timedelta(days=7).total_seconds())
    for name in "DE":
        app.create_supplier(name, FUTURE, origin)
    relay.drain()
    clock.advance(timedelta(days=3).total_seconds())
    app.create_supplier("F", FUTURE, origin)
    return db


def statuses(db) -> dict[str, OutboxStatus]:
    return {row.record.envelope.aggregate_id: row.record.status for row in db.state.outbox.values()}


def purges(db) -> list:
    return [entry for entry in db.state.audit if entry.event_type == OUTBOX_PURGED]


def test_only_what_was_handled_before_the_cutoff_goes_and_the_keys_with_their_event(history, uow, clock) -> None:
    db = history
    audit_before = list(db.state.audit)
    failed = next(row.record.envelope.event_id for row in db.state.outbox.values()
                  if row.record.status is OutboxStatus.FAILED)

    report = PurgeHandledEvents(uow, clock, WEEK)()

    assert seeded(report.removed) == {"outbox_archive": 2, "processed_events": 4}  # suppliers 1, 2: 2 keys each
    assert report.cutoff == clock.now() - WEEK and not report.skipped and not report.dry_run
    assert statuses(db) == {"3": OutboxStatus.FAILED, "4": OutboxStatus.PUBLISHED, "5": OutboxStatus.PUBLISHED,
                            "6": OutboxStatus.PENDING}
    # the FAILED event keeps the key its audit handler recorded 10 days ago: a replay applies it once
    assert ("audit_trail", failed) in db.state.processed
    assert len([key for key in db.state.processed if key[1] != failed]) == 4  # suppliers 4, 5
    assert db.state.audit[:len(audit_before)] == audit_before  # the audit log only grew
    with uow() as tx:
        counts = {status: n for status, n in tx.outbox.count_by_status().items() if n}
    assert counts == {OutboxStatus.PENDING: 1, OutboxStatus.PUBLISHED: 2, OutboxStatus.FAILED: 1}


def test_a_dry_run_counts_what_would_go_and_removes_nothing(history, uow, clock) -> None:
    before = (dict(history.state.outbox), dict(history.state.processed), list(history.state.audit))

    report = PurgeHandledEvents(uow, clock, WEEK)(dry_run=True)

    assert report.dry_run and seeded(report.removed) == {"outbox_archive": 2, "processed_events": 4}
    assert str(report).startswith("would remove outbox_archive 2, processed_events 4")
    assert f"(older than {report.cutoff.isoformat(timespec='seconds')})" in str(report)
    assert (dict(history.state.outbox), dict(history.state.processed), list(history.state.audit)) == before


def test_a_purge_goes_in_batches_and_leaves_one_audit_record(history, uow, clock, monkeypatch) -> None:
    monkeypatch.setattr(retention, "RULES", [rule for rule in retention.RULES if rule.table in SEEDED])
    seen = []

    report = PurgeHandledEvents(uow, clock, timedelta(days=2), batch_size=2)(progress=seen.append, actor="cli:ops")

    assert seen == [{"outbox_archive": 2, "processed_events": 2}] * 2 + [
        {"outbox_archive": 0, "processed_events": 2}] * 2  # suppliers 1, 2, 4, 5 and their keys
    assert report.batches == 5 and report.removed == {"outbox_archive": 4, "processed_events": 8}
    [record] = purges(history)
    assert (record.entity_type, record.entity_id, record.actor) == ("outbox", report.cutoff.isoformat(), "cli:ops")
    assert record.details == {"cutoff": report.cutoff.isoformat(), "batches": 5,
                              "removed": {"outbox_archive": 4, "processed_events": 8}}

    again = PurgeHandledEvents(uow, clock, timedelta(days=2))()
    assert again.total == 0 and len(purges(history)) == 1  # nothing removed: nothing to record


def test_a_purge_that_finds_another_running_skips_its_round(history, uow, clock, monkeypatch) -> None:
    monkeypatch.setattr(MemoryRetentionStore, "try_lock", lambda self: False)

    report = PurgeHandledEvents(uow, clock, WEEK)()

    assert report.skipped and report.total == 0 and purges(history) == []
    assert str(report).endswith("skipped: another purge is running")


def test_an_interrupted_purge_still_records_what_its_committed_batches_removed(history, uow, clock,
                                                                               monkeypatch) -> None:
    real = MemoryRetentionStore.purge
    calls = []

    def fails_the_second_time(self, before, limit):
        calls.append(limit)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return real(self, before, limit)

    monkeypatch.setattr(MemoryRetentionStore, "purge", fails_the_second_time)

    with pytest.raises(RuntimeError, match="connection lost"):
        PurgeHandledEvents(uow, clock, WEEK, batch_size=1)()

    [record] = purges(history)
    assert record.actor == SYSTEM_ACTOR
    assert seeded(record.details["removed"]) == {"outbox_archive": 1, "processed_events": 1}
    assert record.details["interrupted"] == "RuntimeError: connection lost"


def test_a_retention_under_the_floor_is_refused(uow, clock) -> None:
    with pytest.raises(ValueError, match="under 1 day"):
        PurgeHandledEvents(uow, clock, timedelta(hours=23))
    with pytest.raises(ValueError, match="under 1 day"):
        PurgeHandledEvents(uow, clock, WEEK)(older_than=timedelta(hours=12))


def test_the_retention_loop_purges_and_survives_a_failure(history, uow, clock, monkeypatch) -> None:
    loop = retention_loop(PurgeHandledEvents(uow, clock, WEEK), every=0.01)

    report = loop.run_once()
    assert report is not None and seeded(report.removed) == {"outbox_archive": 2, "processed_events": 4}

    monkeypatch.setattr(MemoryRetentionStore, "try_lock", lambda self: 1 / 0)
    assert loop.run_once() is None  # logged; the next round tries again

    monkeypatch.undo()
    clock.advance(timedelta(days=5).total_seconds())  # suppliers 4 and 5 are a week old now
    loop.start()
    try:
        for _ in range(500):
            if len(history.state.outbox) == 2:
                break
            loop.stopping.wait(0.01)
    finally:
        loop.stop()
    assert statuses(history) == {"3": OutboxStatus.FAILED, "6": OutboxStatus.PENDING}
    assert len(purges(history)) == 2


def test_the_settings_wire_the_retention_refuse_less_than_a_day_and_may_turn_the_loop_off(no_supplytrace_env) -> None:
    from adapters.inbound.runtime import background_workers
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    with pytest.raises(ValueError, match="retention_days"):
        Settings(_env_file=None, retention_days=0)
    container = build_container(Settings(_env_file=None, database_url="memory://", retention_days=3))
    assert container.purge_handled_events().retention == timedelta(days=3)
    workers = background_workers(container)
    retention = [worker for worker in workers if worker.name == "retention"]
    assert len(retention) == 1 and retention[0].every == 3600
    off = build_container(Settings(_env_file=None, database_url="memory://", retention_every_seconds=0))
    assert "retention" not in [worker.name for worker in background_workers(off)]
