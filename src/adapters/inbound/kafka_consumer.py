"""Kafka mode's consumer: a consumer group hands each record to the handlers; offsets are committed
only after the handlers' transactions (or the dead-lettering) are done (the batch: broker_consumer.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, Message

from application.consumption import DeliverReceivedEvents
from application.outbox_admin import RecordDeadLetters, undecodable
from application.ports.delivery_log import DeadLetter
from application.ports.metrics import NO_METRICS, DeliveryMetrics

from adapters.inbound.broker_consumer import BrokerConsumer
from adapters.outbound.kafka.messages import dead_letter_topic, ensure_topics
from adapters.outbound.kafka.producer import HealingProducer, client_config

log = structlog.get_logger("supplytrace.consumer")


class KafkaEventConsumer(BrokerConsumer[Message]):
    def __init__(self, deliver: DeliverReceivedEvents, bootstrap_servers: str, topics: list[str], group_id: str,
                 session_timeout_ms: int = 10000, batch_size: int = 500, poll_timeout: float = 0.5,
                 fetch_wait_ms: int = 100, record_dead_letters: RecordDeadLetters | None = None,
                 metrics: DeliveryMetrics = NO_METRICS) -> None:
        super().__init__(deliver, record_dead_letters, batch_size, poll_timeout)
        self.topics, self.metrics, self._lag_due = topics, metrics, 0.0
        self.config: dict[str, Any] = client_config(bootstrap_servers)
        self.group_config = {
            **self.config,
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(100, session_timeout_ms // 4),
            "topic.metadata.refresh.interval.ms": 5000,
            "fetch.wait.max.ms": fetch_wait_ms,
        }
        self.consumer: Consumer | None = None
        self.dead_letters = HealingProducer({**self.config, "enable.idempotence": True, "acks": "all"})

    def subscribe(self) -> None:
        if self.consumer is None:
            ensure_topics(self.config, self.topics)
            self.consumer = Consumer(self.group_config)
            self.consumer.subscribe(self.topics)

    def _receive(self, timeout: float) -> list[Message]:
        self.subscribe()
        assert self.consumer is not None
        first = self.consumer.poll(timeout)
        if first is None:
            return []
        messages = [first, *self.consumer.consume(self.batch_size - 1, 0)] if self.batch_size > 1 else [first]
        taken = []
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer.error", error=message.error().str())
                continue
            taken.append(message)
        return taken

    def _value(self, message: Message) -> bytes | None:
        return message.value()

    def _letter(self, message: Message, error: str) -> DeadLetter:
        return undecodable("kafka", error, message.value(), message.headers() or [], message.topic(),
                           message.partition(), message.offset())

    def _acknowledge(self, messages: Sequence[Message]) -> None:
        assert self.consumer is not None
        self.consumer.commit(asynchronous=False)

    def _dead_letter(self, dead: Sequence[tuple[Message, str]]) -> None:
        """Copy the records to `<topic>.dlq` with the error in headers; raises unless the broker acked all."""
        if not dead:
            return
        reports: list[KafkaError | None] = []
        refused = []
        for message, error in dead:
            headers = list(message.headers() or []) + [
                ("dlq_error", error[:2000].encode()),
                ("dlq_original_topic", message.topic().encode()),
                ("dlq_original_partition", str(message.partition()).encode()),
                ("dlq_original_offset", str(message.offset()).encode()),
            ]
            refusal = self.dead_letters.produce(dead_letter_topic(message.topic()), message.value(), message.key(),
                                                headers, lambda err, _msg: reports.append(err))
            if refusal is not None:
                refused.append(refusal)
        self.dead_letters.flush(30)
        if refused or reports != [None] * len(dead):
            self.dead_letters.renew()  # a fatal or timed-out session is not reused for the retry
            raise RuntimeError(f"dead-lettering failed: {refused or reports}")
        for message, error in dead:
            log.error("consumer.dead_lettered", topic=message.topic(), offset=message.offset(), error=error)

    def report_metrics(self) -> None:
        self.report_lag()

    def report_lag(self, every: float = 1.0) -> None:
        """The lag of each assigned partition, at most once per `every` seconds and without asking the
        broker: the high watermark its last fetch brought (cached) minus the position. A partition with
        neither yet (nothing fetched or consumed since the assignment) is left out."""
        if self.metrics is NO_METRICS or self.consumer is None or time.monotonic() < self._lag_due:
            return
        self._lag_due = time.monotonic() + every
        lags = {}
        for position in self.consumer.position(self.consumer.assignment()):
            _, high = self.consumer.get_watermark_offsets(position, cached=True)
            if high >= 0 and position.offset >= 0:
                lags[position.topic, position.partition] = max(high - position.offset, 0)
        self.metrics.consumer_lag(lags)

    def _rewind(self) -> None:
        """Drop the consumer so uncommitted records are read again from the committed offsets."""
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        self.dead_letters.flush(10)
        log.info("consumer.stopped")
