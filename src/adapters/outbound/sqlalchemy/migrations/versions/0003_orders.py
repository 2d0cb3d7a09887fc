"""Orders: the aggregate and its items, the append-only order history, the fulfilment timers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import BigId, Money, UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_PG = """
CREATE FUNCTION order_history_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'order_history is append-only';
END $$;
CREATE TRIGGER order_history_append_only BEFORE UPDATE OR DELETE ON order_history
    FOR EACH ROW EXECUTE FUNCTION order_history_append_only();
"""

APPEND_ONLY_SQLITE = [
    "CREATE TRIGGER order_history_no_update BEFORE UPDATE ON order_history "
    "BEGIN SELECT RAISE(ABORT, 'order_history is append-only'); END",
    "CREATE TRIGGER order_history_no_delete BEFORE DELETE ON order_history "
    "BEGIN SELECT RAISE(ABORT, 'order_history is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("reference", sa.String(50)),
        sa.Column("customer_id", sa.String(50)),
        sa.Column("customer_name", sa.String(200)),
        sa.Column("address", sa.String(500)),
        sa.Column("facility_id", sa.String(50)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("held_from", sa.String(20)),
        sa.Column("declared_total", Money, nullable=False),
        sa.Column("total_amount", Money, nullable=False),
        sa.Column("eta", UtcDateTime),
        sa.Column("ordered_at", UtcDateTime, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.UniqueConstraint("reference", name="uq_orders_reference"),
    )
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_table(
        "order_items",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("order_id", sa.Uuid, sa.ForeignKey("orders.id", name="fk_order_items_order_id_orders"),
                  nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", Money, nullable=False),
        sa.Column("sale_price", Money, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("order_id", "sku", name="uq_order_items_order_id_sku"),
        sa.CheckConstraint("quantity > 0", name="ck_order_items_item_quantity_positive"),
    )
    op.create_table(
        "order_history",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False),
        sa.Column("order_id", sa.Uuid, nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("sku", sa.String(100)),
        sa.Column("from_status", sa.String(20)),
        sa.Column("to_status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("occurred_at", UtcDateTime, nullable=False),
        sa.Column("recorded_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("event_id", name="uq_order_history_event_id"),
    )
    op.create_index("ix_order_history_order_id_occurred_at", "order_history", ["order_id", "occurred_at"])
    op.create_table(
        "fulfilment_schedule",
        sa.Column("order_id", sa.Uuid, primary_key=True),
        sa.Column("expected_status", sa.String(20), nullable=False),
        sa.Column("due_at", UtcDateTime, nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
    )
    op.create_index("ix_fulfilment_schedule_due_at", "fulfilment_schedule", ["due_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_PG)
    else:
        for statement in APPEND_ONLY_SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER order_history_append_only ON order_history")
        op.execute("DROP FUNCTION order_history_append_only()")
    for table in ("fulfilment_schedule", "order_history", "order_items", "orders"):
        op.drop_table(table)
