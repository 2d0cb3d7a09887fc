"""KPI counters kept by the writers' transactions (ADR 0012), backfilled from the rows they count;
an index of the open high NCs for the at-risk rule; list indexes in page order.

Run it with the service stopped (as every migration): the backfill counts the rows as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_HIGH = sa.text("status = 'OPEN' AND severity = 'high'")

# counter name → the rows it counts (names as in application/ports/counters.py); slot 0 holds them
BACKFILL = (
    "SELECT 'nc:' || status || ':' || severity AS name, count(*) AS n FROM non_conformities GROUP BY status, severity",
    # the hot outbox and its archive together (an archived row is PUBLISHED)
    "SELECT 'outbox:' || status AS name, count(*) AS n FROM "
    "(SELECT status FROM outbox_events UNION ALL SELECT status FROM outbox_archive) AS rows GROUP BY status",
    "SELECT 'orders:' || status AS name, count(*) AS n FROM orders GROUP BY status",
    "SELECT 'audit:' || entity_type || ':' || action AS name, count(*) AS n FROM audit_log "
    "GROUP BY entity_type, action",
    "SELECT 'suppliers' AS name, count(*) AS n FROM suppliers",
    "SELECT 'fulfilment:planned' AS name, count(*) AS n FROM fulfilment_schedule",
    "SELECT 'unapplied:inventory_projection' AS name, count(*) AS n FROM "
    "(SELECT event_id, aggregate_type FROM outbox_events UNION ALL "
    "SELECT event_id, aggregate_type FROM outbox_archive) AS o "
    "WHERE o.aggregate_type = 'inventory' AND NOT EXISTS (SELECT 1 FROM processed_events p "
    "WHERE p.handler = 'inventory_projection' AND p.event_id = o.event_id)",
)


def upgrade() -> None:
    op.create_table(
        "kpi_counters",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        postgresql_with={"fillfactor": 50},
    )
    for query in BACKFILL:
        op.execute(f"INSERT INTO kpi_counters (name, slot, value) SELECT name, 0, n FROM ({query}) AS counted")
    op.create_index("ix_non_conformities_open_high", "non_conformities", ["supplier_id"],
                    postgresql_where=OPEN_HIGH, sqlite_where=OPEN_HIGH)
    # a page of one status / event type, newest first, read from the index instead of sorting every match
    op.create_index("ix_orders_status_created_at_id", "orders", ["status", "created_at", "id"])
    op.drop_index("ix_orders_status", "orders")
    op.create_index("ix_audit_log_action_id", "audit_log", ["action", "id"])
    op.drop_index("ix_audit_log_action", "audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.drop_index("ix_audit_log_action_id", "audit_log")
    op.create_index("ix_orders_status", "orders", ["status"])
    op.drop_index("ix_orders_status_created_at_id", "orders")
    op.drop_index("ix_non_conformities_open_high", "non_conformities")
    op.drop_table("kpi_counters")
