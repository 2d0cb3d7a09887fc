"""The FastAPI application: routers, error table, correlation ids, embedded workers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

from fastapi import FastAPI, Request, Response

from adapters.inbound.api.deps import CORRELATION_HEADER
from adapters.inbound.api.errors import install_error_handlers
from adapters.inbound.api.routes import auth, ncs, operations, orders, suppliers
from adapters.inbound.api.routes import inventories
from bootstrap.container import Container


def create_app(container: Container, background: list[Any] | None = None) -> FastAPI:
    """`background`: objects with start()/stop() run for the app's lifetime (the embedded workers)."""
    workers = background or []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
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
    )
    app.state.container = container
    install_error_handlers(app)
    for module in (auth, suppliers, ncs, orders, operations):
        app.include_router(module.router)
    app.include_router(inventories.router)

    @app.middleware("http")
    async def correlation_id(request: Request, call_next: Callable) -> Response:
        value = request.headers.get(CORRELATION_HEADER) or str(uuid4())
        request.state.correlation_id = value[:100]
        response = await call_next(request)
        response.headers[CORRELATION_HEADER] = request.state.correlation_id
        return response

    return app
