"""The append-only audit log on SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from application.pagination import Page, PageRequest
from application.ports.consumption import AuditEntry, AuditFilter, AuditLog
from application.ports.counters import AUDIT_PREFIX, Counters
from application.ports.counters import audit as audit_counter

from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.bulk import bulk_insert
from adapters.outbound.sqlalchemy.tables import audit_log


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

    def append(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            inserted = bulk_insert(self.conn, audit_log, [
                {"event_id": e.event_id, "action": e.event_type, "entity_type": e.entity_type,
                 "entity_id": e.entity_id, "actor": e.actor, "correlation_id": e.correlation_id,
                 "occurred_at": e.occurred_at, "recorded_at": e.recorded_at, "details": e.details}
                for e in entries], skip_existing=True, returning=("entity_type", "action"))
            for entity_type, action in inserted:  # the rows really inserted: an existing one is skipped
                self.counters.add(audit_counter(entity_type, action))

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
