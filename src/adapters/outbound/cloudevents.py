"""The event message of every broker: a JSON envelope as the body, CloudEvents 1.0 binary-mode attributes
beside it. One mapping, written once; each binding only names the attributes its own way
(Kafka: `ce_<name>` record headers; AMQP: `cloudEvents:<name>` application properties)."""

from __future__ import annotations

import json
from typing import Any

from application.envelope import EventEnvelope

SOURCE = "/supplytrace"
CONTENT_TYPE = "application/json"
SPECVERSION = "1.0"


def attributes(envelope: EventEnvelope) -> list[tuple[str, str]]:
    """The CloudEvents attributes (and extensions) of one event, unprefixed, in a stable order."""
    return [
        ("specversion", SPECVERSION),
        ("id", str(envelope.event_id)),
        ("type", envelope.event_type),
        ("source", SOURCE),
        ("subject", envelope.aggregate_id),
        ("time", envelope.occurred_at.isoformat()),
        ("correlationid", envelope.correlation_id),
        *((name, value) for name, value in (("traceparent", envelope.traceparent),
                                           ("tracestate", envelope.tracestate)) if value),
    ]


def body(envelope: EventEnvelope) -> bytes:
    return json.dumps(envelope.to_dict(), separators=(",", ":")).encode()


def decode(value: bytes | None) -> EventEnvelope:
    """Raises ValueError, KeyError or TypeError on anything that is not an event envelope."""
    if value is None:
        raise ValueError("empty message")
    data: Any = json.loads(value)
    if not isinstance(data, dict):
        raise TypeError("message is not a JSON object")
    return EventEnvelope.from_dict(data)
