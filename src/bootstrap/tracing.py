"""OpenTelemetry at run time, only with `OTEL_EXPORTER_OTLP_ENDPOINT` set (ADR 0017): spans of HTTP
requests, SQL statements and the delivery (relay, publish, handle) exported over OTLP HTTP. Without
it the SDK is never imported and the Tracer port is the no-op default."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from application.ports.tracing import NO_TRACER, Tracer

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


def build_tracer(engine: Callable[[], Any] | None = None, provider: Any = None) -> Tracer:
    """The OpenTelemetry tracer when an OTLP endpoint is set (or a `provider` is given, in tests),
    its SQL statements traced on `engine`; else the no-op one."""
    if provider is None and not os.environ.get(ENDPOINT):
        return NO_TRACER
    from adapters.outbound.tracing import OtelTracer, otlp_provider, trace_sql

    if provider is None:
        from opentelemetry import trace

        provider = otlp_provider()
        trace.set_tracer_provider(provider)  # for libraries that trace through the global API
    if engine is not None:
        trace_sql(provider, engine())
    return OtelTracer(provider)


def trace_http(app: Any, tracer: Tracer) -> None:
    """Spans of the HTTP requests, when tracing is on."""
    provider = getattr(tracer, "provider", None)
    if provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
