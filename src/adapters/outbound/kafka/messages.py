"""The message format: JSON envelope as value, aggregate id as key, CloudEvents 1.0 binary-mode headers."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from application.envelope import EventEnvelope

SOURCE = "/supplytrace"
CORRELATION_HEADER = "correlation_id"  # deprecated: ce_correlationid instead; sent until the next release


def topic_for(prefix: str, aggregate_type: str) -> str:
    return f"{prefix}.{aggregate_type}"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def encode(envelope: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the record for one event."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(envelope.event_id).encode()),
        ("ce_type", envelope.event_type.encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_subject", envelope.aggregate_id.encode()),
        ("ce_time", envelope.occurred_at.isoformat().encode()),
        ("content-type", b"application/json"),
        ("ce_correlationid", envelope.correlation_id.encode()),
        *((f"ce_{name}", value.encode()) for name, value in (("traceparent", envelope.traceparent),
                                                               ("tracestate", envelope.tracestate)) if value),
        (CORRELATION_HEADER, envelope.correlation_id.encode()),
    ]
    value = json.dumps(envelope.to_dict(), separators=(",", ":")).encode()
    return envelope.aggregate_id.encode(), value, headers


def decode(value: bytes | None) -> EventEnvelope:
    """Raises ValueError, KeyError or TypeError on anything that is not an event envelope."""
    if value is None:
        raise ValueError("empty message")
    data: Any = json.loads(value)
    if not isinstance(data, dict):
        raise TypeError("message is not a JSON object")
    return EventEnvelope.from_dict(data)


def ensure_topics(config: dict[str, Any], topics: list[str], partitions: int = 4, timeout: float = 15) -> None:
    """Create the topics that do not exist yet; raises if the broker cannot be reached in `timeout`."""
    admin = AdminClient(config)
    admin.list_topics(timeout=min(timeout, 5))  # fails fast when no broker answers
    futures = admin.create_topics([NewTopic(t, partitions, 1) for t in topics], operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result(timeout=timeout + 5)
        except Exception as error:  # noqa: BLE001 - an existing topic is fine, anything else is raised
            code = getattr(error.args[0], "code", lambda: None)() if error.args else None
            if code != 36:  # TOPIC_ALREADY_EXISTS
                raise
