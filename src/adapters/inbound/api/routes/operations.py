"""KPIs, audit log, outbox inspection (the earlier replay path), health."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from application import listing
from application.error_text import describe
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.consumption import AuditEntry, AuditFilter
from application.ports.outbox import OutboxFilter, OutboxStatus

from adapters.inbound.api.deps import (
    AuditReader, ContainerDep, KpiReader, OutboxReader, ReminderRunner, Replayer, RequestTrace, origin_of,
)
from adapters.inbound.api.finding import CSV_RESPONSE, csv_response, finding, wants_csv
from adapters.inbound.api.openapi import PROBE_BODY
from adapters.inbound.api.routes.delivery import ONLY_FAILED, events_page, replay_event
from adapters.inbound.api.schemas import (
    AuditEntryOut,
    AuditVerifyOut,
    Limit,
    Offset,
    OutboxEventOut,
    PageOut,
    ReasonIn,
    RemindersRunOut,
    ReplayedOut,
    text,
)

router = APIRouter(tags=["operations"])
log = structlog.get_logger("supplytrace.api")


@router.get("/kpi")
def kpi(_: KpiReader, container: ContainerDep) -> dict[str, Any]:
    return container.kpi()().as_dict()


def _audit_out(e: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(id=e.id, event_id=e.event_id, event_type=e.event_type, action=e.event_type,
                         entity_type=e.entity_type, entity_id=e.entity_id, actor=e.actor,
                         correlation_id=e.correlation_id, occurred_at=e.occurred_at, recorded_at=e.recorded_at,
                         details=e.details, changes=e.changes, reason=e.reason)


@router.get("/audit-log", response_model=PageOut[AuditEntryOut], responses=CSV_RESPONSE)
def audit_log(request: Request, _: AuditReader, container: ContainerDep,
              find: Annotated[Finding, Depends(finding(listing.AUDIT, "the event type, entity type, entity id or actor",
                                                       "occurred_at"))],
              event_type: text(100) | None = None,
              entity_type: text(50) | None = None, entity_id: text(100) | None = None,
              actor: Annotated[text(100) | None, Query(description="Only the records of this user (exact)")] = None,
              limit: Limit = 50, offset: Offset = 0):
    """Newest first unless `sort` says otherwise; `created_from`/`created_to` bound `occurred_at`. Each record
    shows who (`actor`), what changed (`changes`, [field, old, new]) and why (`reason`)."""
    criteria = AuditFilter(event_type, entity_type, entity_id, find, actor=actor)
    queries = container.audit_queries()
    if wants_csv(request):
        return csv_response(request, "audit-log", AuditEntryOut, lambda p: queries.list(criteria, p), _audit_out)
    page = queries.list(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [_audit_out(e) for e in page.items])


@router.get("/audit-log/verify", response_model=AuditVerifyOut, response_model_exclude_none=True)
def verify_audit_log(_: AuditReader, container: ContainerDep):
    """Recompute the audit log's hash chain, record by record in id order (ADR 0014)."""
    return container.verify_audit_log()()


@router.get("/outbox", response_model=PageOut[OutboxEventOut])
def outbox(_: OutboxReader, container: ContainerDep,
           status: Literal["PENDING", "PUBLISHED", "FAILED", "PARKED", "SKIPPED"] | None = None, limit: Limit = 50,
           offset: Offset = 0):
    return events_page(container, OutboxFilter(OutboxStatus(status) if status else None), limit, offset)


@router.post("/outbox/{event_id}/replay", response_model=ReplayedOut, responses=ONLY_FAILED, deprecated=True)
def replay(event_id: UUID, body: ReasonIn, principal: Replayer, container: ContainerDep, trace: RequestTrace):
    """The earlier path of `POST /events/{event_id}/replay`, which it delegates to: a reason is now required."""
    return replay_event(event_id, body, principal, container, trace)


@router.post("/reminders/run", response_model=RemindersRunOut)
def run_reminders(request: Request, principal: ReminderRunner, container: ContainerDep) -> RemindersRunOut:
    """Run the reminder job for today now, as the workers do every `SUPPLYTRACE_REMINDERS_EVERY_SECONDS`:
    each stage of each certificate or CAPA action is sent once, whoever runs it and however often (ADR 0027).
    Another day only from the command line (`supplytrace reminders run --date`)."""
    report = container.run_reminders()(origin=origin_of(request, principal))
    return RemindersRunOut(day=report.day, examined=report.examined, sent=report.sent)


@router.get("/health", responses={503: {"description": "The database or the event transport is unavailable",
                                       "content": PROBE_BODY}})
def health(container: ContainerDep) -> JSONResponse:
    """Anonymous: each part is `ok` or `unavailable`, nothing more (the cause goes to the log)."""
    checks: dict[str, str] = {}
    for name, check in (("database", container.uow().check), ("events", container.publisher().check)):
        try:
            check()
            checks[name] = "ok"
        except Exception as error:  # noqa: BLE001 - reported as unavailable, with 503; the log has the cause
            log.warning("health.unavailable", part=name, error=describe(error))
            checks[name] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", "event_mode": container.config.event_mode(), **checks}
    return JSONResponse(body, status_code=200 if healthy else 503)
