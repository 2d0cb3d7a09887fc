"""Telling a unique-key race from any other integrity error, on PostgreSQL and SQLite."""

from __future__ import annotations

import sqlalchemy as sa


def duplicate_key(error: sa.exc.IntegrityError, table: str) -> bool:
    """A unique violation on `table` (another delivery got there first), not any other integrity error."""
    if getattr(error.orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        return table in str(getattr(getattr(error.orig, "diag", None), "table_name", "") or "")
    return f"UNIQUE constraint failed: {table}." in str(error.orig)

