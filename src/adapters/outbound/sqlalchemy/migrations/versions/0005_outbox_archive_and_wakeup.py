"""The hot outbox keeps only what is still to deliver: handled events move to `outbox_archive`.

Also: a partial index of the few events that hold their aggregate back (the claim reads it, so its
plan never depends on statistics), a guard that lets an event leave the outbox only into the archive,
and one NOTIFY per transaction that adds events (relays wake at once instead of polling).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime, BigId, Json

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("status = 'PENDING' AND (attempts > 0 OR locked_until IS NOT NULL)")
COLUMNS = ("position, event_id, event_type, aggregate_type, aggregate_id, occurred_at, actor, correlation_id, "
           "payload, status, attempts, last_error, next_attempt_at, created_at, published_at, handled_at, handled_by")

POSTGRES_TRIGGERS = """
CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('supplytrace_outbox', '');  -- identical notifications of a transaction are delivered once
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify();

CREATE FUNCTION outbox_events_archived_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone g WHERE NOT EXISTS (SELECT 1 FROM outbox_archive a WHERE a.event_id = g.event_id)) THEN
        RAISE EXCEPTION 'an outbox event leaves the outbox only into outbox_archive'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_events_archived_first AFTER DELETE ON outbox_events
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_archived_first();

CREATE FUNCTION outbox_archive_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'outbox_archive is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER outbox_archive_append_only BEFORE UPDATE OR DELETE ON outbox_archive
    FOR EACH ROW EXECUTE FUNCTION outbox_archive_append_only();
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite reuses the highest rowid once it is deleted; positions must never come back (the
        # archive keeps them), which AUTOINCREMENT guarantees
        with op.batch_alter_table("outbox_events", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
    op.create_table(
        "outbox_archive",
        sa.Column("position", BigId, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("aggregate_type", sa.String(50), nullable=False),
        sa.Column("aggregate_id", sa.String(100), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("published_at", UtcDateTime),
        sa.Column("handled_at", UtcDateTime),
        sa.Column("handled_by", sa.String(100)),
    )
    op.create_index("ix_outbox_archive_event_id", "outbox_archive", ["event_id"], unique=True)
    op.create_index("ix_outbox_archive_aggregate_type_aggregate_id", "outbox_archive",
                    ["aggregate_type", "aggregate_id"])
    op.create_index("ix_outbox_events_waiting", "outbox_events", ["aggregate_type", "aggregate_id", "position"],
                    postgresql_where=WAITING, sqlite_where=WAITING)
    op.execute(f"INSERT INTO outbox_archive ({COLUMNS}) SELECT {COLUMNS} FROM outbox_events "
               "WHERE handled_at IS NOT NULL")
    op.execute("DELETE FROM outbox_events WHERE handled_at IS NOT NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for trigger, table in (("outbox_events_notify", "outbox_events"),
                               ("outbox_events_archived_first", "outbox_events"),
                               ("outbox_archive_append_only", "outbox_archive")):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
            op.execute(f"DROP FUNCTION {trigger}()")
    op.execute(f"INSERT INTO outbox_events ({COLUMNS}) SELECT {COLUMNS} FROM outbox_archive")
    op.drop_index("ix_outbox_events_waiting", "outbox_events")
    op.drop_table("outbox_archive")
