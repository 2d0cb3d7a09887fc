"""The Idempotency-Key of every POST, in one place: a pure ASGI middleware (ADR 0020).

For a POST with the header and a valid bearer token: a key seen within the window with the same
request replays the stored response (`Idempotent-Replayed: true`) without running the route; another
request under the key is a 422; otherwise the route runs with the key claimed, the transaction that
writes stores the key, and the response is stored with it once sent. Without a valid token there is
no user to keep the key for: the route answers as usual (401), and `/auth/login`, which writes
nothing durable, never stores a token.
"""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
import structlog

from application.idempotency import HEADER, KEY_MAX_LENGTH, Claim, IdempotencyKeys, KeyReused, check_key
from application.ports.idempotency import KeyInUse, StoredResponse, claiming
from application.ports.security import InvalidToken
from application.ports.unit_of_work import StoreUnavailable
from domain.errors import ValidationError

from adapters.inbound.api.errors import RETRY_AFTER_UNAVAILABLE, safe_text
from adapters.inbound.api.middleware import App, Message, Receive, Scope, Send, _send_json
from adapters.inbound.api.openapi import document_errors

REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("content-type", "etag", "location")  # what a replay repeats besides status and body
log = structlog.get_logger("supplytrace.api")


def _header_error(message: str) -> dict[str, Any]:
    return {"detail": [{"loc": ["header", HEADER], "msg": message, "type": "value_error"}]}


class Idempotency:
    def __init__(self, app: App, container: Any) -> None:
        self.app, self.container = app, container

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or []) if scope["type"] == "http" else {}
        raw = headers.get(HEADER.lower().encode())
        if scope["type"] != "http" or scope.get("method") != "POST" or raw is None:
            await self.app(scope, receive, send)
            return
        try:
            key = check_key(raw.decode("latin-1"))
        except ValidationError as invalid:
            await _send_json(send, 400, _header_error(invalid.message), [])
            return
        user = await self._user(headers.get(b"authorization", b"").decode("latin-1"))
        if user is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        path = scope.get("path", "") + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string")
                                        else "")
        keys: IdempotencyKeys = self.container.idempotency_keys()
        try:
            outcome = await anyio.to_thread.run_sync(keys.begin, user, key, scope["method"], path, body)
        except KeyReused as reused:
            await _send_json(send, 422, _header_error(reused.message), [])
            return
        except KeyInUse as busy:
            await _send_json(send, 409, {"detail": safe_text(str(busy), 500)}, [(b"retry-after", b"1")])
            return
        except StoreUnavailable as down:
            await _send_json(send, 503, {"detail": safe_text(str(down), 500)},
                             [(b"retry-after", str(RETRY_AFTER_UNAVAILABLE).encode())])
            return
        if isinstance(outcome, StoredResponse):
            await _replay(send, outcome)
            return
        await self._run(scope, _replayed_body(body, receive), send, keys, outcome)

    async def _user(self, authorization: str) -> str | None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        verify = self.container.verify_token()
        try:
            principal = verify.remembered(token) or await anyio.to_thread.run_sync(verify, token)
        except (InvalidToken, StoreUnavailable):
            return None  # the route refuses it (401) or answers 503 itself
        return principal.username

    async def _run(self, scope: Scope, receive: Receive, send: Send, keys: IdempotencyKeys, claim: Claim) -> None:
        status, kept, chunks = 500, {}, []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                kept.update({name.decode("latin-1").lower(): value.decode("latin-1")
                             for name, value in message.get("headers") or [] if name.lower().decode() in KEPT_HEADERS})
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            with claiming(claim):
                await self.app(scope, receive, capture)
        finally:
            if claim.committed:  # the request wrote: keep its answer (an escaped error: the 500 Guard sends)
                text = b"".join(chunks).decode("utf-8", "replace") if chunks else json.dumps(
                    {"detail": "internal server error"})
                if not chunks:
                    kept = {"content-type": "application/json"}
                try:
                    await anyio.to_thread.run_sync(keys.complete, claim, StoredResponse(status, kept, text))
                except Exception as error:  # noqa: BLE001 - the answer is sent; a retry gets a 409, never a 2nd write
                    log.warning("idempotency.response_not_stored", key_length=len(claim.key),
                                error_type=type(error).__name__)


NOT_COVERED = frozenset({"/auth/login"})  # no user yet, nothing durable written: its key is ignored
PARAMETER = {
    "name": HEADER, "in": "header", "required": False,
    "description": "Send the request again with the same key: the first answer is replayed "
                   f"({REPLAYED}: true) and nothing is written twice. Per user, kept 24 h by default.",
    "schema": {"type": "string", "minLength": 1, "maxLength": KEY_MAX_LENGTH, "pattern": "^[ -~]+$"},
}


def document(app: Any) -> None:
    """Publish the header on every POST the middleware covers (it is no parameter of the routes)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            if "post" in operations and path not in NOT_COVERED:
                operations["post"].setdefault("parameters", []).append(dict(PARAMETER))
                document_errors(operations["post"], {400, 422})  # a malformed key; a key used for another request
        return schema

    app.openapi = openapi


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replayed_body(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _replay(send: Send, response: StoredResponse) -> None:
    payload = response.body.encode()
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers.items()]
    headers += [(b"content-length", str(len(payload)).encode()), (REPLAYED.lower().encode(), b"true")]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


__all__ = ["Idempotency", "KEY_MAX_LENGTH", "REPLAYED", "document"]
