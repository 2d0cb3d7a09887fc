"""Outbox, processed-event store and audit log on SQLAlchemy Core."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest
from application.ports.consumption import (
    AlreadyProcessed,
    AuditEntry,
    AuditFilter,
    AuditLog,
    ProcessedEventStore,
)
from application.ports.counters import AUDIT_PREFIX, Counters
from application.ports.counters import audit as audit_counter
from application.ports.counters import outbox as outbox_counter
from application.ports.outbox import OutboxRecord, OutboxRepository, OutboxStatus

from adapters.outbound.claim_order import keep_in_order
from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.integrity import duplicate_key
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_events, processed_events

o = outbox_events.c
PENDING = OutboxStatus.PENDING.value
PUBLISHED = OutboxStatus.PUBLISHED.value
_INSERT = sa.insert(outbox_events)


def _record(row: sa.Row) -> OutboxRecord:
    envelope = EventEnvelope(row.event_id, row.event_type, row.aggregate_type, row.aggregate_id, row.occurred_at,
                             row.actor, row.correlation_id, row.payload)
    return OutboxRecord(envelope, OutboxStatus(row.status), row.attempts, row.last_error, row.next_attempt_at,
                        row.created_at, row.published_at, row.handled_at, row.handled_by)


class SqlOutboxRepository(OutboxRepository):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        self.conn, self.counters = conn, counters

    def add(self, envelope: EventEnvelope, now: datetime) -> None:
        # one constant statement, the values as parameters: its cache key costs nothing
        self.conn.execute(_INSERT, {
            "event_id": envelope.event_id, "event_type": envelope.event_type,
            "aggregate_type": envelope.aggregate_type, "aggregate_id": envelope.aggregate_id,
            "occurred_at": envelope.occurred_at, "actor": envelope.actor, "correlation_id": envelope.correlation_id,
            "payload": envelope.payload, "status": PENDING, "attempts": 0, "next_attempt_at": now, "created_at": now})
        self.counters.add(outbox_counter(PENDING))

    def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[OutboxRecord]:
        # PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite has one writer at a time (BEGIN IMMEDIATE)
        available = sa.and_(o.status == PENDING, o.next_attempt_at <= now,
                            sa.or_(o.locked_until.is_(None), o.locked_until <= now))
        # an earlier PENDING event of the same aggregate that is leased or waiting for its retry
        # holds the later ones back; filtering here keeps held-back rows from filling the batch
        earlier = outbox_events.alias("earlier")
        e = earlier.c
        held_back = sa.exists().where(
            e.aggregate_type == o.aggregate_type, e.aggregate_id == o.aggregate_id, e.status == PENDING,
            e.position < o.position, sa.or_(e.next_attempt_at > now, e.locked_until > now))
        due = (sa.select(o.position, o.aggregate_type, o.aggregate_id)
               .where(available, ~held_back)
               .order_by(o.position).limit(limit).with_for_update(of=outbox_events, skip_locked=True))
        candidates = [((r.aggregate_type, r.aggregate_id), r.position, r.position) for r in self.conn.execute(due)]
        if not candidates:
            return []
        keys = sorted({key for key, _, _ in candidates})
        earlier = sa.select(o.aggregate_type, o.aggregate_id, o.position).where(
            o.status == PENDING, sa.tuple_(o.aggregate_type, o.aggregate_id).in_(keys),
            o.position <= candidates[-1][1])
        pending = [((r.aggregate_type, r.aggregate_id), r.position) for r in self.conn.execute(earlier)]
        kept = keep_in_order(candidates, pending)
        if not kept:
            return []
        rows = self.conn.execute(sa.update(outbox_events).where(o.position.in_(kept))
                                 .values(locked_until=lease_until).returning(*outbox_events.c))
        return [_record(r) for r in sorted(rows, key=lambda r: r.position)]

    def _update(self, event_id: UUID, **values: Any) -> None:
        if "status" in values:  # the row's status before, locked until commit, for the counters
            before = self.conn.execute(sa.select(o.status).where(o.event_id == event_id)
                                       .with_for_update()).scalar_one_or_none()
        self.conn.execute(sa.update(outbox_events).where(o.event_id == event_id).values(locked_until=None, **values))
        if "status" in values and before is not None:
            self.counters.transfer(outbox_counter(before), outbox_counter(values["status"]), 1)

    def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None:
        self.conn.execute(sa.update(outbox_events)
                          .where(o.event_id.in_(event_ids), o.status == PENDING, o.locked_until.is_not(None))
                          .values(locked_until=lease_until))

    def mark_published(self, records: Sequence[OutboxRecord], now: datetime, handled_by: str | None = None) -> None:
        by_attempts: dict[int, list[UUID]] = defaultdict(list)
        for record in records:
            by_attempts[record.attempts].append(record.envelope.event_id)
        handled = {"handled_at": now, "handled_by": handled_by} if handled_by else {}
        for attempts, event_ids in by_attempts.items():
            updated = self.conn.execute(
                sa.update(outbox_events)
                .where(o.event_id.in_(event_ids), o.status == PENDING, o.attempts == attempts)
                .values(locked_until=None, status=PUBLISHED, published_at=now, **handled))
            self.counters.transfer(outbox_counter(PENDING), outbox_counter(PUBLISHED), updated.rowcount)

    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        self.conn.execute(sa.update(outbox_events).where(o.event_id.in_(event_ids), o.handled_at.is_(None))
                          .values(handled_at=now, handled_by=handled_by))

    def _unhandled(self, published_before: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(o.status == PUBLISHED, o.handled_at.is_(None), o.published_at < published_before)

    def unhandled(self, published_before: datetime, limit: int) -> list[OutboxRecord]:
        query = (sa.select(outbox_events).where(self._unhandled(published_before))
                 .order_by(o.published_at, o.position).limit(limit))
        return [_record(r) for r in self.conn.execute(query)]

    def count_unhandled(self, published_before: datetime) -> int:
        query = sa.select(sa.func.count()).select_from(outbox_events).where(self._unhandled(published_before))
        return self.conn.execute(query).scalar_one()

    def redrive(self, event_ids: Sequence[UUID], now: datetime, note: str) -> None:
        updated = self.conn.execute(
            sa.update(outbox_events).where(o.event_id.in_(event_ids), o.status == PUBLISHED, o.handled_at.is_(None))
            .values(status=PENDING, next_attempt_at=now, locked_until=None, last_error=note))
        self.counters.transfer(outbox_counter(PUBLISHED), outbox_counter(PENDING), updated.rowcount)

    def record_failure(
        self, event_id: UUID, attempts: int, error: str, status: OutboxStatus, next_attempt_at: datetime
    ) -> None:
        self._update(event_id, attempts=attempts, last_error=error, status=status.value,
                     next_attempt_at=next_attempt_at)

    def release(self, event_id: UUID) -> None:
        self._update(event_id)

    def get(self, event_id: UUID) -> OutboxRecord | None:
        row = self.conn.execute(sa.select(outbox_events).where(o.event_id == event_id)).one_or_none()
        return _record(row) if row else None

    def requeue(self, event_id: UUID, now: datetime) -> None:
        self._update(event_id, status=PENDING, attempts=0, next_attempt_at=now)

    def list(self, status: OutboxStatus | None, page: PageRequest) -> Page[OutboxRecord]:
        query = sa.select(outbox_events)
        if status is not None:
            query = query.where(o.status == status.value)
        counts = self.count_by_status()
        total = counts[status] if status is not None else sum(counts.values())
        return fetch_page(self.conn, query, o.position, page, _record, total)

    def count_by_status(self) -> dict[OutboxStatus, int]:
        values = self.counters.read([outbox_counter(status) for status in OutboxStatus])
        return {status: values[outbox_counter(status)] for status in OutboxStatus}


class SqlProcessedEventStore(ProcessedEventStore):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def contains(self, handler: str, event_id: UUID) -> bool:
        p = processed_events.c
        query = sa.select(sa.literal(1)).where(p.handler == handler, p.event_id == event_id)
        return self.conn.execute(query).first() is not None

    def add(self, handler: str, event_id: UUID, processed_at: datetime) -> None:
        statement = sa.insert(processed_events).values(handler=handler, event_id=event_id, processed_at=processed_at)
        try:
            self.conn.execute(statement)
        except sa.exc.IntegrityError as error:
            if duplicate_key(error, "processed_events"):
                raise AlreadyProcessed(f"{handler} already processed {event_id}") from error
            raise


def audit_total(counters: Counters, criteria: AuditFilter) -> int | None:
    """Matching records from the counters (kept per entity type and action); None when an entity id narrows it."""
    if criteria.entity_id is not None:
        return None
    total = 0
    for name, n in counters.read().items():
        if name.startswith(AUDIT_PREFIX):
            entity_type, _, action = name[len(AUDIT_PREFIX):].partition(":")
            if criteria.entity_type in (None, entity_type) and criteria.event_type in (None, action):
                total += n
    return total


def _entry(row: sa.Row) -> AuditEntry:
    return AuditEntry(event_id=row.event_id, event_type=row.action, entity_type=row.entity_type,
                      entity_id=row.entity_id, actor=row.actor, correlation_id=row.correlation_id,
                      occurred_at=row.occurred_at, recorded_at=row.recorded_at, details=row.details, id=row.id)


class SqlAuditLog(AuditLog):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        self.conn, self.counters = conn, counters

    def append(self, entry: AuditEntry) -> None:
        statement = sa.insert(audit_log).values(
            event_id=entry.event_id, action=entry.event_type, entity_type=entry.entity_type,
            entity_id=entry.entity_id, actor=entry.actor, correlation_id=entry.correlation_id,
            occurred_at=entry.occurred_at, recorded_at=entry.recorded_at, details=entry.details)
        try:
            self.conn.execute(statement)
        except sa.exc.IntegrityError as error:
            if duplicate_key(error, "audit_log"):
                raise AlreadyProcessed(f"audit record for {entry.event_id} exists") from error
            raise
        self.counters.add(audit_counter(entry.entity_type, entry.event_type))

    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        a = audit_log.c
        query = sa.select(audit_log)
        for column, value in ((a.action, criteria.event_type), (a.entity_type, criteria.entity_type),
                              (a.entity_id, criteria.entity_id)):
            if value is not None:
                query = query.where(column == value)
        return fetch_page(self.conn, query, a.id.desc(), page, _entry, audit_total(self.counters, criteria))

    def count(self) -> int:
        return sum(v for name, v in self.counters.read().items() if name.startswith(AUDIT_PREFIX))
