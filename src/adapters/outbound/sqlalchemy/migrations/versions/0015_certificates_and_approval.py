"""Supplier certificates and approval status (ADR 0025).

Suppliers get their approval status, its reason, who changed it and when, `hold_until` and
`next_evaluation_due`; the suppliers that exist are APPROVED (they were in use before statuses
existed), with a reason that says so. A new table holds the certificate records, withdrawn but
never deleted, with an index for the certificates in force by expiry date.

Revision ID: 0015
Revises: 0013 (re-chained after 0014 when merged)
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIGRATED_REASON = "approved before approval statuses existed (migration 0015)"
ACTIVE = sa.text("withdrawn_at IS NULL")


def upgrade() -> None:
    op.add_column("suppliers", sa.Column("approval_status", sa.String(12), nullable=False,
                                         server_default="APPROVED"))
    op.add_column("suppliers", sa.Column("status_reason", sa.Text))
    op.add_column("suppliers", sa.Column("status_changed_by", sa.String(100)))
    op.add_column("suppliers", sa.Column("status_changed_at", UtcDateTime))
    op.add_column("suppliers", sa.Column("hold_until", sa.Date))
    op.add_column("suppliers", sa.Column("next_evaluation_due", sa.Date))
    op.execute(sa.text("UPDATE suppliers SET status_reason = :reason").bindparams(reason=MIGRATED_REASON))
    op.create_index("ix_suppliers_approval_status", "suppliers", ["approval_status"])
    op.create_table(
        "supplier_certificates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id", name="fk_supplier_certificates_supplier_id_suppliers"),
                  nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("issuer", sa.String(200), nullable=False),
        sa.Column("issued_on", sa.Date, nullable=False),
        sa.Column("expires_on", sa.Date, nullable=False),
        sa.Column("required", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("withdrawn_at", UtcDateTime),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_supplier_certificates"),
    )
    op.create_index("ix_supplier_certificates_supplier_id_id", "supplier_certificates", ["supplier_id", "id"])
    op.create_index("ix_supplier_certificates_active_expiry", "supplier_certificates", ["expires_on"],
                    postgresql_where=ACTIVE, sqlite_where=ACTIVE)


def downgrade() -> None:
    op.drop_index("ix_supplier_certificates_active_expiry", table_name="supplier_certificates")
    op.drop_index("ix_supplier_certificates_supplier_id_id", table_name="supplier_certificates")
    op.drop_table("supplier_certificates")
    op.drop_index("ix_suppliers_approval_status", table_name="suppliers")
    with op.batch_alter_table("suppliers") as batch:
        for column in ("next_evaluation_due", "hold_until", "status_changed_at", "status_changed_by",
                       "status_reason", "approval_status"):
            batch.drop_column(column)
