"""Inventory aggregate: a customer's stock with lines, deleted softly so every line stays traceable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.errors import Conflict, ValidationError
from domain.events import DomainEvent
from domain.text import required_text

CUSTOMER_MAX_LENGTH = 200
PRODUCT_MAX_LENGTH = 200
QUANTITY_MAX = 1_000_000


@dataclass(frozen=True, kw_only=True)
class InventoryCreated(DomainEvent):
    event_type = "INVENTORY_CREATED"
    aggregate_type = "inventory"
    inventory_id: int
    customer: str
    expiry_date: date

    @property
    def aggregate_id(self) -> str:
        return str(self.inventory_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return self.initial("customer", "expiry_date")


@dataclass(frozen=True, kw_only=True)
class InventoryLineAdded(DomainEvent):
    event_type = "INVENTORY_LINE_ADDED"
    aggregate_type = "inventory"
    inventory_id: int
    line_id: int
    product: str
    quantity: int

    @property
    def aggregate_id(self) -> str:
        return str(self.inventory_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [(f"lines[{self.line_id}]", None, {"product": self.product, "quantity": self.quantity})]


@dataclass(frozen=True, kw_only=True)
class InventoryDeleted(DomainEvent):
    event_type = "INVENTORY_DELETED"
    aggregate_type = "inventory"
    inventory_id: int

    @property
    def aggregate_id(self) -> str:
        return str(self.inventory_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("deleted_at", None, self.occurred_at)]


@dataclass(eq=False)
class InventoryLine:
    product: str
    quantity: int
    added_at: datetime
    id: int | None = None

    @classmethod
    def new(cls, product: str, quantity: int, now: datetime) -> InventoryLine:
        return cls(product=required_text("product", product, PRODUCT_MAX_LENGTH), quantity=_valid_quantity(quantity),
                   added_at=now)


@dataclass(eq=False)
class Inventory:
    customer: str
    expiry_date: date
    created_at: datetime
    deleted_at: datetime | None = None
    lines: list[InventoryLine] = field(default_factory=list)
    id: int | None = None
    version: int = 0  # set by the repository: 1 once stored, +1 by every transaction that changes it
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def create(cls, customer: str, expiry_date: date, now: datetime) -> Inventory:
        if not isinstance(expiry_date, date) or isinstance(expiry_date, datetime):
            raise ValidationError("expiry_date", "must be a date")
        return cls(customer=required_text("customer", customer, CUSTOMER_MAX_LENGTH), expiry_date=expiry_date,
                   created_at=now)

    def record_creation(self) -> None:
        """Record INVENTORY_CREATED once the repository has given the inventory its id."""
        self.events.append(InventoryCreated(occurred_at=self.created_at, inventory_id=self._identity(),
                                            customer=self.customer, expiry_date=self.expiry_date))

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    def add_line(self, line: InventoryLine) -> None:
        """Append a validated line; record it with `record_line_added` once it has an id."""
        self._refuse_if_deleted()
        self.lines.append(line)

    def record_line_added(self, line: InventoryLine) -> None:
        if line.id is None or line not in self.lines:
            raise RuntimeError("the line must belong to this inventory and have an id")
        self.events.append(InventoryLineAdded(occurred_at=line.added_at, inventory_id=self._identity(),
                                              line_id=line.id, product=line.product, quantity=line.quantity))

    def delete(self, now: datetime) -> None:
        self._refuse_if_deleted()
        self.deleted_at = now
        self.events.append(InventoryDeleted(occurred_at=now, inventory_id=self._identity()))

    @property
    def total_items(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def last_change(self) -> datetime:
        """When the live inventory last changed: when its last line was added, else its creation."""
        return self.lines[-1].added_at if self.lines else self.created_at

    def _refuse_if_deleted(self) -> None:
        if self.deleted:
            raise Conflict(f"inventory {self.id} is deleted")

    def _identity(self) -> int:
        if self.id is None:
            raise RuntimeError("inventory has no id yet: add it to a repository first")
        return self.id


def _valid_quantity(quantity: int) -> int:
    # bool is an int in Python: True is not a quantity
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise ValidationError("quantity", "must be an integer")
    if not 1 <= quantity <= QUANTITY_MAX:
        raise ValidationError("quantity", f"must be between 1 and {QUANTITY_MAX}")
    return quantity
