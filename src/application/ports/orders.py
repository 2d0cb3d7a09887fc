"""Ports of the order context: the aggregate's repository, its history read model, the fulfilment timers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.orders import Order, OrderStatus

from application.listing import Finding
from application.pagination import Page, PageRequest
from application.ports.repositories import ConcurrentUpdate as ConcurrentUpdate  # re-exported: its first home
from application.ports.repositories import Repository


@dataclass(frozen=True)
class OrderFilter:
    status: OrderStatus | None = None
    customer_id: str | None = None
    find: Finding = Finding()


class OrderRepository(Repository[Order]):
    """`get` takes the UUID; `find` also takes the client reference. Both track the order for commit."""

    def find(self, key: str) -> Order | None:
        try:
            identity = UUID(key)
        except ValueError:
            order = self._get_by_reference(key)
        else:
            order = self._get(identity)
        if order is not None and order not in self.seen:
            self.seen.append(order)
        return order

    @abstractmethod
    def _get_by_reference(self, reference: str) -> Order | None: ...

    @abstractmethod
    def reference_taken(self, reference: str) -> bool: ...

    @abstractmethod
    def list(self, criteria: OrderFilter, page: PageRequest) -> Page[Order]:
        """Newest first unless `criteria.find` sorts otherwise."""

    @abstractmethod
    def count_by_status(self) -> dict[OrderStatus, int]: ...


@dataclass(frozen=True)
class OrderHistoryEntry:
    """One change of an order or of one of its items (`sku` set), as the history handler recorded it."""

    event_id: UUID
    order_id: UUID
    event_type: str
    sku: str | None
    from_status: str | None
    to_status: str
    reason: str | None
    actor: str
    correlation_id: str
    occurred_at: datetime
    recorded_at: datetime
    id: int | None = None


class OrderHistory(ABC):
    """Append-only; one entry per event (an entry whose event is already recorded is skipped)."""

    @abstractmethod
    def append(self, entries: Sequence[OrderHistoryEntry]) -> None: ...

    @abstractmethod
    def of_order(self, order_id: UUID, include_items: bool) -> list[OrderHistoryEntry]:
        """Oldest first."""


@dataclass(frozen=True)
class FulfilmentStep:
    """A timer of the fulfilment process: move `order_id` on from `expected_status` at `due_at`."""

    order_id: UUID
    expected_status: OrderStatus
    due_at: datetime
    correlation_id: str


class FulfilmentSchedule(ABC):
    """At most one pending step per order."""

    @abstractmethod
    def plan(self, step: FulfilmentStep) -> None:
        """Insert or replace the order's step."""

    @abstractmethod
    def drop(self, order_id: UUID) -> None: ...

    @abstractmethod
    def due(self, now: datetime, limit: int) -> list[FulfilmentStep]:
        """Steps whose time has come, earliest first."""

    @abstractmethod
    def take(self, step: FulfilmentStep) -> bool:
        """Remove exactly this step; False when another worker took it or it was replaced."""

    @abstractmethod
    def count(self) -> int: ...
