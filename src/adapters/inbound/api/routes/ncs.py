from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.repositories import NcFilter
from domain.nonconformities import NcStatus, NonConformity, Severity

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import ContainerDep, NcWriter, Reader, origin_of
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.schemas import Id, Limit, NcIn, NcOut, Offset, PageOut

router = APIRouter(prefix="/ncs", tags=["non-conformities"])


def _out(nc: NonConformity) -> NcOut:
    return NcOut(id=nc.id, supplier_id=nc.supplier_id, severity=nc.severity.value, description=nc.description,
                 status=nc.status.value, opened_at=nc.opened_at, closed_at=nc.closed_at,
                 created_at=nc.created_at, updated_at=nc.updated_at)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=NcOut,
             responses={404: {"description": "No such supplier"}})
def raise_nc(body: NcIn, request: Request, response: Response, principal: NcWriter, container: ContainerDep):
    nc = container.raise_nc()(body.supplier_id, body.severity, body.description, origin_of(request, principal))
    tagged(response, nc.version)
    return _out(nc)


@router.get("", response_model=PageOut[NcOut], responses=CSV_RESPONSE)
def list_ncs(
    request: Request,
    _: Reader,
    container: ContainerDep,
    find: Annotated[Finding, Depends(finding(listing.NCS, "the description", "created_at"))],
    status: Literal["OPEN", "CLOSED"] | None = None,
    severity: Literal["low", "medium", "high"] | None = None,
    supplier_id: Id | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
):
    criteria = NcFilter(status=NcStatus(status) if status else None,
                        severity=Severity(severity) if severity else None, supplier_id=supplier_id, find=find)
    queries = container.nc_queries()
    if wants_csv(request):
        return csv_response(request, "ncs", NcOut, lambda p: queries.list(criteria, p), _out)
    page = queries.list(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [_out(nc) for nc in page.items])


@router.get("/{nc_id}", response_model=NcOut)
def get_nc(nc_id: Id, _: Reader, response: Response, container: ContainerDep):
    nc = container.nc_queries().get(nc_id)
    tagged(response, nc.version)
    return _out(nc)


@router.patch("/{nc_id}/close", response_model=NcOut)
def close_nc(nc_id: Id, request: Request, principal: NcWriter, container: ContainerDep, expected: IfMatch,
             response: Response):
    nc = container.close_nc()(nc_id, origin_of(request, principal), expected)
    tagged(response, nc.version)
    return _out(nc)
