"""In-memory order repository, order history and fulfilment timers."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from datetime import datetime
from uuid import UUID

from application import listing
from application.pagination import Page, PageRequest
from application.ports import counters as names
from application.ports.orders import (
    FulfilmentSchedule,
    FulfilmentStep,
    OrderFilter,
    OrderHistory,
    OrderHistoryEntry,
    OrderRepository,
)
from domain.errors import Conflict
from domain.orders import Order, OrderStatus

from adapters.outbound.counting import order_tally
from adapters.outbound.memory.counters import MemoryCounters
from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.finding import find
from adapters.outbound.memory.versions import Versions
from adapters.outbound.memory.repositories import paginate


class MemoryOrderRepository(OrderRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state, self.counters = state, MemoryCounters(state)
        self.tally = order_tally(self.counters)
        self.versions = Versions()

    def _add(self, order: Order) -> None:
        if order.reference is not None and self.reference_taken(order.reference):
            raise Conflict(f"an order with order_id {order.reference} exists already")
        self.state.orders[order.id] = order
        self.tally.inserted(order)
        self.versions.added(order)

    def flush(self) -> None:
        self.tally.flush(self.seen)  # orders are changed in place: count their state changes
        self.versions.flush()

    def _get(self, identity: Hashable) -> Order | None:
        return self._tracked(self.state.orders.get(identity))  # type: ignore[call-overload]

    def _tracked(self, order: Order | None) -> Order | None:
        if order is not None:
            self.tally.loaded(order)
            self.versions.loaded(order)
        return order

    def _get_by_reference(self, reference: str) -> Order | None:
        return self._tracked(next((o for o in self.state.orders.values() if o.reference == reference), None))

    def reference_taken(self, reference: str) -> bool:
        return self._get_by_reference(reference) is not None

    def list(self, criteria: OrderFilter, page: PageRequest) -> Page[Order]:
        matching = [
            o for o in self.state.orders.values()
            if (criteria.status is None or o.status is criteria.status)
            and (criteria.customer_id is None or o.customer_id == criteria.customer_id)
        ]
        fields = {"created_at": lambda o: o.created_at, "updated_at": lambda o: o.updated_at,
                  "status": lambda o: o.status.value, "customer_id": lambda o: o.customer_id,
                  "customer_name": lambda o: o.customer_name, "order_id": lambda o: o.reference, "id": lambda o: str(o.id)}
        search = [lambda o: o.customer_id, lambda o: o.customer_name, lambda o: o.reference]
        return paginate(find(matching, criteria.find, listing.ORDERS, fields, search, lambda o: o.created_at), page)

    def count_by_status(self) -> dict[OrderStatus, int]:
        values = self.counters.read([names.order(status.value) for status in OrderStatus])
        return {status: values[names.order(status.value)] for status in OrderStatus}


class MemoryOrderHistory(OrderHistory):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def append(self, entries: Sequence[OrderHistoryEntry]) -> None:
        recorded = {e.event_id for e in self.state.order_history}
        for entry in entries:
            if entry.event_id not in recorded:
                recorded.add(entry.event_id)
                self.state.order_history.append(dataclasses.replace(entry, id=self.state.next_id("order_history")))

    def of_order(self, order_id: UUID, include_items: bool) -> list[OrderHistoryEntry]:
        entries = [e for e in self.state.order_history
                   if e.order_id == order_id and (include_items or e.sku is None)]
        return sorted(entries, key=lambda e: (e.occurred_at, e.id or 0))


class MemoryFulfilmentSchedule(FulfilmentSchedule):
    def __init__(self, state: MemoryState) -> None:
        self.state, self.counters = state, MemoryCounters(state)

    def plan(self, step: FulfilmentStep) -> None:
        self.drop(step.order_id)
        self.state.fulfilment[step.order_id] = step
        self.counters.add(names.FULFILMENT_PLANNED)

    def drop(self, order_id: UUID) -> None:
        if self.state.fulfilment.pop(order_id, None) is not None:
            self.counters.add(names.FULFILMENT_PLANNED, -1)

    def due(self, now: datetime, limit: int) -> list[FulfilmentStep]:
        steps = sorted((s for s in self.state.fulfilment.values() if s.due_at <= now), key=lambda s: s.due_at)
        return steps[:limit]

    def take(self, step: FulfilmentStep) -> bool:
        if self.state.fulfilment.get(step.order_id) != step:
            return False
        del self.state.fulfilment[step.order_id]
        self.counters.add(names.FULFILMENT_PLANNED, -1)
        return True

    def count(self) -> int:
        return self.counters.read([names.FULFILMENT_PLANNED])[names.FULFILMENT_PLANNED]
