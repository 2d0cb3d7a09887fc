from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.repositories import NcFilter
from domain.nonconformities import ACTION_FLOW, NcAction, NcStatus, NonConformity, Severity

from adapters.inbound.api.conditional import IfMatch, tagged
from adapters.inbound.api.deps import ContainerDep, NcWriter, Reader, origin_of
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.nc_schemas import ActionIn, ActionOut, ActionStatusIn, NcPatchIn, NcStatusIn
from adapters.inbound.api.schemas import Id, Limit, NcIn, NcOut, Offset, PageOut

router = APIRouter(prefix="/ncs", tags=["non-conformities"])


def _value(value: object) -> object:
    return getattr(value, "value", value)


def _out(nc: NonConformity) -> NcOut:
    return NcOut(id=nc.id, supplier_id=nc.supplier_id, severity=nc.severity.value, description=nc.description,
                 status=nc.status.value, opened_at=nc.opened_at, closed_at=nc.closed_at,
                 created_at=nc.created_at, updated_at=nc.updated_at,
                 **{name: _value(getattr(nc, name)) for name in NC_OUT_FIELDS},
                 days_to_close=nc.days_to_close, allowed_next=[s.value for s in nc.allowed_next()])


NC_OUT_FIELDS = ("owner", "due_date", "containment_note", "root_cause_category", "root_cause_analysis", "rca_method",
                 "disposition", "disposition_authorized_by", "qty_checked", "qty_nonconforming", "source_type",
                 "source_id", "closure_note", "closed_by", "closed_without_capa", "reopen_count", "cancel_reason")


def _action_out(nc: NonConformity, a: NcAction, today: date) -> ActionOut:
    return ActionOut(id=a.id, nc_id=nc.id, type=a.type.value, description=a.description, owner=a.owner,
                     due_date=a.due_date, effectiveness_criteria=a.effectiveness_criteria, status=a.status.value,
                     overdue=a.overdue(today), created_at=a.created_at, updated_at=a.updated_at,
                     started_at=a.started_at, done_at=a.done_at, completion_note=a.completion_note,
                     verified_by=a.verified_by, verified_at=a.verified_at, verification_note=a.verification_note,
                     effectiveness_result=a.effectiveness_result, cancel_reason=a.cancel_reason,
                     allowed_next=[s.value for s in ACTION_FLOW[a.status]])


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
    status: Literal["OPEN", "INVESTIGATING", "ACTION_PLANNED", "CLOSED", "CANCELLED"] | None = None,
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


# --- the investigation and its CAPA actions (ADR 0024) -----------------------------------------

MOVE_ERRORS = {409: {"description": "An illegal move: `allowed` lists the statuses it may go to next"},
               404: {"description": "No such non-conformity"}}


@router.patch("/{nc_id}", response_model=NcOut, responses=MOVE_ERRORS)
def update_nc(nc_id: Id, body: NcPatchIn, request: Request, principal: NcWriter, container: ContainerDep,
              expected: IfMatch, response: Response):
    nc = container.update_nc()(nc_id, body.values(), origin_of(request, principal), body.reason, expected)
    tagged(response, nc.version)
    return _out(nc)


@router.patch("/{nc_id}/status", response_model=NcOut, responses=MOVE_ERRORS)
def move_nc(nc_id: Id, body: NcStatusIn, request: Request, principal: NcWriter, container: ContainerDep,
            expected: IfMatch, response: Response):
    nc = container.move_nc()(nc_id, body.status, origin_of(request, principal), body.values(), body.reason, expected)
    tagged(response, nc.version)
    return _out(nc)


@router.post("/{nc_id}/actions", status_code=status.HTTP_201_CREATED, response_model=ActionOut,
             responses=MOVE_ERRORS)
def plan_action(nc_id: Id, body: ActionIn, request: Request, principal: NcWriter, container: ContainerDep,
                expected: IfMatch, response: Response):
    nc, action = container.plan_nc_action()(nc_id, body.type, body.description, body.owner, body.due_date,
                                            origin_of(request, principal), body.effectiveness_criteria, expected)
    tagged(response, nc.version)
    return _action_out(nc, action, container.clock().today())


@router.get("/{nc_id}/actions", response_model=list[ActionOut])
def list_actions(nc_id: Id, _: Reader, response: Response, container: ContainerDep):
    nc = container.nc_queries().get(nc_id)
    tagged(response, nc.version)
    today = container.clock().today()
    return [_action_out(nc, a, today) for a in nc.actions]


@router.patch("/{nc_id}/actions/{action_id}/status", response_model=ActionOut,
              responses={**MOVE_ERRORS, 403: {"description": "Not this caller's step: the owner may not verify "
                                                            "their own action"}})
def move_action(nc_id: Id, action_id: Id, body: ActionStatusIn, request: Request, principal: Reader,
                container: ContainerDep, expected: IfMatch, response: Response):
    nc, action = container.move_nc_action()(nc_id, action_id, body.status, origin_of(request, principal),
                                            principal.role, body.note, body.result, expected)
    tagged(response, nc.version)
    return _action_out(nc, action, container.clock().today())
