"""Dependencies: the container, the caller's identity and role checks, as Annotated aliases."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import uuid4

import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordBearer

from application.envelope import Origin
from application.ports.security import InvalidToken, Principal
from application.security import Permission, authorize
from application.trace_context import new_traceparent, valid_traceparent, valid_tracestate
from bootstrap.container import Container

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)
log = structlog.get_logger("supplytrace.api")


# the cheap dependencies are `async def`: FastAPI runs a sync one in a worker thread (a hop per call)
async def get_container(request: Request) -> Container:
    return request.app.state.container


ContainerDep = Annotated[Container, Depends(get_container)]


async def bearer_token(token: Annotated[str | None, Depends(oauth2)]) -> str:
    if not token:
        raise InvalidToken("no bearer token")
    return token


BearerToken = Annotated[str, Depends(bearer_token)]


async def current_principal(container: ContainerDep, token: BearerToken) -> Principal:
    """On the event loop while the token's revocation is remembered; in a thread when it must be looked up."""
    verify = container.verify_token()
    try:
        return verify.remembered(token) or await run_in_threadpool(verify, token)
    except InvalidToken as refused:
        log.info("token.refused", reason=refused.reason)
        raise


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[[Principal], Principal]:
    async def check(principal: CurrentPrincipal) -> Principal:
        authorize(principal, permission)
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # openapi.py: the route answers 403
    return check


def trace_of(request: Request) -> tuple[str, str | None]:
    """(traceparent, tracestate) of the request: its span's when HTTP is traced, else the caller's
    valid `traceparent` (and `tracestate`), else a new trace."""
    current = request.app.state.container.tracer().current()
    if current is not None:
        return current
    given = valid_traceparent(request.headers.get("traceparent"))
    return (given, valid_tracestate(request.headers.get("tracestate"))) if given else (new_traceparent(), None)


async def request_traceparent(request: Request) -> str:
    return trace_of(request)[0]


RequestTrace = Annotated[str, Depends(request_traceparent)]


def origin_of(request: Request, principal: Principal) -> Origin:
    correlation = getattr(request.state, "correlation_id", None) or str(uuid4())
    return Origin(principal.username, correlation, *trace_of(request))


Reader = Annotated[Principal, Depends(require(Permission.READ))]
SupplierWriter = Annotated[Principal, Depends(require(Permission.WRITE_SUPPLIERS))]
NcWriter = Annotated[Principal, Depends(require(Permission.WRITE_NCS))]
OrderWriter = Annotated[Principal, Depends(require(Permission.WRITE_ORDERS))]
InventoryWriter = Annotated[Principal, Depends(require(Permission.WRITE_INVENTORIES))]
KpiReader = Annotated[Principal, Depends(require(Permission.READ_KPI))]
AuditReader = Annotated[Principal, Depends(require(Permission.READ_AUDIT))]
OutboxReader = Annotated[Principal, Depends(require(Permission.READ_OUTBOX))]
Replayer = Annotated[Principal, Depends(require(Permission.REPLAY_EVENTS))]
CertificateWriter = Annotated[Principal, Depends(require(Permission.WRITE_CERTIFICATES))]
SupplierApprover = Annotated[Principal, Depends(require(Permission.APPROVE_SUPPLIERS))]
StatusRequester = Annotated[Principal, Depends(require(Permission.REQUEST_SUPPLIER_STATUS))]
ReminderRunner = Annotated[Principal, Depends(require(Permission.RUN_REMINDERS))]
ReceiptWriter = Annotated[Principal, Depends(require(Permission.WRITE_RECEIPTS))]
