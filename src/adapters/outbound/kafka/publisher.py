"""Broker mode's publisher: an idempotent producer; a row is published only once the broker acked it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka.admin import AdminClient

from application.envelope import EventEnvelope
from application.dispatch import HELD_BACK, AggregateGate
from application.ports.publisher import EventPublisher, NotAttempted, Published, TransportUnavailable

from adapters.outbound.kafka.messages import encode, ensure_topics, topic_for
from adapters.outbound.kafka.producer import HealingProducer, classify, client_config


class KafkaPublisher(EventPublisher):
    def __init__(self, bootstrap_servers: str, topic_prefix: str, delivery_timeout_ms: int = 30000,
                 linger_ms: float = 1.0) -> None:
        self.config = client_config(bootstrap_servers)
        self.prefix = topic_prefix
        self.delivery_timeout = delivery_timeout_ms / 1000
        self.producer = HealingProducer({
            **self.config,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": linger_ms,
            "message.timeout.ms": delivery_timeout_ms,
            "client.id": "supplytrace-relay",
        })
        self.ready_topics: set[str] = set()

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | Published | None]:
        if self.producer.fatal:
            self._reset()
        try:
            self._ensure_topics({topic_for(self.prefix, e.aggregate_type) for e in envelopes})
        except Exception as error:  # noqa: BLE001 - broker unreachable: fail fast, count no attempt
            return [TransportUnavailable(f"{type(error).__name__}: {error}")] * len(envelopes)
        pending = TransportUnavailable("no delivery report from the broker in time")
        outcomes: list[Exception | Published | None] = [pending] * len(envelopes)
        gate = AggregateGate()
        for index, envelope in enumerate(envelopes):
            if gate.blocked(envelope):  # never put an aggregate's later event on the topic before a refused one
                outcomes[index] = NotAttempted(HELD_BACK)
                continue
            key, value, headers = encode(envelope)
            refused = self.producer.produce(topic_for(self.prefix, envelope.aggregate_type), value, key, headers,
                                            partial(self._report, outcomes, index))
            if refused is not None:
                outcomes[index] = refused
                gate.close(envelope)
        self.producer.flush(self.delivery_timeout + 5)
        if self.producer.fatal or any(isinstance(outcome, TransportUnavailable) for outcome in outcomes):
            self._reset()
        return outcomes

    def _ensure_topics(self, topics: set[str]) -> None:
        """Create missing topics first: a broker that lost its state (or a new one) may not have them."""
        missing = topics - self.ready_topics
        if missing:
            ensure_topics(self.config, sorted(missing), timeout=self.delivery_timeout)
            self.ready_topics |= missing

    def _reset(self) -> None:
        """After an outage or a fatal error: check the topics again, and start a new idempotent
        producer session (a restarted broker no longer knows the old producer id and sequence numbers)."""
        self.ready_topics.clear()
        self.producer.renew()

    @staticmethod
    def _report(outcomes: list[Exception | Published | None], index: int, error: KafkaError | None,
                msg: Message) -> None:
        outcomes[index] = Published(msg.topic(), msg.partition(), msg.offset()) if error is None else classify(error)

    def check(self) -> None:
        """Raise if no broker answers, or if the producer went fatal (it is renewed, so the next
        probe can pass without waiting for an event to publish)."""
        if self.producer.fatal:
            wedged = self.producer.fatal
            self._reset()
            raise TransportUnavailable(f"Kafka producer was wedged and has been renewed: {wedged}")
        try:
            # a new client has no cached metadata: this really asks a broker
            AdminClient(self.config).list_topics(timeout=5)
        except KafkaException as error:
            raise TransportUnavailable(f"Kafka at {self.config['bootstrap.servers']}: {error}") from error

    def close(self) -> None:
        self.producer.flush(self.delivery_timeout)
