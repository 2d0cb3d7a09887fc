"""Inventory ports: the write model's repository and the `inventory_summary` read projection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

from domain.inventories import Inventory, InventoryLine

from application.listing import Finding
from application.pagination import Page, PageRequest
from application.ports.repositories import Repository


@dataclass(frozen=True)
class InventorySummary:
    """One row of the projection; `updated_at` is when the inventory last changed, `created_at` when it was
    created (event times)."""

    inventory_id: int
    customer: str
    total_items: int
    line_count: int
    expiry_date: date
    updated_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class InventoryFilter:
    customer: str | None = None
    expiring_before: date | None = None
    find: Finding = Finding()


class InventoryRepository(Repository[Inventory]):
    """`get` returns deleted inventories too (with their lines) and, on SQL, locks the row until commit."""

    @abstractmethod
    def add_line(self, inventory: Inventory, line: InventoryLine) -> None:
        """Persist a line already appended to `inventory` and give it its id."""

    @abstractmethod
    def version(self, inventory_id: int) -> int | None:
        """The inventory's version (its ETag), deleted or not; None when it never existed. No lock."""

    @abstractmethod
    def live_lines(self, inventory_id: int) -> list[InventoryLine] | None:
        """The lines of a live inventory, oldest first; None when it is unknown or deleted. No lock."""

    @abstractmethod
    def summaries(self) -> list[InventorySummary]:
        """Every live inventory's summary, recomputed from the write model."""

    @abstractmethod
    def lock_writers(self) -> None:
        """Keep every inventory writer out until this transaction ends (waiting for those in flight)."""


class InventorySummaryStore(ABC):
    """The read projection. Only the projection handler and the rebuild write it."""

    @abstractmethod
    def get(self, inventory_id: int) -> InventorySummary | None: ...

    @abstractmethod
    def list(self, criteria: InventoryFilter, page: PageRequest) -> Page[InventorySummary]:
        """Matching rows, latest expiry date first (then newest inventory first)."""

    @abstractmethod
    def all(self) -> list[InventorySummary]: ...

    @abstractmethod
    def insert(self, summary: InventorySummary) -> bool:
        """Add a row; returns False, changing nothing, when the inventory already has one."""

    @abstractmethod
    def add_line(self, inventory_id: int, quantity: int, at: datetime) -> bool:
        """Count one more line of `quantity` items; returns False when the inventory has no row."""

    @abstractmethod
    def replace(self, summary: InventorySummary) -> None:
        """Overwrite an existing row."""

    @abstractmethod
    def delete(self, inventory_id: int) -> bool:
        """Remove a row; returns False when there was none."""

    @abstractmethod
    def lock(self) -> None:
        """Keep every other writer of the projection out until this transaction ends."""

    @abstractmethod
    def count_unapplied(self, handler: str, aggregate_type: str) -> int:
        """Outbox events of `aggregate_type` that `handler` has not processed yet (the projection lag)."""

    @abstractmethod
    def mark_applied(self, handler: str, aggregate_type: str, now: datetime) -> int:
        """Record every such event as processed by `handler`; returns how many were marked."""
