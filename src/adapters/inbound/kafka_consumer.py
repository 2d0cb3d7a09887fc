"""Broker mode's consumer: a consumer group hands each record to the handlers; offsets are committed
only after the handlers' transactions (or the dead-lettering) are done."""

from __future__ import annotations

import threading
from typing import Any

import structlog
from confluent_kafka import Consumer, KafkaError, Message

from application.consumption import DeliverReceivedEvents
from application.outbox_admin import RecordDeadLetters, undecodable
from application.envelope import EventEnvelope
from application.error_text import describe
from application.ports.outbox import OutboxStatus

from adapters.outbound.kafka.messages import dead_letter_topic, decode, ensure_topics
from adapters.outbound.kafka.producer import HealingProducer, client_config

log = structlog.get_logger("supplytrace.consumer")


class KafkaEventConsumer:
    def __init__(self, deliver: DeliverReceivedEvents, bootstrap_servers: str, topics: list[str], group_id: str,
                 session_timeout_ms: int = 10000, batch_size: int = 500, poll_timeout: float = 0.5,
                 fetch_wait_ms: int = 100, record_dead_letters: RecordDeadLetters | None = None) -> None:
        self.deliver, self.topics, self.batch_size, self.poll_timeout = deliver, topics, batch_size, poll_timeout
        self.record_dead_letters = record_dead_letters
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
        self.handled = 0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self) -> None:
        if self.consumer is None:
            ensure_topics(self.config, self.topics)
            self.consumer = Consumer(self.group_config)
            self.consumer.subscribe(self.topics)

    def run_once(self, timeout: float | None = None) -> int:
        """Handle what the broker has (waiting up to `timeout` for the first record) in one
        transaction; commit its offsets after it. Returns how many records it handled."""
        self.subscribe()
        assert self.consumer is not None
        first = self.consumer.poll(self.poll_timeout if timeout is None else timeout)
        if first is None:
            return 0
        messages = [first, *self.consumer.consume(self.batch_size - 1, 0)] if self.batch_size > 1 else [first]
        records: list[tuple[Message, EventEnvelope]] = []
        dead: list[tuple[Message, str]] = []
        for message in messages:
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer.error", error=message.error().str())
                continue
            try:
                records.append((message, decode(message.value())))
            except (ValueError, KeyError, TypeError) as error:
                dead.append((message, f"cannot be deserialized: {describe(error)}"))
        taken = len(records) + len(dead)
        if not taken:
            return 0
        if dead and self.record_dead_letters is not None:  # kept in the dead-letter store before the offsets move
            self.record_dead_letters([undecodable("kafka", error, m.value(), m.headers() or [], m.topic(),
                                                  m.partition(), m.offset()) for m, error in dead])
        outcomes = self.deliver([envelope for _, envelope in records]) if records else []
        for (message, _), outcome in zip(records, outcomes, strict=True):
            if outcome is not None and outcome[0] is OutboxStatus.FAILED:
                dead.append((message, outcome[1]))
        self._dead_letter(dead)
        self.consumer.commit(asynchronous=False)  # after the handlers' commit: a crash in between redelivers
        self.handled += taken
        return taken

    def _dead_letter(self, dead: list[tuple[Message, str]]) -> None:
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

    # the same loop shape as the relay: start/stop for `serve`, run for `consume`
    def run(self) -> None:
        log.info("consumer.started", topics=self.topics)
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - reported; the batch is redelivered (offsets not committed)
                log.error("consumer.batch_failed", error=f"{type(error).__name__}: {error}", exc_info=error)
                self._rewind()
                self.stopping.wait(1.0)
        self.close()

    def _rewind(self) -> None:
        """Drop the consumer so uncommitted records are read again from the committed offsets."""
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="supplytrace-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        self.dead_letters.flush(10)
        log.info("consumer.stopped")
