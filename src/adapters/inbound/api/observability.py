"""HTTP metrics: every request counted and timed by method, route template and status."""

from __future__ import annotations

import time
from typing import Any

from adapters.outbound.metrics import observe_http

UNMATCHED = "unmatched"  # no route matched (404, or refused before routing): never the raw path


class HttpMetrics:
    """Pure ASGI, outermost, so refusals (413, 401 …) are counted too. The route label is the template
    FastAPI matched (`/ncs/{nc_id}`), never the raw path: one series per id would grow without end."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            observe_http(scope["method"], route, status, time.perf_counter() - started)
