"""Orders on SQL: the aggregate with its items (optimistic version check), history and fulfilment timers."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from application import listing
from application.pagination import Page, PageRequest
from application.ports.counters import FULFILMENT_PLANNED, Counters
from application.ports.counters import order as order_counter
from application.ports.orders import (
    ConcurrentUpdate,
    FulfilmentSchedule,
    FulfilmentStep,
    OrderFilter,
    OrderHistory,
    OrderHistoryEntry,
    OrderRepository,
)
from domain.errors import Conflict
from domain.orders import ItemStatus, Order, OrderItem, OrderStatus

from adapters.outbound.counting import order_tally
from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.finding import find
from adapters.outbound.sqlalchemy.bulk import bulk_insert
from adapters.outbound.sqlalchemy.integrity import duplicate_key
from adapters.outbound.sqlalchemy.tables import fulfilment_schedule, order_history, order_items, orders

Rows = tuple[dict[str, Any], list[dict[str, Any]]]


def _order_row(o: Order) -> dict[str, Any]:
    return {"reference": o.reference, "customer_id": o.customer_id, "customer_name": o.customer_name,
            "address": o.address, "facility_id": o.facility_id, "status": o.status.value,
            "held_from": o.held_from.value if o.held_from else None, "declared_total": o.declared_total,
            "total_amount": o.total_amount, "eta": o.eta, "ordered_at": o.ordered_at, "created_at": o.created_at,
            "updated_at": o.updated_at}


def _item_row(item: OrderItem) -> dict[str, Any]:
    return {"sku": item.sku, "quantity": item.quantity, "unit_price": item.unit_price,
            "sale_price": item.sale_price, "status": item.status.value, "updated_at": item.updated_at}


def _rows(order: Order) -> Rows:
    return _order_row(order), [_item_row(item) for item in order.items]


def _order_from(row: sa.Row, items: list[sa.Row]) -> Order:
    return Order(
        id=row.id, reference=row.reference, customer_id=row.customer_id, customer_name=row.customer_name,
        address=row.address, facility_id=row.facility_id, eta=row.eta, ordered_at=row.ordered_at,
        created_at=row.created_at, updated_at=row.updated_at, status=OrderStatus(row.status),
        held_from=OrderStatus(row.held_from) if row.held_from else None, declared_total=row.declared_total,
        version=row.version,
        items=[OrderItem(sku=i.sku, quantity=i.quantity, unit_price=i.unit_price, sale_price=i.sale_price,
                         status=ItemStatus(i.status), updated_at=i.updated_at) for i in items],
    )


class SqlOrderRepository(OrderRepository):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        super().__init__()
        self.conn, self.counters = conn, counters
        self.snapshots: dict[UUID, Rows] = {}
        self.tally = order_tally(counters)

    def _add(self, order: Order) -> None:
        row, items = _rows(order)
        try:
            with self.conn.begin_nested():
                self.conn.execute(sa.insert(orders).values(id=order.id, version=1, **row))
                if items:
                    self.conn.execute(sa.insert(order_items),
                                      [{"order_id": order.id, "position": i, **item} for i, item in enumerate(items)])
        except sa.exc.IntegrityError as error:
            if duplicate_key(error, "orders"):
                raise Conflict(f"an order with order_id {order.reference} exists already") from error
            raise
        order.version = 1
        self.snapshots[order.id] = (row, items)
        self.tally.inserted(order)

    def _load(self, where: sa.ColumnElement[bool]) -> Order | None:
        row = self.conn.execute(sa.select(orders).where(where)).one_or_none()
        if row is None:
            return None
        items = self.conn.execute(
            sa.select(order_items).where(order_items.c.order_id == row.id).order_by(order_items.c.position)
        ).all()
        order = _order_from(row, items)
        self.snapshots[order.id] = _rows(order)
        self.tally.loaded(order)
        return order

    def _get(self, identity: Hashable) -> Order | None:
        if not isinstance(identity, UUID):
            return None
        return self._load(orders.c.id == identity)

    def _get_by_reference(self, reference: str) -> Order | None:
        return self._load(orders.c.reference == reference)

    def reference_taken(self, reference: str) -> bool:
        query = sa.select(sa.literal(1)).where(orders.c.reference == reference)
        return self.conn.execute(query).first() is not None

    def flush(self) -> None:
        """Write back the orders that changed; a version mismatch means another transaction won."""
        for order in self.seen:
            row, items = _rows(order)
            old_row, old_items = self.snapshots[order.id]
            if (row, items) == (old_row, old_items):
                continue
            updated = self.conn.execute(
                sa.update(orders).where(orders.c.id == order.id, orders.c.version == order.version)
                .values(version=order.version + 1, **row)
            )
            if updated.rowcount != 1:
                raise ConcurrentUpdate(f"order {order.label} was changed by another request; try again")
            if [i["sku"] for i in items] != [i["sku"] for i in old_items]:  # replaced (PUT /orders/{id})
                self.conn.execute(sa.delete(order_items).where(order_items.c.order_id == order.id))
                if items:
                    self.conn.execute(sa.insert(order_items), [{"order_id": order.id, "position": i, **item}
                                                               for i, item in enumerate(items)])
            else:
                for position, (item, old) in enumerate(zip(items, old_items, strict=True)):
                    if item != old:
                        self.conn.execute(sa.update(order_items).where(
                            order_items.c.order_id == order.id, order_items.c.position == position).values(**item))
            order.version += 1
            self.snapshots[order.id] = (row, items)
        self.tally.flush(self.seen)

    def list(self, criteria: OrderFilter, page: PageRequest) -> Page[Order]:
        c = orders.c
        clauses = []
        if criteria.status is not None:
            clauses.append(c.status == criteria.status.value)
        if criteria.customer_id is not None:
            clauses.append(c.customer_id == criteria.customer_id)
        total = None
        if criteria.customer_id is None and not criteria.find.narrows:
            counts = self.count_by_status()
            total = counts[criteria.status] if criteria.status is not None else sum(counts.values())
        columns = {"created_at": c.created_at, "updated_at": c.updated_at, "status": c.status, "id": c.id,
                   "customer_id": c.customer_id, "customer_name": c.customer_name, "order_id": c.reference}
        query, order = find(sa.select(orders).where(*clauses), criteria.find, listing.ORDERS, columns,
                            [c.customer_id, c.customer_name, c.reference], c.created_at)
        page_of_rows = fetch_page(self.conn, query, order, page, lambda row: row, total)
        rows = page_of_rows.items
        items: dict[UUID, list[sa.Row]] = {row.id: [] for row in rows}
        if rows:
            query = sa.select(order_items).where(order_items.c.order_id.in_(list(items)))
            for item in self.conn.execute(query.order_by(order_items.c.order_id, order_items.c.position)):
                items[item.order_id].append(item)
        return dataclasses.replace(page_of_rows, items=[_order_from(row, items[row.id]) for row in rows])

    def count_by_status(self) -> dict[OrderStatus, int]:
        values = self.counters.read([order_counter(status.value) for status in OrderStatus])
        return {status: values[order_counter(status.value)] for status in OrderStatus}


def _entry(row: sa.Row) -> OrderHistoryEntry:
    return OrderHistoryEntry(
        event_id=row.event_id, order_id=row.order_id, event_type=row.event_type, sku=row.sku,
        from_status=row.from_status, to_status=row.to_status, reason=row.reason, actor=row.actor,
        correlation_id=row.correlation_id, occurred_at=row.occurred_at, recorded_at=row.recorded_at, id=row.id,
    )


class SqlOrderHistory(OrderHistory):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def append(self, entries: Sequence[OrderHistoryEntry]) -> None:
        if entries:
            rows = [{k: v for k, v in entry.__dict__.items() if k != "id"} for entry in entries]
            bulk_insert(self.conn, order_history, rows, skip_existing=True)

    def of_order(self, order_id: UUID, include_items: bool) -> list[OrderHistoryEntry]:
        h = order_history.c
        query = sa.select(order_history).where(h.order_id == order_id)
        if not include_items:
            query = query.where(h.sku.is_(None))
        return [_entry(r) for r in self.conn.execute(query.order_by(h.occurred_at, h.id))]


class SqlFulfilmentSchedule(FulfilmentSchedule):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        self.conn, self.counters = conn, counters

    def plan(self, step: FulfilmentStep) -> None:
        self.drop(step.order_id)
        self.conn.execute(sa.insert(fulfilment_schedule).values(
            order_id=step.order_id, expected_status=step.expected_status.value, due_at=step.due_at,
            correlation_id=step.correlation_id))
        self.counters.add(FULFILMENT_PLANNED)

    def drop(self, order_id: UUID) -> None:
        deleted = self.conn.execute(sa.delete(fulfilment_schedule).where(fulfilment_schedule.c.order_id == order_id))
        self.counters.add(FULFILMENT_PLANNED, -deleted.rowcount)

    def due(self, now: datetime, limit: int) -> list[FulfilmentStep]:
        f = fulfilment_schedule.c
        query = sa.select(fulfilment_schedule).where(f.due_at <= now).order_by(f.due_at).limit(limit)
        return [FulfilmentStep(order_id=r.order_id, expected_status=OrderStatus(r.expected_status), due_at=r.due_at,
                               correlation_id=r.correlation_id) for r in self.conn.execute(query)]

    def take(self, step: FulfilmentStep) -> bool:
        f = fulfilment_schedule.c
        deleted = self.conn.execute(sa.delete(fulfilment_schedule).where(
            f.order_id == step.order_id, f.expected_status == step.expected_status.value, f.due_at == step.due_at))
        self.counters.add(FULFILMENT_PLANNED, -deleted.rowcount)
        return deleted.rowcount == 1

    def count(self) -> int:
        return self.counters.read([FULFILMENT_PLANNED])[FULFILMENT_PLANNED]
