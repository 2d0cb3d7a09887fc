"""Supplier receipts (QHSE-MODEL C6, ADR 0028): the minimal inbound record a scorecard reads.

Orders are customer deliveries and name no supplier, so the goods a supplier delivers are recorded
here: which delivery (`reference`, e.g. the delivery note), when it was promised and received, how
much came and how much incoming inspection rejected. A receipt is a record of fact: it is never
changed or deleted. Its event is its supplier's (aggregate `supplier`), so it is outboxed, ordered
with the supplier's other events and audited in the supplier's trail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain.errors import Conflict, ValidationError
from domain.events import DomainEvent
from domain.nonconformities import MAX_QUANTITY
from domain.suppliers import ApprovalStatus, Supplier, SupplierEvent
from domain.text import required_text

REFERENCE_MAX_LENGTH = 100
ACTOR_MAX_LENGTH = 100
RECORDED = ("reference", "promised_date", "received_date", "qty_received", "qty_rejected")


def on_time(promised_date: date, received_date: date) -> bool:
    """On time: received on or before the promised day."""
    return received_date <= promised_date


@dataclass(frozen=True, kw_only=True)
class SupplierReceiptRecorded(SupplierEvent):
    event_type = "SUPPLIER_RECEIPT_RECORDED"
    receipt_id: int
    reference: str
    promised_date: date
    received_date: date
    qty_received: int
    qty_rejected: int
    on_time: bool
    changes: list[Any] = field(default_factory=list)


def _quantity(name: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(name, "must be an integer")
    if not minimum <= value <= MAX_QUANTITY:
        raise ValidationError(name, f"must be between {minimum} and {MAX_QUANTITY}")
    return value


@dataclass(eq=False)
class Receipt:
    supplier_id: int
    reference: str
    promised_date: date
    received_date: date
    qty_received: int
    qty_rejected: int
    recorded_by: str
    recorded_at: datetime
    id: int | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def record(cls, supplier: Supplier, reference: str, promised_date: date, received_date: date,
               qty_received: int, qty_rejected: int, actor: str, now: datetime) -> Receipt:
        """A new receipt of `supplier`; a BLOCKED supplier's deliveries are refused (QHSE-MODEL C4)."""
        assert supplier.id is not None
        if supplier.approval_status is ApprovalStatus.BLOCKED:
            raise Conflict(f"supplier {supplier.id} is BLOCKED: no new receipt may reference it")
        if received_date > now.date():
            raise ValidationError("received_date", "must not be after today")
        received = _quantity("qty_received", qty_received, 1)
        rejected = _quantity("qty_rejected", qty_rejected, 0)
        if rejected > received:
            raise ValidationError("qty_rejected", "must not exceed qty_received")
        return cls(supplier_id=supplier.id, reference=required_text("reference", reference, REFERENCE_MAX_LENGTH),
                   promised_date=promised_date, received_date=received_date, qty_received=received,
                   qty_rejected=rejected, recorded_by=required_text("actor", actor, ACTOR_MAX_LENGTH),
                   recorded_at=now)

    @property
    def on_time(self) -> bool:
        return on_time(self.promised_date, self.received_date)

    def record_receipt(self) -> None:
        """SUPPLIER_RECEIPT_RECORDED, once the repository has given the receipt its id."""
        if self.id is None:
            raise RuntimeError("receipt has no id yet: add it to a repository first")
        values = {name: getattr(self, name) for name in RECORDED}
        self.events.append(SupplierReceiptRecorded(
            occurred_at=self.recorded_at, supplier_id=self.supplier_id, receipt_id=self.id, on_time=self.on_time,
            changes=[[name, None, value.isoformat() if isinstance(value, date) else value]
                     for name, value in values.items()], **values))
