"""Outbox, archive and processed-event rows written straight into the tables, at the times a test needs."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from adapters.outbound.sqlalchemy.tables import outbox_archive, outbox_events, processed_events


def event(at: datetime, **values: object) -> dict:
    return {"event_id": uuid.uuid4(), "event_type": "SUPPLIER_CREATED", "aggregate_type": "supplier",
            "aggregate_id": "1", "occurred_at": at, "actor": "alice", "correlation_id": "c", "payload": {},
            "attempts": 0, "next_attempt_at": at, "created_at": at, **values}


def archived(conn: sa.Connection, position: int, handled_at: datetime) -> uuid.UUID:
    """An event handled at `handled_at`, in the archive."""
    row = event(handled_at, position=position, status="PUBLISHED", published_at=handled_at, handled_at=handled_at,
                handled_by="in-process")
    conn.execute(sa.insert(outbox_archive).values(row))
    return row["event_id"]


def hot(conn: sa.Connection, status: str, at: datetime) -> uuid.UUID:
    """An event still in the hot outbox, created at `at`."""
    row = event(at, status=status)
    conn.execute(sa.insert(outbox_events).values(row))
    return row["event_id"]


def keys(conn: sa.Connection, processed_at: datetime, *event_ids: uuid.UUID) -> None:
    """The audit handler's idempotency keys of these events."""
    conn.execute(sa.insert(processed_events), [
        {"handler": "audit_trail", "event_id": event_id, "processed_at": processed_at} for event_id in event_ids])
