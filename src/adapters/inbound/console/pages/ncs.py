"""NCs and CAPA: the board by status, an NC's workflow, its actions and its timeline (ADR 0024)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from application import listing
from application.listing import Finding
from application.nonconformities import action_move_refusal
from application.pagination import PageRequest
from application.ports.consumption import AuditFilter
from application.ports.repositories import NcFilter
from application.security import Permission
from domain.errors import NotFound
from domain.nonconformities import (
    ACTION_FLOW, ActionStatus, ActionType, Disposition, NcStatus, RcaMethod, RootCause, Severity,
)
from bootstrap.container import Container

from adapters.inbound.api.deps import ContainerDep, origin_of
from adapters.inbound.api.schemas import Id, Offset
from adapters.inbound.console.rendering import PAGE_SIZE, attempt, choice, pager, render, see_other
from adapters.inbound.console.session import CONSOLE, ConsoleSession, Session, WriteForm

router = APIRouter(prefix=f"{CONSOLE}/ncs", include_in_schema=False)
BOARD_CARDS = 10
CHECKS = (ActionStatus.VERIFIED, ActionStatus.INEFFECTIVE)


def _text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value.strip() or None if isinstance(value, str) else None


def _suppliers(container: Container) -> list[Any]:
    return [v.supplier for v in container.supplier_queries().list(PageRequest(100)).items]


@router.get("")
def board(request: Request, session: ConsoleSession, container: ContainerDep, status: str | None = None,
          severity: str | None = None, q: str | None = None, offset: Offset = 0) -> Response:
    status, severity = choice(status, NcStatus), choice(severity, Severity)
    queries = container.nc_queries()
    today = container.clock().today()
    context: dict[str, Any] = {"status": status, "severity": severity, "q": q or "", "statuses": list(NcStatus),
                               "severities": list(Severity), "today": today}
    if status or severity or q:
        page = queries.list(NcFilter(status=NcStatus(status) if status else None,
                                     severity=Severity(severity) if severity else None,
                                     find=Finding.parse(listing.NCS, q=q or None)), PageRequest(PAGE_SIZE, offset))
        context.update(page=page, pager=pager(request, page))
    else:
        context["columns"] = [(s, queries.list(NcFilter(status=s), PageRequest(BOARD_CARDS))) for s in NcStatus]
    if session.can(Permission.WRITE_NCS):
        context["suppliers"] = _suppliers(container)
    return render(request, "ncs.html", session, **context)


@router.post("")
def raise_nc(request: Request, session: ConsoleSession, form: WriteForm, container: ContainerDep) -> Response:
    supplier = _text(form, "supplier_id") or ""
    nc, error = attempt(lambda: container.raise_nc()(
        int(supplier) if supplier.isdigit() and len(supplier) < 10 else 0, _text(form, "severity") or "",
        _text(form, "description") or "", origin_of(request, session.principal)), session, Permission.WRITE_NCS)
    if error:
        return render(request, "refused.html", session, status_code=error[0], message=error[1])
    return see_other(f"{CONSOLE}/ncs/{nc.id}")


def _offers(session: Session, nc: Any) -> dict[int, list[ActionStatus]]:
    """The moves of each action this user may make: the role rule of the use case, and never checking
    one's own action (the domain's rule); the use case refuses any other anyway."""
    return {a.id: [t for t in ACTION_FLOW[a.status]
                   if action_move_refusal(a, t, session.user, session.principal.role) is None
                   and not (t in CHECKS and a.owner == session.user)] for a in nc.actions}


def nc_page(request: Request, session: Session, container: Container, nc_id: int, offset: int = 0,
            error: tuple[int, str] | None = None) -> Response:
    try:
        nc = container.nc_queries().get(nc_id)
    except NotFound as missing:
        return render(request, "refused.html", session, status_code=404, message=str(missing))
    today = container.clock().today()
    context: dict[str, Any] = {
        "nc": nc, "error": error, "today": today, "offers": _offers(session, nc),
        "writer": session.can(Permission.WRITE_NCS), "root_causes": list(RootCause), "rca_methods": list(RcaMethod),
        "dispositions": list(Disposition), "action_types": list(ActionType),
        "default_due": (today + timedelta(days=14)).isoformat(), "timeline": None}
    try:
        context["supplier"] = container.supplier_queries().get(nc.supplier_id).supplier
    except NotFound:
        context["supplier"] = None
    if session.can(Permission.READ_AUDIT):
        page = container.audit_queries().list(AuditFilter(entity_type="nc", entity_id=str(nc_id)),
                                              PageRequest(PAGE_SIZE, offset))
        context.update(timeline=page, pager=pager(request, page))
    return render(request, "nc.html", session, status_code=error[0] if error else 200, **context)


@router.get("/{nc_id}")
def nc_detail(nc_id: Id, request: Request, session: ConsoleSession, container: ContainerDep,
              offset: Offset = 0) -> Response:
    return nc_page(request, session, container, nc_id, offset)


def _done(request: Request, session: Session, container: Container, nc_id: int,
          error: tuple[int, str] | None) -> Response:
    return nc_page(request, session, container, nc_id, error=error) if error else see_other(f"{CONSOLE}/ncs/{nc_id}")


@router.post("/{nc_id}/status")
def move(nc_id: Id, request: Request, session: ConsoleSession, form: WriteForm, container: ContainerDep) -> Response:
    """One step of the workflow, with the fields it needs (owner, closure note, reason)."""
    values = {name: _text(form, name) for name in ("owner", "closure_note") if _text(form, name)}
    _, error = attempt(lambda: container.move_nc()(nc_id, _text(form, "status") or "",
                                                   origin_of(request, session.principal), values,
                                                   _text(form, "reason")), session, Permission.WRITE_NCS)
    return _done(request, session, container, nc_id, error)


@router.post("/{nc_id}/investigation")
def investigate(nc_id: Id, request: Request, session: ConsoleSession, form: WriteForm,
                container: ContainerDep) -> Response:
    """Record the root cause, its analysis and method (PATCH /ncs/{id})."""
    values = {name: _text(form, name) for name in ("root_cause_category", "root_cause_analysis", "rca_method",
                                                   "containment_note") if _text(form, name)}
    _, error = attempt(lambda: container.update_nc()(nc_id, values, origin_of(request, session.principal),
                                                     _text(form, "reason")), session, Permission.WRITE_NCS)
    return _done(request, session, container, nc_id, error)


@router.post("/{nc_id}/actions")
def plan_action(nc_id: Id, request: Request, session: ConsoleSession, form: WriteForm,
                container: ContainerDep) -> Response:
    _, error = attempt(lambda: container.plan_nc_action()(
        nc_id, _text(form, "type") or "", _text(form, "description") or "", _text(form, "owner") or "",
        _text(form, "due_date") or "", origin_of(request, session.principal), _text(form, "effectiveness_criteria")),
        session, Permission.WRITE_NCS)
    return _done(request, session, container, nc_id, error)


@router.post("/{nc_id}/actions/{action_id}/status")
def move_action(nc_id: Id, action_id: Id, request: Request, session: ConsoleSession, form: WriteForm,
                container: ContainerDep) -> Response:
    """Start, finish, verify or cancel an action: who may is the use case's rule (MoveAction)."""
    _, error = attempt(lambda: container.move_nc_action()(
        nc_id, action_id, _text(form, "status") or "", origin_of(request, session.principal),
        session.principal.role, _text(form, "note"), _text(form, "result")))
    return _done(request, session, container, nc_id, error)
