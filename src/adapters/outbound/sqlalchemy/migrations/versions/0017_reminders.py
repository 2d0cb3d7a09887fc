"""The reminder log (ADR 0027): one row per reminder sent, keyed by its subject, stage and the subject's
date, claimed with INSERT … ON CONFLICT DO NOTHING in the transaction that outboxes the reminder.

A new table only: no row of the schema before changes. The runtime role gets SELECT and INSERT on it
(grants.py; re-apply the grants after migrating).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reminders_sent",
        sa.Column("subject_type", sa.String(20), primary_key=True),
        sa.Column("subject_id", sa.String(40), primary_key=True),
        sa.Column("event_type", sa.String(40), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("subject_date", sa.Date, primary_key=True),
        sa.Column("sent_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
