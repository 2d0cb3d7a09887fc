"""Inventories: write model (inventories, inventory_lines) and the inventory_summary projection.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inventories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("customer", sa.String(200), nullable=False),
        sa.Column("expiry_date", sa.Date, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("deleted_at", UtcDateTime),
    )
    op.create_table(
        "inventory_lines",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("inventory_id", sa.Integer,
                  sa.ForeignKey("inventories.id", name="fk_inventory_lines_inventory_id_inventories"), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("added_at", UtcDateTime, nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_inventory_lines_quantity_positive"),
    )
    op.create_index("ix_inventory_lines_inventory_id", "inventory_lines", ["inventory_id"])
    op.create_table(
        "inventory_summary",
        sa.Column("inventory_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer", sa.String(200), nullable=False),
        sa.Column("total_items", sa.BigInteger, nullable=False),
        sa.Column("line_count", sa.Integer, nullable=False),
        sa.Column("expiry_date", sa.Date, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_index("ix_inventory_summary_expiry_date_inventory_id", "inventory_summary",
                    ["expiry_date", "inventory_id"])
    op.create_index("ix_inventory_summary_customer", "inventory_summary", ["customer"])


def downgrade() -> None:
    for table in ("inventory_summary", "inventory_lines", "inventories"):
        op.drop_table(table)
