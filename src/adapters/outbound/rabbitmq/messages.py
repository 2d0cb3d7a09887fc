"""The AMQP message of an event: the JSON envelope as body, the CloudEvents attributes as `cloudEvents:*`
application properties (AMQP binding, binary mode; the mapping: adapters/outbound/cloudevents.py),
persistent, with the event id as message id and the content type as content-type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pika

from application.envelope import EventEnvelope

from adapters.outbound.cloudevents import CONTENT_TYPE, attributes, body, decode

__all__ = ["PREFIXES", "decode", "encode", "ce_headers"]

PREFIX = "cloudEvents:"
PREFIXES = (PREFIX, "cloudEvents_")  # the spec allows `cloudEvents_` (JMS-friendly): read both
PERSISTENT = pika.DeliveryMode.Persistent


def encode(envelope: EventEnvelope) -> tuple[bytes, pika.BasicProperties]:
    headers: dict[str, Any] = {f"{PREFIX}{name}": value for name, value in attributes(envelope)}
    headers[f"{PREFIX}partitionkey"] = envelope.aggregate_id  # the ordering key (the Kafka record's key)
    properties = pika.BasicProperties(content_type=CONTENT_TYPE, delivery_mode=PERSISTENT,
                                      message_id=str(envelope.event_id), type=envelope.event_type,
                                      headers=headers)
    return body(envelope), properties


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def ce_headers(headers: Mapping[str, Any] | None) -> list[tuple[str, bytes]]:
    """Every header as (name, bytes), CloudEvents attributes renamed `ce_<name>` as in the Kafka binding:
    the dead-letter store keeps one spelling whatever the broker."""
    named = []
    for name, value in (headers or {}).items():
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = "ce_" + name.removeprefix(prefix)
                break
        named.append((name, _text(value).encode()))
    return named
