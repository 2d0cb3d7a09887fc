"""The append-only audit log, a hash chain (ADR 0014), on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from application import listing
from application.audit_chain import link
from application.pagination import Page, PageRequest
from application.ports.consumption import AuditEntry, AuditFilter, AuditLog
from application.ports.counters import AUDIT_PREFIX, Counters
from application.ports.counters import audit as audit_counter

from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.bulk import bulk_insert
from adapters.outbound.sqlalchemy.finding import find
from adapters.outbound.sqlalchemy.tables import audit_log


def audit_total(counters: Counters, criteria: AuditFilter) -> int | None:
    """Matching records from the counters (kept per entity type and action); None when an entity id, an actor
    or a search narrows it."""
    if criteria.entity_id is not None or criteria.actor is not None or criteria.find.narrows:
        return None
    total = 0
    for name, n in counters.read().items():
        if name.startswith(AUDIT_PREFIX):
            entity_type, _, action = name[len(AUDIT_PREFIX):].partition(":")
            if criteria.entity_type in (None, entity_type) and criteria.event_type in (None, action):
                total += n
    return total


# the transaction-level advisory lock that serializes appends to the chain on PostgreSQL ("SupplyTr")
CHAIN_LOCK = 0x537570706C795472


def _entry(row: sa.Row) -> AuditEntry:
    return AuditEntry(event_id=row.event_id, event_type=row.action, entity_type=row.entity_type,
                      entity_id=row.entity_id, actor=row.actor, correlation_id=row.correlation_id,
                      occurred_at=row.occurred_at, recorded_at=row.recorded_at, details=row.details, id=row.id,
                      prev_hash=row.prev_hash, hash=row.hash, changes=row.changes, reason=row.reason,
                      hash_version=row.hash_version)


class SqlAuditLog(AuditLog):
    """Keeps the entries of a transaction until it commits: the chain lock is then taken at the very end
    (after the handlers, the archive and the timeline), so concurrent deliveries wait for each other
    only for the insert and the commit."""

    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        super().__init__()
        self.conn, self.counters = conn, counters

    def append(self, entries: Sequence[AuditEntry]) -> None:
        self.pending.extend(entries)

    def flush(self, since: int = 0) -> None:
        """One serialized step: on PostgreSQL the chain lock, held until the transaction ends, is taken
        before the head is read (each statement then sees every chain commit before it), so concurrent
        appends link one after the other and get their ids (assigned by the insert) in chain order.
        SQLite has one writer at a time (BEGIN IMMEDIATE). Under the lock the events already recorded are
        known exactly, so the insert skips nothing itself: a conflict would be an append that bypassed
        the lock, refused rather than left as a gap in the chain."""
        entries, self.pending = self.pending[since:], self.pending[:since]
        if not entries:
            return
        a = audit_log.c
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK)))
        recorded = self.conn.execute(sa.select(a.event_id).where(a.event_id.in_([e.event_id for e in entries])))
        head = self.conn.execute(sa.select(a.hash).order_by(a.id.desc()).limit(1)).scalar_one_or_none()
        linked = link(entries, recorded.scalars(), head)
        bulk_insert(self.conn, audit_log, [
            {"event_id": e.event_id, "action": e.event_type, "entity_type": e.entity_type,
             "entity_id": e.entity_id, "actor": e.actor, "correlation_id": e.correlation_id,
             "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "details": e.details,
             "prev_hash": e.prev_hash, "hash": e.hash, "changes": e.changes, "reason": e.reason,
             "hash_version": e.hash_version}
            for e in linked])
        for e in linked:
            self.counters.add(audit_counter(e.entity_type, e.event_type))

    def chain(self, after_id: int, limit: int) -> list[AuditEntry]:
        self.flush()
        a = audit_log.c
        query = sa.select(audit_log).where(a.id > after_id).order_by(a.id).limit(limit)
        return [_entry(row) for row in self.conn.execute(query)]

    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        self.flush()
        a = audit_log.c
        query = sa.select(audit_log)
        for column, value in ((a.action, criteria.event_type), (a.entity_type, criteria.entity_type),
                              (a.entity_id, criteria.entity_id), (a.actor, criteria.actor)):
            if value is not None:
                query = query.where(column == value)
        columns = {"id": a.id, "occurred_at": a.occurred_at, "event_type": a.action, "entity_type": a.entity_type}
        query, order = find(query, criteria.find, listing.AUDIT, columns, [a.action, a.entity_type, a.entity_id, a.actor],
                            a.occurred_at)
        return fetch_page(self.conn, query, order, page, _entry, audit_total(self.counters, criteria))

    def count(self) -> int:
        self.flush()
        return sum(v for name, v in self.counters.read().items() if name.startswith(AUDIT_PREFIX))
