"""Supplier receipts (ADR 0028): what a supplier delivered, when, and what incoming inspection rejected."""

from __future__ import annotations

from datetime import date

from domain.errors import Conflict, NotFound
from domain.receipts import Receipt
from domain.suppliers import Supplier

from application.envelope import Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork, UowFactory


def _supplier(uow: UnitOfWork, supplier_id: int) -> Supplier:
    supplier = uow.suppliers.get(supplier_id)
    if supplier is None:
        raise NotFound("supplier", supplier_id)
    return supplier


class RecordReceipt:
    """`POST /suppliers/{id}/receipts`: the caller is `recorded_by`; one reference once per supplier."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, reference: str, promised_date: date, received_date: date,
                 qty_received: int, qty_rejected: int, origin: Origin) -> Receipt:
        with self.uow().acting_as(origin) as uow:
            receipt = Receipt.record(_supplier(uow, supplier_id), reference, promised_date, received_date,
                                     qty_received, qty_rejected, origin.actor, self.clock.now())
            twin = uow.receipts.find(supplier_id, receipt.reference)
            if twin is not None:
                raise Conflict(f"supplier {supplier_id} already has receipt {receipt.reference} (receipt {twin.id})")
            uow.receipts.add(receipt)
            receipt.record_receipt()
            uow.commit()
        return receipt


class ReceiptQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, supplier_id: int, page: PageRequest) -> Page[Receipt]:
        with self.uow().reading() as uow:
            _supplier(uow, supplier_id)
            return uow.receipts.list(supplier_id, page)
