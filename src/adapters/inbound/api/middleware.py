"""ASGI middleware: correlation ids, body size limit, security headers, and the last-resort 500.

Pure ASGI (no BaseHTTPMiddleware), outermost first: `Guard` turns anything unhandled into a JSON
500 (and an oversized body into a 413) and logs it as a structured event, off the event loop (see
bootstrap/logging.py); `Correlation` binds a fresh request id and the correlation id to every line
the request logs, and writes its access line; `SecureHeaders` adds the headers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from uuid import uuid4

import structlog
from starlette.exceptions import HTTPException

from application.log_context import bound

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION = re.compile(r"[\x21-\x7e]{1,100}")  # printable ASCII, as stored with every event (fullmatch)
log = structlog.get_logger("supplytrace.api")


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """Refuses a body over `max_body_bytes` (413): a declared one before any route runs, a streamed
    one as soon as it grows past the limit; answers a JSON 500 for any unhandled error."""

    def __init__(self, app: App, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _send_json(send, 413, {"detail": f"request body over {self.max_body_bytes} bytes"}, [])
            return
        started, received = False, 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:  # FastAPI passes an HTTPException on as it is
                raise HTTPException(413, f"request body over {self.max_body_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as refused:
            if not started:
                await _send_json(send, refused.status_code, {"detail": refused.detail}, [])
        except Exception as error:  # noqa: BLE001 - the last resort: logged, answered as a JSON 500
            state = scope.get("state") or {}
            error_id = state.get("correlation_id") or str(uuid4())
            log.error("request.failed", method=scope.get("method"), path=scope.get("path"), error_id=error_id,
                      error_type=type(error).__name__, exc_info=error, correlation_id=state.get("correlation_id"),
                      request_id=state.get("request_id"))
            if not started:
                await _send_json(send, 500, {"detail": "internal server error", "error_id": error_id},
                                 [(CORRELATION_HEADER.lower().encode(), error_id.encode())])


class Correlation:
    """Takes the caller's X-Correlation-ID (printable ASCII, 100 characters at most) or makes one; logs
    one `http.request` line per request: method, route template, path, status, duration, client."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(CORRELATION_HEADER.lower().encode(), b"").decode("latin-1")
        correlation_id = given if _CORRELATION.fullmatch(given) else str(uuid4())
        ids = {"request_id": str(uuid4()), "correlation_id": correlation_id}
        scope.setdefault("state", {}).update(ids)
        started, status = time.perf_counter(), 500  # an error that escapes is answered 500 by Guard

        async def stamped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      (CORRELATION_HEADER.lower().encode(), correlation_id.encode())]
            await send(message)

        with bound(**ids):
            try:
                await self.app(scope, receive, stamped)
            finally:
                route = scope.get("route")
                client = scope.get("client")
                log.info("http.request", method=scope.get("method"), route=getattr(route, "path", None),
                         path=scope.get("path"), status=status,
                         duration_ms=round((time.perf_counter() - started) * 1000, 3),
                         client=client[0] if client else None)


API_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecureHeaders:
    """nosniff, no framing, no referrer; `no-store` unless a route set its own Cache-Control; a strict
    CSP (the interactive docs pages have their own, `page_policies`: docs.py; the console's pages theirs,
    `prefix_policies` by path prefix); HSTS when the request came over TLS."""

    def __init__(self, app: App, page_policies: Mapping[str, bytes],
                 prefix_policies: Mapping[str, bytes] | None = None) -> None:
        self.app = app
        self.policies = {path: (API_CSP[0], policy) for path, policy in page_policies.items()}
        self.prefixes = [(prefix, (API_CSP[0], policy)) for prefix, policy in (prefix_policies or {}).items()]

    def _policy(self, path: str) -> tuple[bytes, bytes]:
        if path in self.policies:
            return self.policies[path]
        for prefix, policy in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return policy
        return API_CSP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [*API_HEADERS, self._policy(scope.get("path") or "")]
        if scope.get("scheme") == "https":
            extra.append(HSTS)

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                names = {name.lower() for name, _ in headers}
                headers += [h for h in extra if h[0] not in names]
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, secured)
