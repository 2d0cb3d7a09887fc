"""Certificate records of a supplier (QHSE-MODEL C5): ISO 9001 and the like, with their validity.

A certificate belongs to its supplier: its events are the supplier's (aggregate `supplier`), so they
stay in order with the supplier's own events on every transport and appear in the supplier's audit
trail. Its status is computed from the injected clock, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import Conflict, ValidationError
from domain.events import DomainEvent
from domain.suppliers import SupplierEvent
from domain.text import required_text

NUMBER_MAX_LENGTH = 100
ISSUER_MAX_LENGTH = 200
DEFAULT_WARN_DAYS = 30


class CertificateType(StrEnum):
    ISO_9001 = "ISO_9001"
    ISO_14001 = "ISO_14001"
    ISO_45001 = "ISO_45001"
    OTHER = "OTHER"

    @classmethod
    def parse(cls, value: str) -> CertificateType:
        try:
            return cls(value)
        except ValueError:
            raise ValidationError("type", f"must be one of {', '.join(cls)}") from None


class CertificateStatus(StrEnum):
    VALID = "VALID"
    EXPIRING = "EXPIRING"
    EXPIRED = "EXPIRED"


def certificate_status(expires_on: date, today: date, warn_days: int = DEFAULT_WARN_DAYS) -> CertificateStatus:
    """EXPIRED from the day after `expires_on`; EXPIRING within `warn_days` of it (the expiry day included)."""
    if expires_on < today:
        return CertificateStatus.EXPIRED
    if expires_on <= today + timedelta(days=warn_days):
        return CertificateStatus.EXPIRING
    return CertificateStatus.VALID


Changes = list[list[Any]]  # [[field, old, new]], JSON values, only the fields that changed


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "value", value)


@dataclass(frozen=True, kw_only=True)
class _CertificateEvent(SupplierEvent):
    certificate_id: int
    type: CertificateType
    number: str
    expires_on: date
    required: bool
    changes: list[Any] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class CertificateAdded(_CertificateEvent):
    event_type = "CERTIFICATE_ADDED"
    issuer: str
    issued_on: date


@dataclass(frozen=True, kw_only=True)
class CertificateUpdated(_CertificateEvent):
    event_type = "CERTIFICATE_UPDATED"


@dataclass(frozen=True, kw_only=True)
class CertificateWithdrawn(_CertificateEvent):
    event_type = "CERTIFICATE_WITHDRAWN"


CERTIFICATE_EVENTS = (CertificateAdded, CertificateUpdated, CertificateWithdrawn)
EDITABLE = ("type", "number", "issuer", "issued_on", "expires_on", "required")


def _check_dates(issued_on: date, expires_on: date) -> None:
    if issued_on > expires_on:
        raise ValidationError("expires_on", "must not be before issued_on")


@dataclass(eq=False)
class Certificate:
    supplier_id: int
    type: CertificateType
    number: str
    issuer: str
    issued_on: date
    expires_on: date
    required: bool
    created_at: datetime
    updated_at: datetime | None = None
    withdrawn_at: datetime | None = None
    id: int | None = None
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = self.created_at

    @classmethod
    def record(cls, supplier_id: int, type: str, number: str, issuer: str, issued_on: date, expires_on: date,
               required: bool, now: datetime) -> Certificate:
        kind = CertificateType.parse(type)
        _check_dates(issued_on, expires_on)
        return cls(supplier_id=supplier_id, type=kind, number=required_text("number", number, NUMBER_MAX_LENGTH),
                   issuer=required_text("issuer", issuer, ISSUER_MAX_LENGTH), issued_on=issued_on,
                   expires_on=expires_on, required=bool(required), created_at=now)

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def status(self, today: date, warn_days: int = DEFAULT_WARN_DAYS) -> CertificateStatus:
        return certificate_status(self.expires_on, today, warn_days)

    def record_addition(self, reason: str | None = None) -> None:
        self.events.append(CertificateAdded(
            occurred_at=self.created_at, **self.facts(), issuer=self.issuer, issued_on=self.issued_on,
            changes=[[name, None, _json(getattr(self, name))] for name in EDITABLE], reason=reason))

    def update(self, values: dict[str, Any], now: datetime, reason: str | None = None) -> Changes:
        """Apply the given fields (names of EDITABLE); returns the changes, empty (and no event) when none."""
        self._check_active()
        unknown = sorted(set(values) - set(EDITABLE))
        if unknown:
            raise ValidationError(unknown[0], "cannot be changed")
        new = dict(values)
        if "type" in new:
            new["type"] = CertificateType.parse(new["type"])
        if "number" in new:
            new["number"] = required_text("number", new["number"], NUMBER_MAX_LENGTH)
        if "issuer" in new:
            new["issuer"] = required_text("issuer", new["issuer"], ISSUER_MAX_LENGTH)
        if "required" in new:
            new["required"] = bool(new["required"])
        _check_dates(new.get("issued_on", self.issued_on), new.get("expires_on", self.expires_on))
        changes = [[name, _json(getattr(self, name)), _json(value)] for name, value in new.items()
                   if getattr(self, name) != value]
        if not changes:
            return []
        for name, _, _ in changes:
            setattr(self, name, new[name])
        self.updated_at = now
        self.events.append(CertificateUpdated(occurred_at=now, **self.facts(), changes=changes, reason=reason))
        return changes

    def withdraw(self, now: datetime, reason: str | None = None) -> None:
        self._check_active()
        self.withdrawn_at = self.updated_at = now
        self.events.append(CertificateWithdrawn(occurred_at=now, **self.facts(),
                                                changes=[["withdrawn_at", None, now.isoformat()]], reason=reason))

    def _check_active(self) -> None:
        if not self.active:
            raise Conflict(f"certificate {self.id} was withdrawn: record a new one instead")

    def facts(self) -> dict[str, Any]:
        if self.id is None:
            raise RuntimeError("certificate has no id yet: add it to a repository first")
        return {"supplier_id": self.supplier_id, "certificate_id": self.id, "type": self.type,
                "number": self.number, "expires_on": self.expires_on, "required": self.required}


def earliest_required_expiry(certificates: list[Certificate]) -> date | None:
    """The supplier's `certification_expiry` as its certificates define it; None without a required one."""
    dates = [c.expires_on for c in certificates if c.active and c.required]
    return min(dates) if dates else None
