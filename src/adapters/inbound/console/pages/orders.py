"""Orders: the pipeline by status, an order with its items, journey and the moves allowed now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.orders import OrderFilter
from application.security import Permission
from domain.errors import NotFound
from domain.orders import ITEM_FLOW, OrderStatus
from bootstrap.container import Container

from adapters.inbound.api.deps import ContainerDep, origin_of
from adapters.inbound.api.schemas import Offset
from adapters.inbound.console.rendering import PAGE_SIZE, attempt, choice, pager, render, see_other
from adapters.inbound.console.session import CONSOLE, ConsoleSession, Session, WriteForm

router = APIRouter(prefix=f"{CONSOLE}/orders", include_in_schema=False)
PIPELINE_CARDS = 8


@router.get("")
def pipeline(request: Request, session: ConsoleSession, container: ContainerDep, status: str | None = None,
             q: str | None = None, offset: Offset = 0) -> Response:
    status = choice(status, OrderStatus)
    queries = container.order_queries()
    context: dict[str, Any] = {"status": status, "q": q or "", "statuses": list(OrderStatus)}
    if status or q:
        page = queries.list(OrderFilter(status=OrderStatus(status) if status else None,
                                        find=Finding.parse(listing.ORDERS, q=q or None)),
                            PageRequest(PAGE_SIZE, offset))
        context.update(page=page, pager=pager(request, page))
    else:
        context["columns"] = [(s, queries.list(OrderFilter(status=s), PageRequest(PIPELINE_CARDS)))
                              for s in OrderStatus]
    return render(request, "orders.html", session, **context)


def order_page(request: Request, session: Session, container: Container, key: str,
               error: tuple[int, str] | None = None) -> Response:
    try:
        order, journey = container.order_queries().history(key, include_items=True)
    except NotFound as missing:
        return render(request, "refused.html", session, status_code=404, message=str(missing))
    return render(request, "order.html", session, status_code=error[0] if error else 200, order=order,
                  journey=journey, error=error, writer=session.can(Permission.WRITE_ORDERS), item_flow=ITEM_FLOW)


@router.get("/{key}")
def order(key: str, request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    return order_page(request, session, container, key[:100])


@router.post("/{key}/status")
def move(key: str, request: Request, session: ConsoleSession, form: WriteForm, container: ContainerDep) -> Response:
    """A move the order allows now; CANCELLED is the synchronous cancel (CancelOrder)."""
    target = form.get("status")
    reason = form.get("reason")
    reason = reason.strip() or None if isinstance(reason, str) else None
    origin = origin_of(request, session.principal)
    if target == OrderStatus.CANCELLED.value:
        call = lambda: container.cancel_order()(key, reason, origin)  # noqa: E731
    else:
        call = lambda: container.change_order_status()(key, str(target or ""), reason, origin)  # noqa: E731
    _, error = attempt(call, session, Permission.WRITE_ORDERS)
    return order_page(request, session, container, key, error) if error else see_other(f"{CONSOLE}/orders/{key}")


@router.post("/{key}/items")
def move_item(key: str, request: Request, session: ConsoleSession, form: WriteForm, container: ContainerDep) -> Response:
    """An item's move (picked, in transit, delivered, cancelled): ChangeItemStatus."""
    sku, target = str(form.get("sku") or ""), str(form.get("status") or "")
    _, error = attempt(lambda: container.change_item_status()(key, sku, target, None,
                                                              origin_of(request, session.principal)),
                       session, Permission.WRITE_ORDERS)
    return order_page(request, session, container, key, error) if error else see_other(f"{CONSOLE}/orders/{key}")
