"""Unique keys on PostgreSQL and SQLite: telling a race from another integrity error, inserting only new rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def duplicate_key(error: sa.exc.IntegrityError, table: str) -> bool:
    """A unique violation on `table` (another delivery got there first), not any other integrity error."""
    if getattr(error.orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return table in str(getattr(getattr(error.orig, "diag", None), "table_name", "") or "")
    return f"UNIQUE constraint failed: {table}." in str(error.orig)


def insert_new(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> Insert:
    """One multi-row INSERT that skips the rows whose key exists (ON CONFLICT DO NOTHING)."""
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return dialect_insert(table).values(list(rows)).on_conflict_do_nothing()
