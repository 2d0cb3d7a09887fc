"""Suppliers: the list with at-risk and approval badges, search and sort; a supplier with its
certificates (expiry status), its NCs, its scorecard and its audit trail. Read-only in this wave."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.consumption import AuditFilter
from application.ports.repositories import NcFilter, SupplierFilter
from application.security import Permission
from domain.errors import NotFound
from domain.suppliers import ApprovalStatus

from adapters.inbound.api.deps import ContainerDep
from adapters.inbound.api.schemas import Id, Offset
from adapters.inbound.console.rendering import PAGE_SIZE, choice, pager, render
from adapters.inbound.console.session import CONSOLE, ConsoleSession

router = APIRouter(prefix=f"{CONSOLE}/suppliers", include_in_schema=False)
SORTS = {"id": "number", "name": "name A→Z", "-name": "name Z→A", "certification_expiry": "certification expiring first",
         "-updated_at": "changed last first"}


@router.get("")
def suppliers(request: Request, session: ConsoleSession, container: ContainerDep, q: str | None = None,
              sort: str | None = None, approval: str | None = None, offset: Offset = 0) -> Response:
    sort, approval = choice(sort, SORTS) or "id", choice(approval, ApprovalStatus)
    criteria = SupplierFilter(Finding.parse(listing.SUPPLIERS, q=q or None, sort=sort),
                              ApprovalStatus(approval) if approval else None)
    page = container.supplier_queries().list(PageRequest(PAGE_SIZE, offset), criteria)
    return render(request, "suppliers.html", session, page=page, pager=pager(request, page), q=q or "", sort=sort,
                  sorts=SORTS, approval=approval, approvals=list(ApprovalStatus), today=container.clock().today())


@router.get("/{supplier_id}")
def supplier(supplier_id: Id, request: Request, session: ConsoleSession, container: ContainerDep,
             offset: Offset = 0, trail_offset: Offset = 0) -> Response:
    try:
        view = container.supplier_queries().get(supplier_id)
    except NotFound as missing:
        return render(request, "refused.html", session, status_code=404, message=str(missing))
    ncs = container.nc_queries().list(NcFilter(supplier_id=supplier_id), PageRequest(PAGE_SIZE, offset))
    context: dict[str, Any] = {
        "view": view, "certificates": container.certificate_queries().list(supplier_id, include_withdrawn=True),
        "ncs": ncs, "pager": pager(request, ncs), "scorecard": container.scorecard_queries().scorecard(supplier_id),
        "trail": None, "today": container.clock().today()}
    if session.can(Permission.READ_AUDIT):
        trail = container.audit_queries().list(AuditFilter(entity_type="supplier", entity_id=str(supplier_id)),
                                               PageRequest(PAGE_SIZE, trail_offset))
        context.update(trail=trail, trail_pager=pager(request, trail, "trail_offset"))
    return render(request, "supplier.html", session, **context)
