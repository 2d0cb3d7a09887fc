"""Retention: handled events and their idempotency keys go once older than the retention (ADR 0015);
the Idempotency-Keys of POST requests once older than the idempotency window (ADR 0020).

A purge deletes in bounded batches, one transaction per batch, so it never holds many locks or a
long transaction; one purge runs at a time (the store's lock: the others skip their round). Each
purge that removed something leaves one audit record, written with its last batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from application.error_text import describe
from application.ports.clock import Clock
from application.ports.consumption import AuditEntry
from application.ports.unit_of_work import UowFactory

OUTBOX_PURGED = "OUTBOX_PURGED"
SYSTEM_ACTOR = "system:retention"
FLOOR = timedelta(days=1)  # the database refuses to delete younger rows (migration 0009)

Progress = Callable[[Mapping[str, int]], None]  # the rows one batch removed (or would), per table


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    dry_run: bool = False
    removed: dict[str, int] = field(default_factory=dict)  # per table, committed; a dry run: what would go
    batches: int = 0
    skipped: bool = False  # another purge held the lock: this one stopped (or never started)

    @property
    def total(self) -> int:
        return sum(self.removed.values())

    def after(self, batch: Mapping[str, int], skipped: bool = False) -> PurgeReport:
        removed = {table: self.removed.get(table, 0) + batch.get(table, 0) for table in self.removed | batch}
        return replace(self, removed=removed, batches=self.batches + (0 if skipped else 1), skipped=skipped)

    def __str__(self) -> str:
        counts = ", ".join(f"{table} {n}" for table, n in self.removed.items()) if self.total else "nothing"
        verb = "would remove" if self.dry_run else "removed"
        note = "; skipped: another purge is running" if self.skipped else ""
        return f"{verb} {counts} (older than {self.cutoff.isoformat(timespec='seconds')}){note}"


def check_retention(retention: timedelta) -> timedelta:
    if retention < FLOOR:
        raise ValueError(f"a retention under {FLOOR.days} day: the database refuses to delete younger rows")
    return retention


class PurgeHandledEvents:
    def __init__(self, uow: UowFactory, clock: Clock, retention: timedelta, batch_size: int = 5000,
                 idempotency_window: timedelta = timedelta(days=1)) -> None:
        self.uow, self.clock, self.retention, self.batch_size = uow, clock, check_retention(retention), batch_size
        self.idempotency_window = idempotency_window  # Idempotency-Keys go once older than it (ADR 0020)

    def __call__(self, older_than: timedelta | None = None, dry_run: bool = False, progress: Progress | None = None,
                 actor: str = SYSTEM_ACTOR) -> PurgeReport:
        """Remove (dry run: count) what is older than `older_than` (default: the retention)."""
        cutoff = self.clock.now() - check_retention(self.retention if older_than is None else older_than)
        report, last = PurgeReport(cutoff, dry_run), False
        keys_before = self.clock.now() - self.idempotency_window
        try:
            while not last:
                report, last = self._batch(report, actor, progress, keys_before)
        except Exception as error:
            if report.total and not dry_run:  # what the committed batches removed is recorded all the same
                with suppress(Exception), self.uow() as uow:
                    uow.audit.append([self._record(report, actor, interrupted=describe(error))])
                    uow.commit()
            raise
        return report

    def _batch(self, report: PurgeReport, actor: str, progress: Progress | None,
               keys_before: datetime) -> tuple[PurgeReport, bool]:
        """One transaction: the report with it, and whether the purge is over (nothing more to remove, or
        the lock held elsewhere)."""
        batch: dict[str, int] = {}
        with self.uow() as uow:
            locked = uow.retention.try_lock()
            if locked:
                store = uow.retention
                batch = store.count(report.cutoff) if report.dry_run else store.purge(report.cutoff, self.batch_size)
                keys = uow.idempotency
                expired = keys.count(keys_before) if report.dry_run else keys.purge(keys_before, self.batch_size)
                if expired:
                    batch = {**batch, "idempotency_keys": expired}
            report = report.after(batch, skipped=not locked)
            last = not locked or report.dry_run or all(n < self.batch_size for n in batch.values())
            if not report.dry_run:
                if last and report.total:
                    uow.audit.append([self._record(report, actor)])
                uow.commit()
        if progress is not None and any(batch.values()):
            progress(batch)
        return report, last

    def _record(self, report: PurgeReport, actor: str, **details: object) -> AuditEntry:
        now, cutoff = self.clock.now(), report.cutoff.isoformat()
        return AuditEntry(event_id=uuid.uuid4(), event_type=OUTBOX_PURGED, entity_type="outbox", entity_id=cutoff,
                          actor=actor, correlation_id=str(uuid.uuid4()), occurred_at=now, recorded_at=now,
                          details={"cutoff": cutoff, "removed": dict(report.removed), "batches": report.batches,
                                   **details})
