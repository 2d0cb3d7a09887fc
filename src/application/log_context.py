"""Fields that every log line written while they are bound carries: the request's ids, the event and
handler being applied. The core cannot import structlog, so this is a plain ContextVar; the logging
set-up (bootstrap/logging.py) merges it into every record, the core's and the adapters' alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from application.envelope import EventEnvelope

_fields: ContextVar[dict[str, Any]] = ContextVar("supplytrace_log_fields", default={})  # noqa: B039 - never mutated


def current() -> dict[str, Any]:
    return _fields.get()


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Adds `fields` to every line logged in this block (inner blocks win on a shared key)."""
    token = _fields.set({**_fields.get(), **fields})
    try:
        yield
    finally:
        _fields.reset(token)


def event_fields(envelope: EventEnvelope) -> dict[str, Any]:
    return {"correlation_id": envelope.correlation_id, "event_id": str(envelope.event_id),
            "event_type": envelope.event_type}
