"""Inventory repository and `inventory_summary` projection on SQLAlchemy Core (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from application import listing
from application.pagination import Page, PageRequest
from application.ports.inventories import (
    InventoryFilter,
    InventoryRepository,
    InventorySummary,
    InventorySummaryStore,
)
from domain.inventories import Inventory, InventoryLine

from adapters.outbound.sqlalchemy.aggregates import TableMapper, fetch_page
from adapters.outbound.sqlalchemy.finding import find
from adapters.outbound.sqlalchemy.tables import (
    UtcDateTime,
    inventories,
    inventory_lines,
    inventory_summary,
    outbox_events,
    processed_events,
)

i, l, s = inventories.c, inventory_lines.c, inventory_summary.c


def inventory_row(inventory: Inventory) -> dict[str, Any]:
    return {"customer": inventory.customer, "expiry_date": inventory.expiry_date,
            "created_at": inventory.created_at, "deleted_at": inventory.deleted_at}


def inventory_from(row: sa.Row) -> Inventory:
    return Inventory(customer=row.customer, expiry_date=row.expiry_date, created_at=row.created_at,
                     deleted_at=row.deleted_at, id=row.id, version=row.version)


def line_from(row: sa.Row) -> InventoryLine:
    return InventoryLine(product=row.product, quantity=row.quantity, added_at=row.added_at, id=row.id)


def _lock_tables(conn: sa.Connection, tables: str, mode: str) -> None:
    # SQLite needs no lock: BEGIN IMMEDIATE already lets one writer in at a time
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"LOCK TABLE {tables} IN {mode} MODE"))


class SqlInventoryRepository(InventoryRepository):
    def __init__(self, conn: sa.Connection) -> None:
        super().__init__()
        self.conn = conn
        self.mapper = TableMapper(conn, inventories, inventory_row, inventory_from)

    def flush(self) -> None:
        self.mapper.flush(self.seen)

    def _add(self, inventory: Inventory) -> None:
        self.mapper.insert(inventory)
        for line in inventory.lines:
            self._insert_line(inventory, line)

    def _get(self, identity: int) -> Inventory | None:
        # FOR UPDATE (PostgreSQL): commands on one inventory run one after the other, so a line
        # can never slip in beside its deletion and line ids follow the order of the events
        query = sa.select(inventories).where(i.id == identity).with_for_update()
        row = self.conn.execute(query).one_or_none()
        if row is None:
            return None
        inventory = inventory_from(row)
        inventory.lines = self._lines(identity)
        self.mapper.snapshots[identity] = inventory_row(inventory)
        return inventory

    def _lines(self, inventory_id: int) -> list[InventoryLine]:
        query = sa.select(inventory_lines).where(l.inventory_id == inventory_id).order_by(l.id)
        return [line_from(r) for r in self.conn.execute(query)]

    def add_line(self, inventory: Inventory, line: InventoryLine) -> None:
        self._insert_line(inventory, line)
        self.mapper.touch(inventory)  # a new line is a new version of the inventory

    def version(self, inventory_id: int) -> int | None:
        return self.conn.execute(sa.select(i.version).where(i.id == inventory_id)).scalar_one_or_none()

    def _insert_line(self, inventory: Inventory, line: InventoryLine) -> None:
        result = self.conn.execute(sa.insert(inventory_lines).values(
            inventory_id=inventory.id, product=line.product, quantity=line.quantity, added_at=line.added_at))
        line.id = result.inserted_primary_key[0]

    def live_lines(self, inventory_id: int) -> list[InventoryLine] | None:
        live = sa.select(sa.literal(1)).where(i.id == inventory_id, i.deleted_at.is_(None))
        if self.conn.execute(live).first() is None:
            return None
        return self._lines(inventory_id)

    def summaries(self) -> list[InventorySummary]:
        per_inventory = (sa.select(l.inventory_id, sa.func.sum(l.quantity).label("total"),
                                   sa.func.count().label("lines"), sa.func.max(l.id).label("last_id"))
                         .group_by(l.inventory_id).subquery())
        last = inventory_lines.alias("last_line")
        query = (
            sa.select(i.id, i.customer, i.expiry_date, i.created_at,
                      sa.func.coalesce(per_inventory.c.total, 0).label("total"),
                      sa.func.coalesce(per_inventory.c.lines, 0).label("lines"),
                      sa.func.coalesce(last.c.added_at, i.created_at, type_=UtcDateTime).label("updated_at"))
            .select_from(inventories.outerjoin(per_inventory, per_inventory.c.inventory_id == i.id)
                         .outerjoin(last, last.c.id == per_inventory.c.last_id))
            .where(i.deleted_at.is_(None))
            .order_by(i.id)
        )
        return [InventorySummary(r.id, r.customer, int(r.total), int(r.lines), r.expiry_date, r.updated_at,
                                 r.created_at)
                for r in self.conn.execute(query)]

    def lock_writers(self) -> None:
        # SHARE conflicts with the ROW EXCLUSIVE lock of every insert and update: writers in flight
        # are waited for, new ones wait until this transaction ends; readers go on
        _lock_tables(self.conn, "inventories, inventory_lines", "SHARE")


def summary_from(row: sa.Row) -> InventorySummary:
    return InventorySummary(row.inventory_id, row.customer, int(row.total_items), row.line_count, row.expiry_date,
                            row.updated_at, row.created_at)


def _summary_values(summary: InventorySummary) -> dict[str, Any]:
    return {"customer": summary.customer, "total_items": summary.total_items, "line_count": summary.line_count,
            "expiry_date": summary.expiry_date, "updated_at": summary.updated_at,
            "created_at": summary.created_at}


class SqlInventorySummaryStore(InventorySummaryStore):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def _insert(self, table: sa.Table) -> Any:
        """INSERT … ON CONFLICT DO NOTHING of the dialect; its rowcount tells how many rows went in."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        # psycopg reports an INSERT's rowcount to SQLAlchemy only when asked to keep it
        return dialect.insert(table).execution_options(preserve_rowcount=True)

    def get(self, inventory_id: int) -> InventorySummary | None:
        row = self.conn.execute(sa.select(inventory_summary).where(s.inventory_id == inventory_id)).one_or_none()
        return summary_from(row) if row else None

    def list(self, criteria: InventoryFilter, page: PageRequest) -> Page[InventorySummary]:
        query = sa.select(inventory_summary)
        if criteria.customer is not None:
            query = query.where(s.customer == criteria.customer)
        if criteria.expiring_before is not None:
            query = query.where(s.expiry_date < criteria.expiring_before)
        query, order = find(query, criteria.find, listing.INVENTORIES, s, [s.customer], s.created_at)
        return fetch_page(self.conn, query, order, page, summary_from)

    def all(self) -> list[InventorySummary]:
        return [summary_from(r) for r in self.conn.execute(sa.select(inventory_summary).order_by(s.inventory_id))]

    def insert(self, summary: InventorySummary) -> bool:
        statement = (self._insert(inventory_summary)
                     .values(inventory_id=summary.inventory_id, **_summary_values(summary))
                     .on_conflict_do_nothing(index_elements=["inventory_id"]))
        return self.conn.execute(statement).rowcount == 1

    def add_line(self, inventory_id: int, quantity: int, at: datetime) -> bool:
        statement = (sa.update(inventory_summary).where(s.inventory_id == inventory_id)
                     .values(total_items=s.total_items + quantity, line_count=s.line_count + 1, updated_at=at))
        return self.conn.execute(statement).rowcount == 1

    def replace(self, summary: InventorySummary) -> None:
        self.conn.execute(sa.update(inventory_summary).where(s.inventory_id == summary.inventory_id)
                          .values(**_summary_values(summary)))

    def delete(self, inventory_id: int) -> bool:
        return self.conn.execute(sa.delete(inventory_summary).where(s.inventory_id == inventory_id)).rowcount == 1

    def lock(self) -> None:
        # EXCLUSIVE lets readers in but no other writer: projection handlers wait for the rebuild,
        # then find their event marked applied and roll back
        _lock_tables(self.conn, "inventory_summary", "EXCLUSIVE")

    def _unapplied(self, handler: str, aggregate_type: str) -> sa.Select:
        o, p = outbox_events.c, processed_events.c
        applied = sa.exists().where(p.handler == handler, p.event_id == o.event_id)
        return sa.select(o.event_id).where(o.aggregate_type == aggregate_type, ~applied)

    def count_unapplied(self, handler: str, aggregate_type: str) -> int:
        query = sa.select(sa.func.count()).select_from(self._unapplied(handler, aggregate_type).subquery())
        return self.conn.execute(query).scalar_one()

    def mark_applied(self, handler: str, aggregate_type: str, now: datetime) -> int:
        o = outbox_events.c
        rows = self._unapplied(handler, aggregate_type).with_only_columns(
            sa.literal(handler, sa.String).label("handler"), o.event_id,
            sa.literal(now, UtcDateTime).label("processed_at"))
        statement = (self._insert(processed_events)
                     .from_select(["handler", "event_id", "processed_at"], rows)
                     .on_conflict_do_nothing(index_elements=["handler", "event_id"]))
        return self.conn.execute(statement).rowcount
