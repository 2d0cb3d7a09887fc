"""Trace context (ADR 0017): the W3C `traceparent` and `tracestate` of the request that wrote an
event, kept with it in the outbox and its archive, so that every delivery (a retry, a replay, the
other mode) restores the same trace.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("outbox_events", "outbox_archive")


def upgrade() -> None:
    for table in TABLES:  # plain ALTER TABLE ADD COLUMN: no table rebuild (the archive keeps its triggers)
        op.add_column(table, sa.Column("traceparent", sa.String(55)))
        op.add_column(table, sa.Column("tracestate", sa.String(512)))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "tracestate")
        op.drop_column(table, "traceparent")
