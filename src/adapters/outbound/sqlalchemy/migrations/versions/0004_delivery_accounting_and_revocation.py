"""Delivery accounting (which handler group confirmed each published event) and revoked tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNHANDLED = sa.text("status = 'PUBLISHED' AND handled_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("handled_at", UtcDateTime))
        batch.add_column(sa.Column("handled_by", sa.String(100)))
    # events published before this revision were delivered without confirmation: take them as handled
    op.execute("UPDATE outbox_events SET handled_at = published_at, handled_by = 'before-0004' "
               "WHERE status = 'PUBLISHED'")
    op.create_index("ix_outbox_events_unhandled", "outbox_events", ["published_at"], postgresql_where=UNHANDLED,
                    sqlite_where=UNHANDLED)
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_revoked_tokens_expires_at", "revoked_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("revoked_tokens")
    op.drop_index("ix_outbox_events_unhandled", "outbox_events")
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("handled_by")
        batch.drop_column("handled_at")
