"""The supplier scorecard (ADR 0028): supplier receipts, the stored monthly scores, and an index of a
supplier's NCs by opening time.

Two new tables, nothing existing is rewritten: `supplier_receipts` (a delivery: promised and received
dates, quantities received and rejected; unique per supplier and reference) and
`supplier_score_periods` (one row per supplier and month, unique on both: inserted once with ON
CONFLICT DO NOTHING, never updated). The runtime role gets SELECT and INSERT only on both (re-apply
the grants after migrating: `supplytrace db upgrade --runtime-role NAME`). The index on
`non_conformities (supplier_id, opened_at)` serves a month's NCs of one supplier.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import Json, Percent, UtcDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "supplier_receipts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id", name="fk_supplier_receipts_supplier_id_suppliers"),
                  nullable=False),
        sa.Column("reference", sa.String(100), nullable=False),
        sa.Column("promised_date", sa.Date, nullable=False),
        sa.Column("received_date", sa.Date, nullable=False),
        sa.Column("qty_received", sa.Integer, nullable=False),
        sa.Column("qty_rejected", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.String(100), nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supplier_receipts"),
        sa.UniqueConstraint("supplier_id", "reference", name="uq_supplier_receipts_supplier_id_reference"),
        sa.CheckConstraint("qty_received > 0 AND qty_rejected >= 0 AND qty_rejected <= qty_received",
                           name="ck_supplier_receipts_quantities"),
    )
    op.create_index("ix_supplier_receipts_supplier_id_received_date_id", "supplier_receipts",
                    ["supplier_id", "received_date", "id"])
    op.create_table(
        "supplier_score_periods",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("supplier_id", sa.Integer,
                  sa.ForeignKey("suppliers.id", name="fk_supplier_score_periods_supplier_id_suppliers"), nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("quality_score", Percent),
        sa.Column("delivery_score", Percent),
        sa.Column("acceptance_score", Percent),
        sa.Column("total_score", Percent),
        sa.Column("standing", sa.String(12), nullable=False),
        sa.Column("computed_at", UtcDateTime, nullable=False),
        sa.Column("inputs", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_supplier_score_periods"),
        sa.UniqueConstraint("supplier_id", "period_start", name="uq_supplier_score_periods_supplier_id_period_start"),
    )
    op.create_index("ix_non_conformities_supplier_id_opened_at", "non_conformities", ["supplier_id", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_non_conformities_supplier_id_opened_at", table_name="non_conformities")
    op.drop_table("supplier_score_periods")
    op.drop_index("ix_supplier_receipts_supplier_id_received_date_id", table_name="supplier_receipts")
    op.drop_table("supplier_receipts")
