from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.repositories import SupplierFilter
from application.suppliers import SupplierView

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import ContainerDep, Reader, SupplierWriter, origin_of
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.schemas import CertificationIn, Id, Limit, Offset, PageOut, SupplierIn, SupplierOut

router = APIRouter(prefix="/suppliers", tags=["suppliers"])


def _out(view: SupplierView) -> SupplierOut:
    s = view.supplier
    return SupplierOut(id=s.id, name=s.name, certification_expiry=s.certification_expiry, at_risk=view.at_risk,
                       created_at=s.created_at, updated_at=s.updated_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupplierOut)
def create_supplier(body: SupplierIn, request: Request, response: Response, principal: SupplierWriter,
                    container: ContainerDep):
    view = container.create_supplier()(body.name, body.certification_expiry, origin_of(request, principal))
    tagged(response, view.supplier.version)
    return _out(view)


@router.get("", response_model=PageOut[SupplierOut], responses=CSV_RESPONSE)
def list_suppliers(request: Request, _: Reader, container: ContainerDep,
                   find: Annotated[Finding, Depends(finding(listing.SUPPLIERS, "the name", "created_at"))],
                   limit: Limit = 50, offset: Offset = 0):
    criteria = SupplierFilter(find)
    queries = container.supplier_queries()
    if wants_csv(request):
        return csv_response(request, "suppliers", SupplierOut, lambda p: queries.list(p, criteria), _out)
    page = queries.list(PageRequest(limit, offset), criteria)
    return PageOut.of(page, [_out(v) for v in page.items])


@router.get("/{supplier_id}", response_model=SupplierOut)
def get_supplier(supplier_id: Id, _: Reader, response: Response, container: ContainerDep):
    view = container.supplier_queries().get(supplier_id)
    tagged(response, view.supplier.version)
    return _out(view)


@router.patch("/{supplier_id}/certification", response_model=SupplierOut)
def update_certification(supplier_id: Id, body: CertificationIn, request: Request,
                         principal: SupplierWriter, container: ContainerDep, expected: IfMatch, response: Response):
    view = container.update_certification()(supplier_id, body.certification_expiry, origin_of(request, principal),
                                            expected)
    tagged(response, view.supplier.version)
    return _out(view)
