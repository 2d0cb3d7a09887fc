"""Broker mode's publisher: an idempotent producer; a row is published only once the broker acked it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher, TransportUnavailable

from adapters.outbound.kafka.messages import encode, topic_for

# the broker is unreachable or slow: not the event's fault, so the relay counts no attempt
TRANSPORT_ERRORS = {
    KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.NOT_ENOUGH_REPLICAS, KafkaError._QUEUE_FULL,
}


class KafkaPublishError(Exception):
    pass


def _error(error: KafkaError) -> Exception:
    if error.code() in TRANSPORT_ERRORS or error.retriable():
        return TransportUnavailable(error.str())
    return KafkaPublishError(error.str())


class KafkaPublisher(EventPublisher):
    def __init__(self, bootstrap_servers: str, topic_prefix: str, delivery_timeout_ms: int = 30000) -> None:
        self.config = {"bootstrap.servers": bootstrap_servers}
        self.prefix = topic_prefix
        self.delivery_timeout = delivery_timeout_ms / 1000
        self.producer = Producer({
            **self.config,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": delivery_timeout_ms,
            "client.id": "supplytrace-relay",
        })

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        pending = TransportUnavailable("no delivery report from the broker in time")
        outcomes: list[Exception | None] = [pending] * len(envelopes)
        for index, envelope in enumerate(envelopes):
            key, value, headers = encode(envelope)
            try:
                self.producer.produce(topic_for(self.prefix, envelope.aggregate_type), value=value, key=key,
                                      headers=headers, on_delivery=partial(self._report, outcomes, index))
            except BufferError:
                outcomes[index] = TransportUnavailable("producer queue full")
            except KafkaException as error:
                outcomes[index] = _error(error.args[0])
            self.producer.poll(0)
        self.producer.flush(self.delivery_timeout + 5)
        return outcomes

    @staticmethod
    def _report(outcomes: list[Exception | None], index: int, error: KafkaError | None, _msg: Message) -> None:
        outcomes[index] = None if error is None else _error(error)

    def check(self) -> None:
        try:
            self.producer.list_topics(timeout=5)
        except KafkaException as error:
            raise TransportUnavailable(f"Kafka at {self.config['bootstrap.servers']}: {error}") from error

    def close(self) -> None:
        self.producer.flush(self.delivery_timeout)
