"""Delivery: the backlog, FAILED, PARKED and dead letters; an event's timeline; replay and skip,
admin only, with a reason and a confirmation before they run (README "Operating delivery")."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from starlette.responses import Response

from application.pagination import PageRequest
from application.ports.delivery_log import DeadLetterFilter, DeadLetterStatus
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.security import Permission
from domain.errors import NotFound
from bootstrap.container import Container

from adapters.inbound.api.deps import ContainerDep, trace_of
from adapters.inbound.api.schemas import Offset
from adapters.inbound.console.rendering import PAGE_SIZE, attempt, pager, render, see_other
from adapters.inbound.console.session import CONSOLE, ConsoleSession, Session, WriteForm

router = APIRouter(prefix=f"{CONSOLE}/delivery", include_in_schema=False)
View = Literal["FAILED", "PARKED", "PENDING", "PUBLISHED", "SKIPPED", "dead-letters"]
VIEWS = ("FAILED", "PARKED", "PENDING", "PUBLISHED", "SKIPPED", "dead-letters")
DECISIONS = {"replay": "Replay", "skip": "Skip"}


def _refused(request: Request, session: Session, permission: Permission) -> Response | None:
    if session.can(permission):
        return None
    return render(request, "refused.html", session, status_code=403,
                  message=f"Your role ({session.role}) may not {permission.value}.")


def _lists(container: Container, view: str, offset: int) -> dict[str, Any]:
    kpi = container.kpi()()
    counts = {"FAILED": kpi.outbox_failed, "PARKED": kpi.outbox_parked, "PENDING": kpi.outbox_pending,
              "PUBLISHED": kpi.outbox_published, "SKIPPED": None, "dead-letters": None}
    if view == "dead-letters":
        page = container.outbox_queries().dead_letters(DeadLetterFilter(DeadLetterStatus.OPEN),
                                                       PageRequest(PAGE_SIZE, offset))
    else:
        page = container.outbox_queries().list(OutboxFilter(OutboxStatus(view)), PageRequest(PAGE_SIZE, offset))
    return {"view": view, "views": VIEWS, "counts": counts, "page": page, "unhandled": kpi.events_unhandled}


@router.get("")
def delivery(request: Request, session: ConsoleSession, container: ContainerDep, view: View = "FAILED",
             offset: Offset = 0) -> Response:
    refused = _refused(request, session, Permission.READ_OUTBOX)
    if refused:
        return refused
    context = _lists(container, view, offset)
    return render(request, "delivery.html", session, pager=pager(request, context["page"]), **context)


@router.get("/live")
def delivery_live(request: Request, session: ConsoleSession, container: ContainerDep, view: View = "FAILED",
                  offset: Offset = 0) -> Response:
    """The counts and the list again, for htmx's polling."""
    refused = _refused(request, session, Permission.READ_OUTBOX)
    if refused:
        return refused
    context = _lists(container, view, offset)
    return render(request, "_delivery_live.html", session, pager=pager(request, context["page"]), **context)


def event_page(request: Request, session: Session, container: Container, event_id: UUID,
               error: tuple[int, str] | None = None, status_code: int | None = None) -> Response:
    refused = _refused(request, session, Permission.READ_OUTBOX)
    if refused:
        return refused
    try:
        timeline = container.event_timeline()(event_id)
    except NotFound as missing:
        return render(request, "refused.html", session, status_code=404, message=str(missing))
    return render(request, "event.html", session, status_code=status_code or (error[0] if error else 200),
                  t=timeline, error=error, replayer=session.can(Permission.REPLAY_EVENTS))


@router.get("/events/{event_id}")
def event(event_id: UUID, request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    return event_page(request, session, container, event_id)


@router.post("/events/{event_id}/{decision}")
def decide(event_id: UUID, decision: Literal["replay", "skip"], request: Request, session: ConsoleSession,
           form: WriteForm, container: ContainerDep) -> Response:
    """First post: the confirmation (nothing runs); the second, with `confirmed=yes`, runs it."""
    reason = form.get("reason")
    reason = reason.strip() if isinstance(reason, str) else ""
    refused = _refused(request, session, Permission.REPLAY_EVENTS)  # before the confirmation too
    if refused:
        return refused
    if not reason:
        return event_page(request, session, container, event_id,
                          error=(422, "reason: say why (it goes to the audit log)"))
    if form.get("confirmed") != "yes":
        try:
            timeline = container.event_timeline()(event_id)
        except NotFound as missing:
            return render(request, "refused.html", session, status_code=404, message=str(missing))
        return render(request, "confirm.html", session, t=timeline, decision=decision,
                      verb=DECISIONS[decision], reason=reason)
    replay = container.replay_events()
    user = session.user
    run = ((lambda: replay(event_id, user, reason, trace_of(request)[0])) if decision == "replay"
           else (lambda: replay.skip(event_id, user, reason)))
    _, error = attempt(run, session, Permission.REPLAY_EVENTS)
    if error:
        return event_page(request, session, container, event_id, error=error)
    return see_other(f"{CONSOLE}/delivery/events/{event_id}")
