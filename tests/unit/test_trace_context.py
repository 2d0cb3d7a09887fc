"""W3C trace context: the strict traceparent format, and envelopes with and without it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.envelope import EventEnvelope, Origin
from application.trace_context import new_traceparent, span_id, trace_id, valid_traceparent, valid_tracestate

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("value", [VALID, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                                   "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09"])
def test_a_well_formed_traceparent_is_kept(value: str) -> None:
    assert valid_traceparent(value) == value


@pytest.mark.parametrize("value", [
    None, "", "garbage",
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",  # uppercase hex
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero parent id
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  # short trace id
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",  # short flags
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
    f" {VALID}", f"{VALID}\n", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
])
def test_an_invalid_traceparent_is_ignored(value: str | None) -> None:
    assert valid_traceparent(value) is None


def test_a_new_trace_is_valid_sampled_and_random() -> None:
    first, second = new_traceparent(), new_traceparent()
    assert valid_traceparent(first) == first and first.endswith("-01")
    assert trace_id(first) != trace_id(second) and span_id(first) != span_id(second)


def test_tracestate_is_printable_ascii_of_512_characters_at_most() -> None:
    assert valid_tracestate(" congo=t61rcWkgMzE,rojo=00f067aa0ba902b7 ") == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    assert valid_tracestate("a=" + "x" * 510) is not None
    assert valid_tracestate("a=" + "x" * 511) is None
    assert valid_tracestate("a=\x00") is None
    assert valid_tracestate("") is None and valid_tracestate(None) is None


def envelope(origin: Origin) -> EventEnvelope:
    return EventEnvelope(uuid4(), "SUPPLIER_CREATED", "supplier", "1", datetime(2026, 3, 10, tzinfo=UTC),
                         origin.actor, origin.correlation_id, {"x": 1}, origin.traceparent, origin.tracestate)


def test_the_envelope_round_trips_its_trace_context_and_passes_it_to_the_events_it_causes() -> None:
    sent = envelope(Origin("alice", "c-1", VALID, "congo=t61rcWkgMzE"))
    data = sent.to_dict()
    assert (data["traceparent"], data["tracestate"]) == (VALID, "congo=t61rcWkgMzE")
    assert EventEnvelope.from_dict(data) == sent
    assert sent.origin() == Origin("system", "c-1", VALID, "congo=t61rcWkgMzE")


def test_an_envelope_without_trace_context_stays_as_it_was() -> None:
    old = envelope(Origin("alice", "c-1"))
    data = old.to_dict()
    assert "traceparent" not in data and "tracestate" not in data  # the format older readers know
    assert EventEnvelope.from_dict(data) == old
    assert EventEnvelope.from_dict({**data, "traceparent": "not-a-traceparent"}).traceparent is None
