"""Spans of the delivery (relay, publish, handle), each a child of the trace its event carries.

The default `Tracer` does nothing and costs nothing; the OpenTelemetry adapter
(adapters/outbound/tracing.py) is set up only when an OTLP endpoint is configured (ADR 0017).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from application.envelope import EventEnvelope


class Tracer:
    """No tracing: no span, no current trace."""

    def current(self) -> tuple[str, str | None] | None:
        """(traceparent, tracestate) of the span running now (the HTTP request's), if any."""
        return None

    def spans(self, name: str, envelopes: Sequence[EventEnvelope], **attributes: str) -> AbstractContextManager[None]:
        """One span per event for the time of the block, each the child of its event's traceparent
        (a retry or a replay thus stays in the trace of the request that wrote the event)."""
        return nullcontext()


NO_TRACER = Tracer()
