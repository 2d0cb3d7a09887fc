"""W3C trace context (https://www.w3.org/TR/trace-context/): the `traceparent` a change carries from
the request that caused it to every handler of its events, and the caller's `tracestate`."""

from __future__ import annotations

import re
import secrets

_TRACEPARENT = re.compile(r"(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")  # printable ASCII, as stored (String(512))
SAMPLED = "01"


def valid_traceparent(value: str | None) -> str | None:
    """The value if it is a traceparent `version-traceid-parentid-flags` in lowercase hex (version
    not ff, ids not all zeros), else None: an invalid one is ignored and a new trace started."""
    return value if value is not None and _TRACEPARENT.fullmatch(value) else None


def valid_tracestate(value: str | None) -> str | None:
    value = value.strip() if value else None
    return value if value and _TRACESTATE.fullmatch(value) else None


def new_traceparent() -> str:
    """A new trace: random trace id and span id, sampled."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-{SAMPLED}"


def trace_id(traceparent: str) -> str:
    return traceparent.split("-")[1]


def span_id(traceparent: str) -> str:
    return traceparent.split("-")[2]
