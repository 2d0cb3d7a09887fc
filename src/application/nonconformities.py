"""Non-conformity use cases and queries."""

from __future__ import annotations

from domain.errors import NotFound
from domain.nonconformities import NonConformity, Severity

from application.conditional import Expected, check_version
from application.envelope import Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.repositories import NcFilter
from application.ports.unit_of_work import UowFactory


class RaiseNonConformity:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, severity: str, description: str, origin: Origin) -> NonConformity:
        level = Severity.parse(severity)
        with self.uow().acting_as(origin) as uow:
            if uow.suppliers.get(supplier_id) is None:
                raise NotFound("supplier", supplier_id)
            nc = NonConformity.open(supplier_id, level, description, self.clock.now())
            uow.ncs.add(nc)
            nc.record_opening()
            uow.commit()
        return nc


class CloseNonConformity:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, nc_id: int, origin: Origin, expected: Expected = None) -> NonConformity:
        with self.uow().acting_as(origin) as uow:
            nc = uow.ncs.get(nc_id)
            if nc is None:
                raise NotFound("non-conformity", nc_id)
            check_version(f"non-conformity {nc_id}", nc.version, expected)
            nc.close(self.clock.now())
            uow.commit()
        return nc


class NonConformityQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def get(self, nc_id: int) -> NonConformity:
        with self.uow().reading() as uow:
            nc = uow.ncs.get(nc_id)
            if nc is None:
                raise NotFound("non-conformity", nc_id)
            return nc

    def list(self, criteria: NcFilter, page: PageRequest) -> Page[NonConformity]:
        with self.uow().reading() as uow:
            return uow.ncs.list(criteria, page)
