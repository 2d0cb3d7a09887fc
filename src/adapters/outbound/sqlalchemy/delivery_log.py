"""The delivery timeline and the dead letters on SQLAlchemy Core."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from application.pagination import Page, PageRequest
from application.ports.delivery_log import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetters,
    DeadLetterStatus,
    DeliveryStep,
    DeliverySteps,
    StepKind,
)

from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.bulk import bulk_insert
from adapters.outbound.sqlalchemy.tables import dead_letters, delivery_steps

s, d = delivery_steps.c, dead_letters.c


class SqlDeliverySteps(DeliverySteps):
    """Buffered: the steps of a transaction go in with one multi-row insert just before it commits."""

    def __init__(self, conn: sa.Connection) -> None:
        super().__init__()
        self.conn = conn

    def record(self, steps: Sequence[DeliveryStep]) -> None:
        self.pending.extend(steps)

    def flush(self, since: int = 0) -> None:
        steps, self.pending = self.pending[since:], self.pending[:since]
        bulk_insert(self.conn, delivery_steps, [
            {"event_id": step.event_id, "kind": step.kind.value, "at": step.at, "worker": step.worker,
             "lease_token": step.lease_token, "detail": step.detail} for step in steps])

    def of_event(self, event_id: UUID) -> list[DeliveryStep]:
        self.flush()
        rows = self.conn.execute(sa.select(delivery_steps).where(s.event_id == event_id).order_by(s.id))
        return [DeliveryStep(r.event_id, StepKind(r.kind), r.at, r.worker, r.lease_token, r.detail) for r in rows]


class DiscardedSteps(DeliverySteps):
    """The timeline switched off (SUPPLYTRACE_DELIVERY_TIMELINE=false): steps are not kept."""

    def record(self, steps: Sequence[DeliveryStep]) -> None:
        pass

    def of_event(self, event_id: UUID) -> list[DeliveryStep]:
        return []


def _letter(row: sa.Row) -> DeadLetter:
    return DeadLetter(
        key=row.key, source=row.source, error=row.error, payload=row.payload, payload_encoding=row.payload_encoding,
        event_id=row.event_id, event_type=row.event_type, aggregate_type=row.aggregate_type,
        aggregate_id=row.aggregate_id, headers=row.headers, topic=row.topic, partition=row.partition,
        offset=row.offset, first_seen=row.first_seen, last_seen=row.last_seen, occurrences=row.occurrences,
        status=DeadLetterStatus(row.status), replayed_at=row.replayed_at, replayed_by=row.replayed_by, id=row.id)


class SqlDeadLetters(DeadLetters):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record(self, letters: Sequence[DeadLetter], now: datetime) -> None:
        insert = (postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert)(dead_letters)
        for letter in letters:
            row = {f.name: getattr(letter, f.name) for f in dataclasses.fields(letter)
                   if f.name not in ("id", "replayed_at", "replayed_by")}
            row.update(status=DeadLetterStatus.OPEN.value, first_seen=now, last_seen=now, occurrences=1)
            seen_again = {name: insert.excluded[name] for name in ("error", "last_seen", "topic", "partition",
                                                                    "offset", "headers", "status")}
            self.conn.execute(insert.values(row).on_conflict_do_update(
                index_elements=[d.key], set_={**seen_again, "occurrences": d.occurrences + 1}))

    def get(self, letter_id: int) -> DeadLetter | None:
        row = self.conn.execute(sa.select(dead_letters).where(d.id == letter_id)).one_or_none()
        return _letter(row) if row else None

    def find(self, key: str) -> DeadLetter | None:
        row = self.conn.execute(sa.select(dead_letters).where(d.key == key)).one_or_none()
        return _letter(row) if row else None

    def resolve(self, letter_id: int, status: DeadLetterStatus, now: datetime, actor: str) -> bool:
        updated = self.conn.execute(sa.update(dead_letters)
                                    .where(d.id == letter_id, d.status == DeadLetterStatus.OPEN.value)
                                    .values(status=status.value, replayed_at=now,
                                            replayed_by=actor))
        return updated.rowcount == 1

    def list(self, criteria: DeadLetterFilter, page: PageRequest) -> Page[DeadLetter]:
        query = sa.select(dead_letters)
        for column, value in ((d.status, criteria.status), (d.source, criteria.source),
                              (d.event_type, criteria.event_type), (d.aggregate_type, criteria.aggregate_type),
                              (d.aggregate_id, criteria.aggregate_id)):
            if value is not None:
                query = query.where(column == value)
        return fetch_page(self.conn, query, (d.last_seen.desc(), d.id.desc()), page, _letter)
