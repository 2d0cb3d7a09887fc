"""The audit log as a hash chain (ADR 0014): `prev_hash` and `hash` on every record, backfilled in id
order with the application's rule (application/audit_chain.py).

The append-only triggers refuse the backfill's UPDATEs: they are dropped for it and created again
before the end, in this migration's transaction (SQLite: also around the rebuild of the table that
makes the columns NOT NULL, which would drop them). Run it with the service stopped, as every
migration. On PostgreSQL the backfill leaves one dead row version per record: VACUUM audit_log after it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import BigId, Json, UtcDateTime
from application.audit_chain import GENESIS, entry_hash
from application.ports.consumption import AuditEntry

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAGE = 1000  # records read and updated at a time: the backfill never holds the whole log in memory

# the triggers of migration 0001 (PostgreSQL: its function audit_log_append_only() stays)
TRIGGERS = {
    "postgresql": {"audit_log_append_only": "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON "
                                            "audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"},
    "sqlite": {"audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                                      "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
               "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                                      "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"},
}

audit_log = sa.table(
    "audit_log", sa.column("id", BigId), sa.column("event_id", sa.Uuid), sa.column("action", sa.String),
    sa.column("entity_type", sa.String), sa.column("entity_id", sa.String), sa.column("actor", sa.String),
    sa.column("correlation_id", sa.String), sa.column("occurred_at", UtcDateTime),
    sa.column("recorded_at", UtcDateTime), sa.column("details", Json), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)


@contextmanager
def without_append_only_triggers() -> Iterator[None]:
    dialect = op.get_bind().dialect.name
    triggers = TRIGGERS[dialect]
    for name in triggers:
        op.execute(f"DROP TRIGGER {name} ON audit_log" if dialect == "postgresql" else f"DROP TRIGGER {name}")
    yield
    for create in triggers.values():
        op.execute(create)


def backfill(conn: sa.Connection) -> None:
    a = audit_log.c
    after, prev = 0, GENESIS
    while rows := conn.execute(sa.select(audit_log).where(a.id > after).order_by(a.id).limit(PAGE)).all():
        links = []
        for row in rows:
            entry = AuditEntry(event_id=row.event_id, event_type=row.action, entity_type=row.entity_type,
                               entity_id=row.entity_id, actor=row.actor, correlation_id=row.correlation_id,
                               occurred_at=row.occurred_at, recorded_at=row.recorded_at, details=row.details)
            links.append({"record": row.id, "prev": prev, "own": entry_hash(entry, prev)})
            prev = links[-1]["own"]
        conn.execute(sa.update(audit_log).where(a.id == sa.bindparam("record"))
                     .values(prev_hash=sa.bindparam("prev"), hash=sa.bindparam("own")), links)
        after = rows[-1].id


def upgrade() -> None:
    with without_append_only_triggers():
        with op.batch_alter_table("audit_log") as batch:
            batch.add_column(sa.Column("prev_hash", sa.String(64)))
            batch.add_column(sa.Column("hash", sa.String(64)))
        backfill(op.get_bind())
        with op.batch_alter_table("audit_log") as batch:
            batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
            batch.alter_column("hash", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with without_append_only_triggers(), op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
