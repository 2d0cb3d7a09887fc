"""Inventories: the projection's list and an inventory's detail, with the projection's lag (ADR 0008)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.inventories import InventoryFilter
from application.security import Permission
from domain.errors import NotFound
from bootstrap.container import Container

from adapters.inbound.api.deps import ContainerDep
from adapters.inbound.api.schemas import Id, Offset
from adapters.inbound.console.rendering import PAGE_SIZE, pager, render
from adapters.inbound.console.session import CONSOLE, ConsoleSession, Session

router = APIRouter(prefix=f"{CONSOLE}/inventories", include_in_schema=False)


def _lag(container: Container, session: Session) -> int | None:
    """Inventory events written but not yet applied to the projection (a KPI: read_kpi only)."""
    return container.kpi()().projection_lag_events if session.can(Permission.READ_KPI) else None


@router.get("")
def inventories(request: Request, session: ConsoleSession, container: ContainerDep, q: str | None = None,
                offset: Offset = 0) -> Response:
    page = container.inventory_queries().list(InventoryFilter(find=Finding.parse(listing.INVENTORIES, q=q or None)),
                                              PageRequest(PAGE_SIZE, offset))
    return render(request, "inventories.html", session, page=page, pager=pager(request, page), q=q or "",
                  lag=_lag(container, session))


@router.get("/{inventory_id}")
def inventory(inventory_id: Id, request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    try:
        detail = container.inventory_queries().get(inventory_id)
    except NotFound as missing:
        return render(request, "refused.html", session, status_code=404, message=str(missing))
    return render(request, "inventory.html", session, detail=detail, lag=_lag(container, session))
