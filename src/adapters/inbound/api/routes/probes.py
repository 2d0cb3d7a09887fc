"""Probes for an orchestrator (`/live`, `/ready`) and `/metrics` for Prometheus: anonymous, no error text."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from application.error_text import describe
from bootstrap.container import Container
from bootstrap.settings import EventMode

from adapters.inbound.api.observability import HttpMetrics
from adapters.inbound.api.openapi import PROBE_BODY
from adapters.inbound.runtime import check_schema

router = APIRouter(tags=["operations"])
log = structlog.get_logger("supplytrace.api")
DEADLINE_SECONDS = 0.75  # /ready answers within 1 s, whatever hangs
SCHEMA_CACHE_SECONDS = 30.0


class Readiness:
    """Each check runs in a thread of its own; a probe waits for them until the deadline. A check
    still running from an earlier probe (a database or broker that never answers) is awaited again,
    never started twice: a hung dependency holds one thread, however often the orchestrator asks."""

    def __init__(self, checks: dict[str, Callable[[], None]], deadline: float = DEADLINE_SECONDS) -> None:
        self.checks, self.deadline = checks, deadline
        self._pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="supplytrace-ready")
        self._running: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def _start(self, name: str) -> Future[None]:
        with self._lock:
            future = self._running.get(name)
            if future is None or future.done():
                future = self._running[name] = self._pool.submit(self.checks[name])
            return future

    async def __call__(self) -> dict[str, str]:
        futures = {name: asyncio.wrap_future(self._start(name)) for name in self.checks}
        for future in futures.values():
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no "never retrieved"
        await asyncio.wait(futures.values(), timeout=self.deadline)
        parts = {}
        for name, future in futures.items():
            error = future.exception() if future.done() else TimeoutError(f"no answer within {self.deadline} s")
            if error is not None:
                log.warning("ready.unavailable", part=name, error=describe(error))
            parts[name] = "unavailable" if error is not None else "ok"
        return parts


def schema_check(container: Container, cache_seconds: float = SCHEMA_CACHE_SECONDS) -> Callable[[], None]:
    """The migration-head check, believed for `cache_seconds` once it passed (it reads two tables)."""
    passed_at = float("-inf")

    def check() -> None:
        nonlocal passed_at
        if time.monotonic() - passed_at >= cache_seconds:
            check_schema(container)
            passed_at = time.monotonic()

    return check


def readiness(container: Container) -> Readiness:
    """The checks of `/ready`, one set per app (`app.state.readiness`)."""
    checks = {"database": lambda: container.uow().check(), "schema": schema_check(container)}
    if container.config.read_source() == "replica":  # SUPPLYTRACE_READ_DATABASE_URL: the queries need it
        checks["replica"] = lambda: container.read_uow().check()
    if EventMode(container.config.event_mode()).brokered:  # kafka, rabbitmq
        checks["events"] = lambda: container.publisher().check()
    return Readiness(checks)


@router.get("/live")
async def live() -> dict[str, str]:
    """The process answers: nothing else is touched (a database outage must not get it restarted)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database, its schema or the broker is not ready",
                                      "content": PROBE_BODY}})
async def ready(request: Request) -> JSONResponse:
    """Database reachable, schema at the code's head, read replica reachable (if configured), broker
    reachable (kafka, rabbitmq modes): each `ok` or `unavailable` within 1 s, 503 unless all are ok (the cause
    goes to the log)."""
    parts = await request.app.state.readiness()
    healthy = all(value == "ok" for value in parts.values())
    return JSONResponse({"status": "ok" if healthy else "unavailable", **parts}, status_code=200 if healthy else 503)


def install_metrics(app: FastAPI, container: Container) -> None:
    """`/metrics` (Prometheus text format, anonymous like every scrape target) and the HTTP metrics,
    unless SUPPLYTRACE_METRICS_ENABLED=false."""
    registry = container.metrics_registry()

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:  # sync: the outbox gauges may read the database (in a thread, not the loop)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(HttpMetrics)
