from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from application.pagination import PageRequest
from application.suppliers import SupplierView

from adapters.inbound.api.deps import ContainerDep, Reader, SupplierWriter, origin_of
from adapters.inbound.api.schemas import CertificationIn, PageOut, SupplierIn, SupplierOut

router = APIRouter(prefix="/suppliers", tags=["suppliers"])
SupplierId = Annotated[int, Path(ge=1)]


def _out(view: SupplierView) -> SupplierOut:
    s = view.supplier
    return SupplierOut(id=s.id, name=s.name, certification_expiry=s.certification_expiry, at_risk=view.at_risk,
                       created_at=s.created_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SupplierOut)
def create_supplier(body: SupplierIn, request: Request, principal: SupplierWriter, container: ContainerDep):
    view = container.create_supplier()(body.name, body.certification_expiry, origin_of(request, principal))
    return _out(view)


@router.get("", response_model=PageOut[SupplierOut])
def list_suppliers(_: Reader, container: ContainerDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   offset: Annotated[int, Query(ge=0)] = 0):
    page = container.supplier_queries().list(PageRequest(limit, offset))
    return PageOut(items=[_out(v) for v in page.items], total=page.total, limit=page.limit, offset=page.offset)


@router.get("/{supplier_id}", response_model=SupplierOut)
def get_supplier(supplier_id: SupplierId, _: Reader, container: ContainerDep):
    return _out(container.supplier_queries().get(supplier_id))


@router.patch("/{supplier_id}/certification", response_model=SupplierOut)
def update_certification(supplier_id: SupplierId, body: CertificationIn, request: Request,
                         principal: SupplierWriter, container: ContainerDep):
    view = container.update_certification()(supplier_id, body.certification_expiry, origin_of(request, principal))
    return _out(view)
