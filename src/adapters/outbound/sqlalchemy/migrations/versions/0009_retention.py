"""Retention (ADR 0015): handled events and their idempotency keys may be deleted once a day old.

The append-only trigger of `outbox_archive` (0005) becomes a floor: DELETE only of rows handled more
than a day ago (by the database's clock), UPDATE never; `processed_events` gets the same floor. The
runtime role gets DELETE on both (grants.py): it can purge old history, never rewrite recent history.
Indexes on the time columns let the purge walk them oldest first.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLOOR_TABLES = {"outbox_archive": "handled_at", "processed_events": "processed_at"}  # table → its time column
REFUSED = "{table}: only rows older than the 1-day retention floor may be deleted, and none updated"


def _postgres_floor(table: str, column: str) -> str:
    return f"""
CREATE FUNCTION {table}_retention_floor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' OR OLD.{column} IS NULL OR OLD.{column} >= now() - interval '1 day' THEN
        RAISE EXCEPTION '{REFUSED.format(table=table)}' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER {table}_retention_floor BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {table}_retention_floor();
"""


def _sqlite_floor(table: str, column: str) -> list[str]:
    # UtcDateTime stores UTC text ('2026-12-02 09:00:00.000000'), which julianday() reads as UTC
    raise_ = f"BEGIN SELECT RAISE(ABORT, '{REFUSED.format(table=table)}'); END"
    return [f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} {raise_}",
            f"CREATE TRIGGER {table}_retention_floor BEFORE DELETE ON {table} WHEN OLD.{column} IS NULL "
            f"OR julianday(OLD.{column}) >= julianday('now', '-1 day') {raise_}"]


ARCHIVE_APPEND_ONLY_PG = """
CREATE FUNCTION outbox_archive_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'outbox_archive is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER outbox_archive_append_only BEFORE UPDATE OR DELETE ON outbox_archive
    FOR EACH ROW EXECUTE FUNCTION outbox_archive_append_only();
"""


def upgrade() -> None:
    for table, column in FLOOR_TABLES.items():
        op.create_index(f"ix_{table}_{column}", table, [column])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_archive_append_only ON outbox_archive")
        op.execute("DROP FUNCTION outbox_archive_append_only()")
        for table, column in FLOOR_TABLES.items():
            op.execute(_postgres_floor(table, column))
    else:
        for table, column in FLOOR_TABLES.items():
            for statement in _sqlite_floor(table, column):
                op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column in FLOOR_TABLES.items():
        if postgres:
            op.execute(f"DROP TRIGGER {table}_retention_floor ON {table}")
            op.execute(f"DROP FUNCTION {table}_retention_floor()")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_retention_floor")
        op.drop_index(f"ix_{table}_{column}", table)
    if postgres:
        op.execute(ARCHIVE_APPEND_ONLY_PG)
