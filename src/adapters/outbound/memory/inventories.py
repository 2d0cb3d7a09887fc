"""In-memory inventory repository and `inventory_summary` projection."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from application import listing
from application.pagination import Page, PageRequest
from application.ports.inventories import (
    InventoryFilter,
    InventoryRepository,
    InventorySummary,
    InventorySummaryStore,
)
from domain.inventories import Inventory, InventoryLine

from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.finding import find
from adapters.outbound.memory.versions import Versions
from adapters.outbound.memory.repositories import paginate


class MemoryInventoryRepository(InventoryRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state = state
        self.versions = Versions()

    def _add(self, inventory: Inventory) -> None:
        inventory.id = self.state.next_id("inventories")
        self.state.inventories[inventory.id] = inventory
        self.versions.added(inventory)

    def flush(self) -> None:
        self.versions.flush()

    def _get(self, identity: int) -> Inventory | None:
        inventory = self.state.inventories.get(identity)
        if inventory is not None:
            self.versions.loaded(inventory)
        return inventory

    def version(self, inventory_id: int) -> int | None:
        inventory = self.state.inventories.get(inventory_id)
        return inventory.version if inventory is not None else None

    def add_line(self, inventory: Inventory, line: InventoryLine) -> None:
        line.id = self.state.next_id("inventory_lines")

    def live_lines(self, inventory_id: int) -> list[InventoryLine] | None:
        inventory = self.state.inventories.get(inventory_id)
        if inventory is None or inventory.deleted:
            return None
        return sorted(inventory.lines, key=lambda line: line.id or 0)

    def summaries(self) -> list[InventorySummary]:
        return [
            InventorySummary(i.id, i.customer, i.total_items, len(i.lines), i.expiry_date, i.last_change,
                             i.created_at)
            for i in self.state.inventories.values()
            if i.id is not None and not i.deleted
        ]

    def lock_writers(self) -> None:
        return None  # one memory transaction at a time already


class MemoryInventorySummaryStore(InventorySummaryStore):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def get(self, inventory_id: int) -> InventorySummary | None:
        return self.state.inventory_summary.get(inventory_id)

    def list(self, criteria: InventoryFilter, page: PageRequest) -> Page[InventorySummary]:
        rows = [
            s for s in self.state.inventory_summary.values()
            if (criteria.customer is None or s.customer == criteria.customer)
            and (criteria.expiring_before is None or s.expiry_date < criteria.expiring_before)
        ]
        fields = {name: (lambda s, name=name: getattr(s, name)) for name in listing.INVENTORIES.sortable}
        return paginate(find(rows, criteria.find, listing.INVENTORIES, fields, [lambda s: s.customer],
                             lambda s: s.created_at), page)

    def all(self) -> list[InventorySummary]:
        return sorted(self.state.inventory_summary.values(), key=lambda s: s.inventory_id)

    def insert(self, summary: InventorySummary) -> bool:
        if summary.inventory_id in self.state.inventory_summary:
            return False
        self.state.inventory_summary[summary.inventory_id] = summary
        return True

    def add_line(self, inventory_id: int, quantity: int, at: datetime) -> bool:
        row = self.state.inventory_summary.get(inventory_id)
        if row is None:
            return False
        self.state.inventory_summary[inventory_id] = dataclasses.replace(
            row, total_items=row.total_items + quantity, line_count=row.line_count + 1, updated_at=at)
        return True

    def replace(self, summary: InventorySummary) -> None:
        self.state.inventory_summary[summary.inventory_id] = summary

    def delete(self, inventory_id: int) -> bool:
        return self.state.inventory_summary.pop(inventory_id, None) is not None

    def lock(self) -> None:
        return None

    def _unapplied(self, handler: str, aggregate_type: str) -> list:
        return [
            event_id for event_id, row in self.state.outbox.items()
            if row.record.envelope.aggregate_type == aggregate_type and (handler, event_id) not in self.state.processed
        ]

    def count_unapplied(self, handler: str, aggregate_type: str) -> int:
        return len(self._unapplied(handler, aggregate_type))

    def mark_applied(self, handler: str, aggregate_type: str, now: datetime) -> int:
        unapplied = self._unapplied(handler, aggregate_type)
        for event_id in unapplied:
            self.state.processed[(handler, event_id)] = now
        return len(unapplied)
