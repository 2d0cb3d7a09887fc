"""RabbitMQ mode without a broker: the message, the partition mapping, the settings and the wiring."""

from __future__ import annotations

import uuid
import zlib
from datetime import UTC, datetime

import pytest

from adapters.inbound.rabbitmq_consumer import RabbitEventConsumer
from adapters.inbound.runtime import broker_consumer
from adapters.outbound.kafka.messages import encode as kafka_encode
from adapters.outbound.rabbitmq.connection import safe
from adapters.outbound.rabbitmq.messages import ce_headers, encode
from adapters.outbound.rabbitmq.publisher import RabbitPublisher
from adapters.outbound.rabbitmq.topology import Topology, partition_of
from application.envelope import EventEnvelope
from application.relay import OutboxRelay
from bootstrap.container import build_container
from bootstrap.settings import EventMode, Settings, SettingsError, load_settings


def envelope(**changes: object) -> EventEnvelope:
    fields = dict(event_id=uuid.uuid4(), event_type="NC_CREATED", aggregate_type="nc", aggregate_id="42",
                  occurred_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC), actor="quality", correlation_id="corr",
                  payload={"severity": "high"}, traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    fields.update(changes)
    return EventEnvelope(**fields)  # type: ignore[arg-type]


def test_the_amqp_message_carries_the_kafka_records_attributes_and_body() -> None:
    event = envelope()
    body, properties = encode(event)
    _, value, kafka_headers = kafka_encode(event)
    assert body == value  # the same JSON envelope
    attributes = {k.removeprefix("cloudEvents:"): v for k, v in properties.headers.items()}
    from_kafka = {k.removeprefix("ce_"): v.decode() for k, v in kafka_headers if k.startswith("ce_")}
    assert attributes == {**from_kafka, "partitionkey": "42"}
    assert (properties.delivery_mode, properties.content_type, properties.message_id, properties.type) == (
        2, "application/json", str(event.event_id), "NC_CREATED")


def test_an_aggregate_always_maps_to_the_same_partition_in_every_process() -> None:
    assert partition_of("42", 4) == zlib.crc32(b"42") % 4 == 0  # not Python's salted hash()
    assert {partition_of(str(i), 4) for i in range(100)} == {0, 1, 2, 3}
    topology = Topology("p", 4)
    assert topology.route("42") == ("0", 0) and topology.queue(2) == "p.2" and topology.partition("p.2") == 2
    assert topology.queue_arguments() == {"x-queue-type": "quorum", "x-single-active-consumer": True,
                                          "x-dead-letter-exchange": "p.dlx"}


def test_cloudevents_headers_are_stored_under_one_spelling_whatever_the_prefix() -> None:
    assert ce_headers({"cloudEvents:id": "a", "cloudEvents_type": b"T", "x-other": 3}) == [
        ("ce_id", b"a"), ("ce_type", b"T"), ("x-other", b"3")]
    assert ce_headers(None) == []


def test_a_url_is_shown_without_its_password() -> None:
    assert safe("amqp://guest:s3cret@host:5672/vh") == "amqp://guest:***@host:5672/vh"
    assert safe("amqp://host/") == "amqp://host/"


def test_rabbitmq_mode_wires_the_same_relay_with_the_rabbitmq_publisher_and_consumer(no_supplytrace_env) -> None:
    settings = Settings(_env_file=None, database_url="memory://", event_mode="rabbitmq",
                        rabbitmq_url="amqp://u:p@broker:5672/vh", rabbitmq_prefix="x", rabbitmq_partitions=8)
    assert settings.event_mode is EventMode.RABBITMQ and settings.event_mode.brokered
    container = build_container(settings)
    relay, publisher = container.relay(), container.publisher()
    assert isinstance(relay, OutboxRelay) and relay.publisher is publisher and isinstance(publisher, RabbitPublisher)
    assert publisher.topology == Topology("x", 8, "quorum")
    consumer = broker_consumer(container)  # connects on first use, not when built
    assert isinstance(consumer, RabbitEventConsumer) and consumer.topology is publisher.topology
    assert container.deliver_received().group == "x"
    polling = build_container(Settings(_env_file=None, database_url="memory://"))
    assert broker_consumer(polling) is None and not EventMode.POLLING.brokered


def test_a_url_that_is_no_amqp_is_refused_naming_the_variable(no_supplytrace_env, monkeypatch) -> None:
    monkeypatch.setenv("SUPPLYTRACE_RABBITMQ_URL", "http://guest:pw@host/")
    with pytest.raises(SettingsError, match="SUPPLYTRACE_RABBITMQ_URL: not an AMQP URL") as error:
        load_settings(_env_file=None)
    assert "pw" not in str(error.value)
    monkeypatch.setenv("RABBITMQ_URL", "amqp://from-the-delivery-service/")
    monkeypatch.delenv("SUPPLYTRACE_RABBITMQ_URL")
    assert load_settings(_env_file=None).rabbitmq_url == "amqp://from-the-delivery-service/"  # its earlier name
