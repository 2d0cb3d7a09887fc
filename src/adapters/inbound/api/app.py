"""The FastAPI application: routers, error table, middleware, embedded workers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from adapters.inbound.api.errors import install_error_handlers
from adapters.inbound.api.idempotency import Idempotency, document as document_idempotency
from adapters.inbound.api.middleware import Correlation, Guard, SecureHeaders
from adapters.inbound.api.routes import auth, delivery, inventories, ncs, operations, orders, probes, suppliers
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
        docs_url=DOCS if docs else None,
        redoc_url=REDOC if docs else None,
        openapi_url=OPENAPI if docs else None,
    )
    app.state.container = container
    install_error_handlers(app)
    for module in (auth, suppliers, ncs, orders, operations, delivery, inventories, probes):
        app.include_router(module.router)
    app.state.readiness = probes.readiness(container)
    # added innermost first: Guard ends up outermost
    app.add_middleware(Idempotency, container=container)  # innermost: it stores the route's own answer
    document_idempotency(app)
    app.add_middleware(SecureHeaders, docs_paths=frozenset({DOCS, REDOC, "/docs/oauth2-redirect"}))
    app.add_middleware(Correlation)
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes())
    trace_http(app, container.tracer())
    if config.metrics_enabled():
        probes.install_metrics(app, container)  # its HTTP metrics outermost: refusals are counted too
    return app
