"""Supplier aggregate and its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.events import DomainEvent
from domain.text import required_text

NAME_MAX_LENGTH = 200


@dataclass(frozen=True, kw_only=True)
class SupplierCreated(DomainEvent):
    event_type = "SUPPLIER_CREATED"
    aggregate_type = "supplier"
    supplier_id: int
    name: str
    certification_expiry: date

    @property
    def aggregate_id(self) -> str:
        return str(self.supplier_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return self.initial("name", "certification_expiry")


@dataclass(frozen=True, kw_only=True)
class SupplierCertificationUpdated(DomainEvent):
    event_type = "SUPPLIER_CERT_UPDATED"
    aggregate_type = "supplier"
    supplier_id: int
    previous_expiry: date
    certification_expiry: date

    @property
    def aggregate_id(self) -> str:
        return str(self.supplier_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("certification_expiry", self.previous_expiry, self.certification_expiry)]


@dataclass(eq=False)
class Supplier:
    """A supplier qualified through a certification with an expiry date."""

    name: str
    certification_expiry: date
    created_at: datetime
    updated_at: datetime | None = None  # the last change; the creation time until the first one
    id: int | None = None
    version: int = 0  # set by the repository: 1 once stored, +1 by every transaction that changes it
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = self.created_at

    @classmethod
    def register(cls, name: str, certification_expiry: date, now: datetime) -> Supplier:
        return cls(name=required_text("name", name, NAME_MAX_LENGTH), certification_expiry=certification_expiry,
                   created_at=now)

    def record_registration(self) -> None:
        """Record SUPPLIER_CREATED once the repository has given the supplier its id."""
        self.events.append(
            SupplierCreated(
                occurred_at=self.created_at,
                supplier_id=self._identity(),
                name=self.name,
                certification_expiry=self.certification_expiry,
            )
        )

    def update_certification(self, expiry: date, now: datetime) -> bool:
        """Set a new expiry; returns False (and records nothing) when it is unchanged."""
        if expiry == self.certification_expiry:
            return False
        previous, self.certification_expiry = self.certification_expiry, expiry
        self.updated_at = now
        self.events.append(
            SupplierCertificationUpdated(
                occurred_at=now,
                supplier_id=self._identity(),
                previous_expiry=previous,
                certification_expiry=expiry,
            )
        )
        return True

    def certification_expired(self, today: date) -> bool:
        """Expired from the day after the expiry date: on the expiry day it is still valid."""
        return self.certification_expiry < today

    def _identity(self) -> int:
        if self.id is None:
            raise RuntimeError("supplier has no id yet: add it to a repository first")
        return self.id

