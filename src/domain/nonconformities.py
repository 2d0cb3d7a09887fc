"""Non-conformity aggregate: raised against a supplier, closed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import InvalidTransition, ValidationError
from domain.events import DomainEvent
from domain.text import required_text

DESCRIPTION_MAX_LENGTH = 2000


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValidationError("severity", f"must be one of {allowed}") from None


class NcStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


@dataclass(frozen=True, kw_only=True)
class NcCreated(DomainEvent):
    event_type = "NC_CREATED"
    aggregate_type = "nc"
    nc_id: int
    supplier_id: int
    severity: Severity
    description: str

    @property
    def aggregate_id(self) -> str:
        return str(self.nc_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [*self.initial("supplier_id", "severity", "description"), ("status", None, NcStatus.OPEN)]


@dataclass(frozen=True, kw_only=True)
class NcClosed(DomainEvent):
    event_type = "NC_CLOSED"
    aggregate_type = "nc"
    nc_id: int
    supplier_id: int
    severity: Severity

    @property
    def aggregate_id(self) -> str:
        return str(self.nc_id)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("status", NcStatus.OPEN, NcStatus.CLOSED)]


@dataclass(eq=False)
class NonConformity:
    supplier_id: int
    severity: Severity
    description: str
    opened_at: datetime
    status: NcStatus = NcStatus.OPEN
    closed_at: datetime | None = None
    created_at: datetime | None = None  # when it was recorded: the opening time
    updated_at: datetime | None = None  # the last change (the closing), the creation time until then
    id: int | None = None
    version: int = 0  # set by the repository: 1 once stored, +1 by every transaction that changes it
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.created_at is None:
            self.created_at = self.opened_at
        if self.updated_at is None:
            self.updated_at = self.created_at

    @classmethod
    def open(cls, supplier_id: int, severity: Severity, description: str, now: datetime) -> NonConformity:
        text = required_text("description", description, DESCRIPTION_MAX_LENGTH, multiline=True)
        return cls(supplier_id=supplier_id, severity=severity, description=text, opened_at=now)

    def record_opening(self) -> None:
        self.events.append(
            NcCreated(
                occurred_at=self.opened_at,
                nc_id=self._identity(),
                supplier_id=self.supplier_id,
                severity=self.severity,
                description=self.description,
            )
        )

    def close(self, now: datetime) -> None:
        if self.status is NcStatus.CLOSED:
            raise InvalidTransition(f"non-conformity {self.id} is already CLOSED")
        self.status = NcStatus.CLOSED
        self.closed_at = now
        self.updated_at = now
        self.events.append(
            NcClosed(occurred_at=now, nc_id=self._identity(), supplier_id=self.supplier_id, severity=self.severity)
        )

    @property
    def is_open_high(self) -> bool:
        return self.status is NcStatus.OPEN and self.severity is Severity.HIGH

    def _identity(self) -> int:
        if self.id is None:
            raise RuntimeError("non-conformity has no id yet: add it to a repository first")
        return self.id
