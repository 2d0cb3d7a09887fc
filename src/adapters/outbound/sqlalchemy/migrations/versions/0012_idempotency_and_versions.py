"""Idempotency keys and aggregate versions (ADR 0020).

`idempotency_keys`: one row per (user, Idempotency-Key) of a POST that wrote, inserted in the
transaction of that write, with the fingerprint of the request and, once it answered, its response.
`version` on suppliers, non-conformities and inventories (orders have one): the ETag of a resource,
incremented by every change with a guarded UPDATE (`WHERE version = :read`), so that an `If-Match`
is compared atomically with the write. Existing rows start at version 1.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import Json, UtcDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED = ("suppliers", "non_conformities", "inventories")


def upgrade() -> None:
    for table in VERSIONED:  # plain ALTER TABLE ADD COLUMN with a constant default: no table rewrite
        op.add_column(table, sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.create_table(
        "idempotency_keys",
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response_headers", Json),
        sa.Column("response_body", sa.Text),
        sa.PrimaryKeyConstraint("user_name", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    for table in VERSIONED:
        op.drop_column(table, "version")
