"""Trace context in polling mode: the request's traceparent on the outbox row and as the parent of
the delivery's spans (OpenTelemetry SDK, in-memory exporter), retries and replays included."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa
from dependency_injector import providers
from fastapi.testclient import TestClient
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from adapters.inbound.api.app import create_app
from adapters.outbound.sqlalchemy.tables import outbox_archive, outbox_events
from adapters.outbound.tracing import tracer_provider
from application.trace_context import span_id, trace_id
from bootstrap.tracing import build_tracer
from tests.support.harness import RunningApp, running_app

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACESTATE = "congo=t61rcWkgMzE"
OPERATOR = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def traced(sqlite_url: str) -> Iterator[tuple[RunningApp, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    with running_app("sqlite", sqlite_url) as app:
        tracer = build_tracer(app.container.engine, provider=tracer_provider(SimpleSpanProcessor(exporter)))
        app.container.tracer.override(providers.Object(tracer))
        try:
            yield app, exporter
        finally:
            EngineTracer.remove_all_event_listeners()


def ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    return response.json()


def raise_nc(app: RunningApp, **headers: str) -> str:
    """The event id of the NC_RAISED event of a new non-conformity (its supplier's event delivered first)."""
    supplier = ok(app.call("procurement", "POST", "/suppliers",
                           json={"name": "Acme", "certification_expiry": "2027-01-01"}), 201)
    app.run_worker()
    nc = ok(app.call("quality", "POST", "/ncs", headers=headers,
                     json={"supplier_id": supplier["id"], "severity": "low", "description": "scratch"}), 201)
    [event] = [e for e in ok(app.call("auditor", "GET", "/events?limit=50"), 200)["items"]
               if e["aggregate_type"] == "nc" and e["aggregate_id"] == str(nc["id"])]
    return event["event_id"]


def stored(app: RunningApp, event_id: str) -> tuple[str | None, str | None]:
    with app.container.engine().connect() as conn:
        for table in (outbox_events, outbox_archive):
            row = conn.execute(sa.select(table.c.traceparent, table.c.tracestate)
                               .where(table.c.event_id == UUID(event_id))).first()
            if row is not None:
                return row.traceparent, row.tracestate
    raise AssertionError(f"event {event_id} is not in the outbox")


def spans_of(exporter: InMemorySpanExporter, name: str, event_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.name == name and s.attributes.get("supplytrace.event_id") == event_id]


def switchable_spans(exporter: InMemorySpanExporter, event_id: str) -> list[ReadableSpan]:
    return [s for s in spans_of(exporter, "handle", event_id)
            if s.attributes["supplytrace.handler"] == "switchable_failure"]


def assert_child_of(span: ReadableSpan, traceparent: str) -> None:
    assert span.parent is not None and span.parent.is_remote
    assert format(span.context.trace_id, "032x") == trace_id(traceparent)
    assert format(span.parent.span_id, "016x") == span_id(traceparent)


def test_the_requests_traceparent_is_stored_and_parents_the_handlers_spans(traced) -> None:
    app, exporter = traced
    event_id = raise_nc(app, traceparent=TRACEPARENT, tracestate=TRACESTATE)
    assert stored(app, event_id) == (TRACEPARENT, TRACESTATE)

    exporter.clear()
    app.run_worker()
    handled = spans_of(exporter, "handle", event_id)
    [relay] = spans_of(exporter, "relay", event_id)
    assert {s.attributes["supplytrace.handler"] for s in handled} >= {"audit_trail", "switchable_failure"}
    for span in [relay, *handled]:
        assert_child_of(span, TRACEPARENT)
        assert span.parent.trace_state.get("congo") == "t61rcWkgMzE"
    # the SQL of a lone event's delivery is in its trace; the polls around it start no trace of their own
    statements = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert statements and all(s.context.trace_id == relay.context.trace_id for s in statements)
    assert any(s.parent.span_id == relay.context.span_id for s in statements)


def test_an_invalid_traceparent_starts_a_new_trace(traced) -> None:
    app, _ = traced
    event_id = raise_nc(app, traceparent=TRACEPARENT.upper())
    traceparent, tracestate = stored(app, event_id)
    assert traceparent is not None and traceparent != TRACEPARENT.upper() and tracestate is None
    assert trace_id(traceparent) != trace_id(TRACEPARENT.lower())


def test_retries_and_replays_stay_in_the_original_trace(traced) -> None:
    app, exporter = traced
    event_id = raise_nc(app, traceparent=TRACEPARENT)
    app.failure.failing = True
    for _ in range(24):  # out of attempts after 1 + 2 + 4 + 8 s of backoff: FAILED
        app.run_worker()
        app.clock.advance(5)
    app.failure.failing = False
    failing = switchable_spans(exporter, event_id)
    assert len(failing) >= 2 and all(not s.status.is_ok for s in failing)
    for span in failing:
        assert_child_of(span, TRACEPARENT)

    exporter.clear()
    ok(app.call("admin", "POST", f"/events/{event_id}/replay", json={"reason": "fixed"},
                headers={"traceparent": OPERATOR}), 200)
    app.run_worker()
    steps = {s["step"]: s for s in ok(app.call("auditor", "GET", f"/events/{event_id}"), 200)["steps"]}
    assert steps["WRITTEN"]["detail"]["traceparent"] == TRACEPARENT
    assert steps["REPLAYED"]["detail"]["traceparent"] == OPERATOR  # the operator's request, linked to the replay
    again = switchable_spans(exporter, event_id)
    assert len(again) == 1 and again[0].status.is_ok
    assert_child_of(again[0], TRACEPARENT)


def test_with_http_traced_the_events_trace_is_the_requests_server_span(sqlite_url: str) -> None:
    exporter = InMemorySpanExporter()
    with running_app("sqlite", sqlite_url) as app:
        tracer = build_tracer(provider=tracer_provider(SimpleSpanProcessor(exporter)))
        app.container.tracer.override(providers.Object(tracer))
        app.client = TestClient(create_app(app.container), raise_server_exceptions=False)  # FastAPI instrumented
        event_id = raise_nc(app, traceparent=TRACEPARENT)
        [server] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER and s.name == "POST /ncs"]
        assert_child_of(server, TRACEPARENT)
        traceparent, _ = stored(app, event_id)
        assert traceparent == f"00-{trace_id(TRACEPARENT)}-{format(server.context.span_id, '016x')}-01"
        app.run_worker()
        for span in spans_of(exporter, "handle", event_id):
            assert_child_of(span, traceparent)


def test_without_an_otlp_endpoint_no_sdk_is_set_up() -> None:
    script = ("import sys; from bootstrap.container import build_container; from bootstrap.settings import Settings;"
              "from adapters.inbound.api.app import create_app; c = build_container(Settings(_env_file=None, "
              "database_url='memory://')); create_app(c); c.apply_events();"
              "assert type(c.tracer()).__name__ == 'Tracer', c.tracer();"
              "assert not [m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter',"
              "'opentelemetry.instrumentation'))], 'OpenTelemetry SDK imported'")  # the API: FastAPI imports it
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
