"""Supplier use cases and queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.certificates import earliest_required_expiry
from domain.errors import Conflict, NotFound
from domain.risk import supplier_at_risk
from domain.suppliers import Supplier

from application.conditional import Expected, check_version
from application.envelope import Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.repositories import SupplierFilter
from application.ports.unit_of_work import UnitOfWork, UowFactory


@dataclass(frozen=True)
class SupplierView:
    supplier: Supplier
    at_risk: bool


class CreateSupplier:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, name: str, certification_expiry: date, origin: Origin) -> SupplierView:
        with self.uow().acting_as(origin) as uow:
            supplier = Supplier.register(name, certification_expiry, self.clock.now())
            uow.suppliers.add(supplier)
            supplier.record_registration()
            uow.commit()
        return SupplierView(supplier, supplier.certification_expired(self.clock.today()))


class UpdateCertification:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, certification_expiry: date, origin: Origin,
                 expected: Expected = None, reason: str | None = None) -> SupplierView:
        """The direct setting of the date, for a supplier without required certificate records; with
        records the date follows them, and this is a 409 (ADR 0025)."""
        with self.uow().acting_as(origin) as uow:
            supplier = uow.suppliers.get(supplier_id)
            if supplier is None:
                raise NotFound("supplier", supplier_id)
            check_version(f"supplier {supplier_id}", supplier.version, expected)
            if earliest_required_expiry(uow.certificates.for_supplier(supplier_id)) is not None:
                raise Conflict(f"supplier {supplier_id}'s certification_expiry follows its required certificates: "
                               f"update or add a certificate at /suppliers/{supplier_id}/certificates instead")
            supplier.update_certification(certification_expiry, self.clock.now(), reason)
            open_ncs = uow.ncs.open_for_suppliers([supplier_id])
            uow.commit()
        return SupplierView(supplier, supplier_at_risk(supplier, open_ncs, self.clock.today()))


class SupplierQueries:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def get(self, supplier_id: int) -> SupplierView:
        with self.uow().reading() as uow:
            supplier = uow.suppliers.get(supplier_id)
            if supplier is None:
                raise NotFound("supplier", supplier_id)
            return self._views([supplier], uow)[0]

    def list(self, page: PageRequest, criteria: SupplierFilter = SupplierFilter()) -> Page[SupplierView]:
        with self.uow().reading() as uow:
            result = uow.suppliers.list(page, criteria)
            return Page(self._views(result.items, uow), result.total, result.limit, result.offset, result.total_exact)

    def _views(self, suppliers: list[Supplier], uow: UnitOfWork) -> list[SupplierView]:
        today = self.clock.today()
        open_ncs = uow.ncs.open_for_suppliers([s.id for s in suppliers if s.id is not None])
        return [SupplierView(s, supplier_at_risk(s, open_ncs, today)) for s in suppliers]
