"""The audit trail with changes (ADR 0026): `changes` ([[field, old, new]], JSON) and `reason` on every
record, `hash_version` (the hash rule the record was chained with), and an index for `?actor=`.

The records already written keep their rule-1 hashes (ADR 0014): they get `hash_version` 1 and NULL
changes and reason, and still verify. Adding nullable columns and a column with a constant default
rewrites no row (PostgreSQL 11+, SQLite): the append-only triggers see no UPDATE and stay in place.
The runtime role's grants are table-wide (SELECT, INSERT on audit_log): the new columns are covered.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import Json

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the triggers of migration 0001: SQLite rebuilds the table to drop a column, which drops them
SQLITE_TRIGGERS = {
    "audit_log_no_update": "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
                           "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    "audit_log_no_delete": "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
                           "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
}


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("changes", Json))
    op.add_column("audit_log", sa.Column("reason", sa.Text))
    op.add_column("audit_log", sa.Column("hash_version", sa.SmallInteger, nullable=False, server_default="1"))
    op.create_index("ix_audit_log_actor_id", "audit_log", ["actor", "id"])


def downgrade() -> None:
    """Drops what rule 2 hashed: records chained with it no longer verify (restore from a backup instead)."""
    op.drop_index("ix_audit_log_actor_id", table_name="audit_log")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("hash_version")
        batch.drop_column("reason")
        batch.drop_column("changes")
    if sqlite:
        for create in SQLITE_TRIGGERS.values():
            op.execute(create)
