"""Operators steer delivery: the delivery timeline (`delivery_steps`), the dead letters of both
modes, fenced leases (`lease_token`), when an event became FAILED, and an index of the FAILED and
PARKED events that stop their aggregate.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import BigId, Json, UtcDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STOPPED = sa.text("status IN ('FAILED', 'PARKED')")


def upgrade() -> None:
    for table in ("outbox_events", "outbox_archive"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease_token", sa.String(36)))
            batch.add_column(sa.Column("failed_at", UtcDateTime))
    op.execute("UPDATE outbox_events SET failed_at = next_attempt_at WHERE status = 'FAILED'")
    op.create_index("ix_outbox_events_stopped", "outbox_events", ["aggregate_type", "aggregate_id", "position"],
                    postgresql_where=STOPPED, sqlite_where=STOPPED)
    op.create_table(
        "delivery_steps",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("worker", sa.String(100)),
        sa.Column("lease_token", sa.String(36)),
        sa.Column("detail", Json, nullable=False),
    )
    op.create_index("ix_delivery_steps_event_id_id", "delivery_steps", ["event_id", "id"])
    op.create_index("ix_delivery_steps_at", "delivery_steps", ["at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("event_id", sa.Uuid),
        sa.Column("event_type", sa.String(100)),
        sa.Column("aggregate_type", sa.String(50)),
        sa.Column("aggregate_id", sa.String(100)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_encoding", sa.String(10), nullable=False),
        sa.Column("headers", Json, nullable=False),
        sa.Column("topic", sa.String(255)),
        sa.Column("partition", sa.Integer),
        sa.Column("offset", sa.BigInteger),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("first_seen", UtcDateTime, nullable=False),
        sa.Column("last_seen", UtcDateTime, nullable=False),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.Column("replayed_at", UtcDateTime),
        sa.Column("replayed_by", sa.String(100)),
        sa.UniqueConstraint("key", name="uq_dead_letters_key"),
    )
    op.create_index("ix_dead_letters_status_last_seen", "dead_letters", ["status", "last_seen"])
    # the FAILED events of before: dead letters too (their payload as it is in the outbox)
    outbox = sa.table("outbox_events", *(sa.column(n) for n in (
        "event_id", "event_type", "aggregate_type", "aggregate_id", "last_error", "next_attempt_at", "status")),
        sa.column("payload", Json))
    outbox.c.event_id.type, outbox.c.next_attempt_at.type = sa.Uuid(), UtcDateTime()
    letters = sa.table("dead_letters", *(sa.column(n) for n in (
        "key", "source", "status", "event_id", "event_type", "aggregate_type", "aggregate_id", "payload",
        "payload_encoding", "error", "first_seen", "last_seen", "occurrences")), sa.column("headers", Json))
    letters.c.event_id.type = sa.Uuid()
    letters.c.first_seen.type = letters.c.last_seen.type = UtcDateTime()
    rows = [{"key": f"event:{r.event_id}", "source": "outbox", "status": "OPEN", "event_id": r.event_id,
             "event_type": r.event_type, "aggregate_type": r.aggregate_type, "aggregate_id": r.aggregate_id,
             "payload": json.dumps(r.payload), "payload_encoding": "json", "headers": {}, "error": r.last_error or "",
             "first_seen": r.next_attempt_at, "last_seen": r.next_attempt_at, "occurrences": 1}
            for r in op.get_bind().execute(sa.select(outbox).where(outbox.c.status == "FAILED"))]
    if rows:
        op.get_bind().execute(sa.insert(letters), rows)


def downgrade() -> None:
    op.execute("UPDATE outbox_events SET status = 'PENDING' WHERE status = 'PARKED'")
    op.drop_table("dead_letters")
    op.drop_table("delivery_steps")
    op.drop_index("ix_outbox_events_stopped", "outbox_events")
    for table in ("outbox_events", "outbox_archive"):
        autoincrement = {"sqlite_autoincrement": table == "outbox_events"}
        with op.batch_alter_table(table, table_kwargs=autoincrement) as batch:
            batch.drop_column("failed_at")
            batch.drop_column("lease_token")
