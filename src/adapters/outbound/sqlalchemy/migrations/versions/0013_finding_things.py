"""Finding things (ADR 0021): `created_at`/`updated_at` on suppliers and non-conformities, `created_at`
in the inventory projection, and an index for every filter and sort of the lists.

Existing rows get: a supplier's `updated_at` its `created_at`; an NC's `created_at` its `opened_at`
and its `updated_at` its `closed_at` (or `opened_at` while open); a projection row's `created_at` the
creation time of its inventory.

PostgreSQL: the `q=` search is `ILIKE '%…%'`, served by pg_trgm GIN indexes. pg_trgm is a trusted
extension (PostgreSQL 13+): the database's owner creates it without being a superuser. SQLite gets
the B-tree indexes only (its LIKE '%…%' reads the table whatever the index).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPOCH = "1970-01-01 00:00:00.000000"  # SQLite adds a NOT NULL column only with a constant default
NEW_COLUMNS = (("suppliers", "updated_at", "created_at"),
               ("non_conformities", "created_at", "opened_at"),
               ("non_conformities", "updated_at", "COALESCE(closed_at, opened_at)"),
               ("inventory_summary", "created_at",
                "(SELECT i.created_at FROM inventories i WHERE i.id = inventory_summary.inventory_id)"))

BTREE = (("suppliers", ("name", "id")), ("suppliers", ("created_at", "id")), ("suppliers", ("updated_at", "id")),
         ("non_conformities", ("created_at", "id")), ("non_conformities", ("updated_at", "id")),
         ("non_conformities", ("severity", "id")), ("non_conformities", ("status", "id")),
         ("orders", ("updated_at", "id")), ("orders", ("customer_name", "id")), ("orders", ("reference", "id")),
         ("inventory_summary", ("created_at", "inventory_id")), ("inventory_summary", ("updated_at", "inventory_id")),
         ("inventory_summary", ("total_items", "inventory_id")),
         ("audit_log", ("occurred_at", "id")), ("audit_log", ("entity_type", "id")))

TRIGRAM = (("ix_suppliers_name_trgm", "suppliers", "name"),
           ("ix_non_conformities_description_trgm", "non_conformities", "description"),
           ("ix_orders_customer_id_trgm", "orders", "customer_id"),
           ("ix_orders_customer_name_trgm", "orders", "customer_name"),
           ("ix_orders_reference_trgm", "orders", "reference"),
           ("ix_inventory_summary_customer_trgm", "inventory_summary", "customer"))


def _name(table: str, columns: tuple[str, ...]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column, value in NEW_COLUMNS:
        op.add_column(table, sa.Column(column, UtcDateTime, nullable=False, server_default=EPOCH))
        op.execute(f"UPDATE {table} SET {column} = {value}")
        if postgres:
            op.alter_column(table, column, server_default=None)
    for table, columns in BTREE:
        op.create_index(_name(table, columns), table, list(columns))
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM:
            op.create_index(name, table, [column], postgresql_using="gin", postgresql_ops={column: "gin_trgm_ops"})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _ in TRIGRAM:
            op.drop_index(name, table_name=table)
    for table, columns in BTREE:
        op.drop_index(_name(table, columns), table_name=table)
    for table, column, _ in reversed(NEW_COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
