"""Read-your-writes with a read replica (ADR 0023): the `X-Consistency-Token` header, both ways.

A write's response carries the primary's WAL position after its commit; a client that sends it back on
a later read is served by the replica only once the replica has replayed it, else by the primary (see
adapters/outbound/sqlalchemy/replica.py). Installed only when SUPPLYTRACE_READ_DATABASE_URL is set.
"""

from __future__ import annotations

from adapters.inbound.api.middleware import App, Message, Receive, Scope, Send, _send_json
from adapters.outbound.sqlalchemy.replica import CONSISTENCY, TOKEN_HEADER, Consistency, format_lsn, parse_lsn

_HEADER = TOKEN_HEADER.lower().encode()


class ConsistencyTokens:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        box = Consistency()
        given = dict(scope.get("headers") or []).get(_HEADER)
        if given is not None:
            try:
                box.after = parse_lsn(given.decode("latin-1"))
            except ValueError as error:
                await _send_json(send, 422, {"detail": [{"loc": ["header", TOKEN_HEADER], "msg": str(error),
                                                         "type": "value_error"}]}, [])
                return

        async def with_token(message: Message) -> None:
            if message["type"] == "http.response.start" and box.written is not None:
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_HEADER, format_lsn(box.written).encode())]
            await send(message)

        token = CONSISTENCY.set(box)
        try:
            await self.app(scope, receive, with_token)
        finally:
            CONSISTENCY.reset(token)
