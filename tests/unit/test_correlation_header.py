"""The caller's X-Correlation-ID is kept only when it is wholly printable ASCII of 1 to 100 characters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.inbound.api.middleware import Correlation


def _correlation_of(header: bytes) -> tuple[str, bytes]:
    seen: dict[str, Any] = {}

    async def app(scope, receive, send) -> None:
        seen.update(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-correlation-id", header)]}
    asyncio.run(Correlation(app)(scope, receive, send))
    return seen["correlation_id"], dict(sent[0]["headers"])[b"x-correlation-id"]


def test_a_printable_correlation_id_is_kept_and_echoed() -> None:
    assert _correlation_of(b"order-42/retry") == ("order-42/retry", b"order-42/retry")
    assert _correlation_of(b"x" * 100)[0] == "x" * 100


@pytest.mark.parametrize("header", [b"abc\n", b"abc\r\n", b"a b", b"", b"x" * 101, b"caf\xe9"])
def test_anything_else_is_replaced_by_a_new_id(header: bytes) -> None:
    given = header.decode("latin-1")
    correlation_id, echoed = _correlation_of(header)
    assert correlation_id != given and len(correlation_id) == 36 and echoed == correlation_id.encode()
