"""The Kafka record: JSON envelope as value, aggregate id as key, CloudEvents 1.0 binary-mode `ce_*` headers
(the mapping itself: adapters/outbound/cloudevents.py, shared with RabbitMQ)."""

from __future__ import annotations

from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic

from application.envelope import EventEnvelope

from adapters.outbound.cloudevents import CONTENT_TYPE, SOURCE, attributes, body, decode

__all__ = ["SOURCE", "decode", "encode", "ensure_topics", "topic_for", "dead_letter_topic"]

CORRELATION_HEADER = "correlation_id"  # deprecated: ce_correlationid instead; sent until the next release


def topic_for(prefix: str, aggregate_type: str) -> str:
    return f"{prefix}.{aggregate_type}"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def encode(envelope: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the record for one event: the attributes as `ce_*` headers (Kafka binding)."""
    headers = [(f"ce_{name}", value.encode()) for name, value in attributes(envelope)]
    headers.insert(6, ("content-type", CONTENT_TYPE.encode()))
    headers.append((CORRELATION_HEADER, envelope.correlation_id.encode()))
    return envelope.aggregate_id.encode(), body(envelope), headers


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
