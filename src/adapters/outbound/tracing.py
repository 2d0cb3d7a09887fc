"""The Tracer port on the OpenTelemetry SDK: spans parented by the W3C trace context each event carries.

Set up only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (bootstrap/tracing.py): spans go to the OTLP
HTTP exporter in batches; the service name comes from `OTEL_SERVICE_NAME` (default `supplytrace`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, metrics, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from application.envelope import EventEnvelope
from application.ports.tracing import Tracer

PROPAGATOR = TraceContextTextMapPropagator()
KINDS = {"publish": SpanKind.PRODUCER, "handle": SpanKind.CONSUMER}


class NoLoneStatements(Sampler):
    """Traces start at requests and deliveries: a client call outside any span (the SQL statements of
    a relay polling an empty outbox) is dropped instead of starting a trace of its own every poll."""

    def __init__(self) -> None:
        self.root = ALWAYS_ON

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return self.root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return "NoLoneStatements"


def tracer_provider(*processors: SpanProcessor) -> TracerProvider:
    resource = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "supplytrace"}))
    provider = TracerProvider(resource=resource, sampler=ParentBased(root=NoLoneStatements()))
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def otlp_provider(exporter: SpanExporter | None = None) -> TracerProvider:
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # reads OTEL_EXPORTER_OTLP_*
        exporter = OTLPSpanExporter()
    return tracer_provider(BatchSpanProcessor(exporter))


def trace_sql(provider: TracerProvider, engine: Any) -> None:
    """Spans of the engine's statements. The instrumentation's engine listener, not its instrumentor:
    that one also patches sqlalchemy.ext.asyncio, which SQLAlchemy 2.1 cannot import without greenlet."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    usage = metrics.get_meter("supplytrace").create_up_down_counter("db.client.connections.usage")
    EngineTracer(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)


def parent_of(envelope: EventEnvelope) -> context.Context | None:
    if envelope.traceparent is None:
        return None
    carrier = {"traceparent": envelope.traceparent, "tracestate": envelope.tracestate or ""}
    return PROPAGATOR.extract(carrier)


class OtelTracer(Tracer):
    def __init__(self, provider: TracerProvider) -> None:
        self.provider, self.tracer = provider, provider.get_tracer("supplytrace")

    def current(self) -> tuple[str, str | None] | None:
        carrier: dict[str, str] = {}
        PROPAGATOR.inject(carrier)
        return (carrier["traceparent"], carrier.get("tracestate")) if "traceparent" in carrier else None

    @contextmanager
    def spans(self, name: str, envelopes: Sequence[EventEnvelope], **attributes: str) -> Iterator[None]:
        spans = [self.tracer.start_span(name, context=parent_of(e), kind=KINDS.get(name, SpanKind.INTERNAL),
                                        attributes={"supplytrace.event_id": str(e.event_id),
                                                    "supplytrace.event_type": e.event_type,
                                                    "supplytrace.correlation_id": e.correlation_id,
                                                    **{f"supplytrace.{k}": v for k, v in attributes.items()}})
                 for e in envelopes]
        # the statements of the block are children of the span of a lone event (of a batch's: no one's)
        token = context.attach(trace.set_span_in_context(spans[0])) if len(spans) == 1 else None
        try:
            yield
        except BaseException as error:
            for span in spans:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            raise
        finally:
            if token is not None:
                context.detach(token)
            for span in spans:
                span.end()
