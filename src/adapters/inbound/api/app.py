"""The FastAPI application: routers, error table, middleware, embedded workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI

from adapters.inbound.api.consistency import ConsistencyTokens
from adapters.inbound.api.docs import install_docs, page_policies
from adapters.inbound.api.errors import install_error_handlers
from adapters.inbound.api.finding import refuse_unknown_query_params
from adapters.inbound.api.idempotency import Idempotency, document as document_idempotency
from adapters.inbound.api.middleware import Correlation, Guard, SecureHeaders
from adapters.inbound.api.openapi import install_openapi, operation_id
from adapters.inbound.api.routes import auth, delivery, inventories, ncs, operations, orders, probes, suppliers
from adapters.inbound.api.routes import scorecard
from adapters.inbound.api.routes import compat
from adapters.inbound.console import CONSOLE_POLICIES, install_console
from bootstrap.container import Container
from bootstrap.tracing import trace_http

DOCS, REDOC, OPENAPI = "/docs", "/redoc", "/openapi.json"


def create_app(container: Container, background: list[Any] | None = None) -> FastAPI:
    """`background`: objects with start()/stop() run for the app's lifetime (the embedded workers)."""
    workers = background or []
    config = container.config
    docs = bool(config.docs_enabled())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # sync endpoints run in these threads: as many as the pool has connections for, no more
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.api_threads()
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in reversed(workers):
                worker.stop()

    app = FastAPI(
        title="SupplyTrace",
        version="0.1.0",
        description="Supply-chain quality and operations: every business change is a durable, audited event.",
        lifespan=lifespan,
        docs_url=None,  # served by docs.py from local assets (no CDN)
        redoc_url=None,
        openapi_url=OPENAPI if docs else None,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(refuse_unknown_query_params)],  # every operation: ADR 0021
    )
    app.state.container = container
    install_openapi(app)
    if docs:
        install_docs(app, DOCS, REDOC, OPENAPI)
    install_error_handlers(app)
    for module in (auth, suppliers, scorecard, ncs, orders, operations, delivery, inventories, probes):
        app.include_router(module.router)
    if config.compat_routes():
        app.include_router(compat.router)
    install_console(app)  # the web console at /console, `/` redirects there (ADR 0030)
    app.state.readiness = probes.readiness(container)
    # added innermost first: Guard ends up outermost
    app.add_middleware(Idempotency, container=container)  # innermost: it stores the route's own answer
    document_idempotency(app)
    app.add_middleware(SecureHeaders, page_policies=page_policies(DOCS, REDOC) if docs else {},
                       prefix_policies=CONSOLE_POLICIES)
    app.add_middleware(Correlation)
    if config.read_source() == "replica":  # read-your-writes tokens (ADR 0023)
        app.add_middleware(ConsistencyTokens)
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes())
    trace_http(app, container.tracer())
    if config.metrics_enabled():
        probes.install_metrics(app, container)  # its HTTP metrics outermost: refusals are counted too
    return app
