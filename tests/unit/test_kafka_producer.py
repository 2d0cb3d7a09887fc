"""The Kafka producer's self-healing, without a broker: classification, fatal sessions, health."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from confluent_kafka import KafkaError

from adapters.outbound.kafka.producer import KafkaPublishError, classify
from adapters.outbound.kafka.publisher import KafkaPublisher
from application.envelope import EventEnvelope
from application.ports.publisher import NotAttempted, TransportUnavailable

NO_BROKER = "127.0.0.1:9"  # nothing listens: the client never connects, which is all these tests need


@pytest.mark.parametrize("code", [
    KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, KafkaError.UNKNOWN_PRODUCER_ID, KafkaError.INVALID_PRODUCER_EPOCH,
    KafkaError._MSG_TIMED_OUT, KafkaError._ALL_BROKERS_DOWN, KafkaError._FATAL,
])
def test_fatal_and_transport_errors_count_no_attempt(code: int) -> None:
    assert isinstance(classify(KafkaError(code, "x")), TransportUnavailable)


def test_any_fatal_error_counts_no_attempt() -> None:
    assert isinstance(classify(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "x", fatal=True)), TransportUnavailable)


def test_a_record_the_broker_refuses_counts_an_attempt() -> None:
    assert isinstance(classify(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE, "too large")), KafkaPublishError)


def test_health_reports_a_fatal_producer_and_renews_it() -> None:
    publisher = KafkaPublisher(NO_BROKER, "unit", delivery_timeout_ms=1000)
    wedged = publisher.producer._producer
    publisher.producer._on_error(KafkaError(KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, "desynchronized", fatal=True))
    assert publisher.producer.fatal == "desynchronized"
    with pytest.raises(TransportUnavailable, match="wedged"):
        publisher.check()
    assert publisher.producer.fatal is None
    assert publisher.producer._producer is not wedged


def test_a_fatal_session_is_renewed_before_the_next_batch() -> None:
    publisher = KafkaPublisher(NO_BROKER, "unit", delivery_timeout_ms=1000)
    publisher.ready_topics.add("unit.supplier")
    publisher.producer._on_error(KafkaError(KafkaError._FATAL, "fatal", fatal=True))
    outcomes = publisher.publish([])
    assert outcomes == []
    assert publisher.producer.fatal is None
    assert publisher.ready_topics == set()  # topics are checked again by the new session


def test_records_purged_by_renewing_a_session_count_no_attempt() -> None:
    """Renewing a fatal session purges what it still held: not the events' fault (it counted one before)."""
    for code in (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT):
        assert isinstance(classify(KafkaError(code, "Local: Purged in queue")), TransportUnavailable)


def test_an_aggregates_later_event_is_not_produced_after_a_refused_one() -> None:
    """A refused record must not let the later events of its aggregate reach the topic before it."""
    publisher = KafkaPublisher(NO_BROKER, "unit", delivery_timeout_ms=1000)
    publisher.ready_topics.add("unit.supplier")  # no broker: skip the topic check
    at = datetime(2026, 3, 10, tzinfo=UTC)

    def event(aggregate: str, size: int) -> EventEnvelope:
        return EventEnvelope(uuid4(), "SUPPLIER_CREATED", "supplier", aggregate, at, "a", "c", {"x": "y" * size})

    outcomes = publisher.publish([event("1", 2_000_000), event("1", 1), event("2", 1)])
    assert isinstance(outcomes[0], KafkaPublishError)
    assert isinstance(outcomes[1], NotAttempted)
    assert isinstance(outcomes[2], TransportUnavailable)  # produced, never acknowledged: no broker
