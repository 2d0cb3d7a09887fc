"""RabbitMQ mode's consumer: takes the partition queues (one active consumer per queue, so one
aggregate's events are handled in order), hands each batch to the handlers and acknowledges it only
after their transaction committed (the batch: broker_consumer.py; the topology: ADR 0029)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import pika
import structlog

from application.consumption import DeliverReceivedEvents
from application.outbox_admin import RecordDeadLetters, undecodable
from application.ports.delivery_log import DeadLetter
from application.ports.publisher import TransportUnavailable

from adapters.inbound.broker_consumer import BrokerConsumer
from adapters.outbound.rabbitmq.connection import CONNECTION_ERRORS, ConfirmingChannel, connect
from adapters.outbound.rabbitmq.messages import PERSISTENT, ce_headers
from adapters.outbound.rabbitmq.topology import Topology

log = structlog.get_logger("supplytrace.consumer")
LINGER_SECONDS = 0.002


class Delivered(NamedTuple):
    queue: str
    method: Any  # pika.spec.Basic.Deliver
    properties: pika.BasicProperties
    body: bytes


class RabbitEventConsumer(BrokerConsumer[Delivered]):
    def __init__(self, deliver: DeliverReceivedEvents, url: str, topology: Topology, prefetch: int = 100,
                 batch_size: int = 500, poll_timeout: float = 0.5, heartbeat_seconds: int = 60,
                 connect_timeout_seconds: float = 5.0, confirm_timeout_seconds: float = 30.0,
                 record_dead_letters: RecordDeadLetters | None = None,
                 queue_depth: Callable[[Mapping[str, int]], None] | None = None) -> None:
        super().__init__(deliver, record_dead_letters, batch_size, poll_timeout)
        self.url, self.topology, self.prefetch = url, topology, prefetch
        self.heartbeat, self.connect_timeout, self.confirm_timeout = (heartbeat_seconds, connect_timeout_seconds,
                                                                      confirm_timeout_seconds)
        self.queue_depth, self._depth_due = queue_depth, 0.0
        self.connection: pika.BlockingConnection | None = None
        self.channel: Any = None
        self.dead_letters: ConfirmingChannel | None = None
        self._queues: dict[str, str] = {}  # consumer tag -> queue
        self._buffer: list[Delivered] = []
        self.connections = 0  # opened so far (each declared the topology)

    def subscribe(self) -> None:
        if self.connection is not None:
            return
        connection = connect(self.url, "supplytrace-consumer", self.heartbeat, self.connect_timeout)
        try:
            channel = connection.channel()
            self.topology.declare(channel)
            channel.basic_qos(prefetch_count=self.prefetch)  # per consumer, i.e. per partition queue
            self._queues = {channel.basic_consume(queue, self._on_message): queue for queue in self.topology.queues}
        except BaseException:
            connection.close() if connection.is_open else None
            raise
        self.connection, self.channel, self._buffer = connection, channel, []
        self.connections += 1

    def _on_message(self, _channel: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        self._buffer.append(Delivered(self._queues.get(method.consumer_tag, ""), method, properties, body))

    def _receive(self, timeout: float) -> list[Delivered]:
        self.subscribe()
        assert self.connection is not None
        try:
            if not self._buffer:
                self.connection.process_data_events(time_limit=timeout)  # returns once something arrived
            # and the rest of the burst: a relay's batch arrives as a stream of deliveries, not at once;
            # take them while they keep coming (2 ms without one ends it), so that one transaction
            # handles the batch instead of one transaction per first message
            while self._buffer and len(self._buffer) < self.batch_size:
                arrived = len(self._buffer)
                self.connection.process_data_events(time_limit=LINGER_SECONDS)
                if len(self._buffer) == arrived:
                    break
        except CONNECTION_ERRORS as error:  # nothing taken yet: the broker keeps it all; connect again next time
            log.warning("consumer.connection_lost", error=f"{type(error).__name__}: {error}")
            self._rewind()
            return []
        return self._buffer[:self.batch_size]

    def _value(self, message: Delivered) -> bytes | None:
        return message.body

    def _letter(self, message: Delivered, error: str) -> DeadLetter:
        """Keyed by queue and message id (or the body's digest): a redelivery is the same letter seen again."""
        partition = self.topology.partition(message.queue) if message.queue in self.topology.queues else 0
        letter = undecodable("rabbitmq", error, message.body, ce_headers(message.properties.headers),
                             message.queue, partition, 0)
        identity = message.properties.message_id or "sha256:" + hashlib.sha256(message.body).hexdigest()[:32]
        return dataclasses.replace(letter, key=f"record:{message.queue}/{identity}", offset=None)

    def _dead_letter(self, dead: Sequence[tuple[Delivered, str]]) -> None:
        """Publish copies to the dead-letter exchange (the error and the origin in headers) under confirms."""
        if not dead:
            return
        assert self.connection is not None
        if self.dead_letters is None or self.dead_letters.broken:
            self.dead_letters = ConfirmingChannel(self.connection, self.confirm_timeout)
        messages = []
        for message, error in dead:
            original = message.properties
            headers = {**(original.headers or {}), "dlq_error": error[:2000], "dlq_original_queue": message.queue,
                       "dlq_original_exchange": message.method.exchange,
                       "dlq_original_routing_key": message.method.routing_key}
            properties = pika.BasicProperties(content_type=original.content_type, message_id=original.message_id,
                                              type=original.type, delivery_mode=PERSISTENT, headers=headers)
            messages.append((self.topology.dead_letter_exchange, "", message.body, properties))
        results = self.dead_letters.publish(messages)
        refused = [result for result in results if isinstance(result, Exception)]
        if refused:
            raise TransportUnavailable(f"dead-lettering failed: {refused[0]}")
        for message, error in dead:
            log.error("consumer.dead_lettered", queue=message.queue, message_id=message.properties.message_id,
                      error=error)

    def _acknowledge(self, messages: Sequence[Delivered]) -> None:
        """One ack for the batch: the delivery tags of a channel grow, the batch is the buffer's head."""
        self.channel.basic_ack(messages[-1].method.delivery_tag, multiple=True)
        del self._buffer[:len(messages)]

    def report_metrics(self, every: float = 1.0) -> None:
        """Messages ready in each queue (and the dead-letter queue), at most once per `every` seconds:
        a passive declare per queue on this channel."""
        if self.queue_depth is None or self.channel is None or time.monotonic() < self._depth_due:
            return
        self._depth_due = time.monotonic() + every
        depths = {}
        for queue in [*self.topology.queues, self.topology.dead_letter_queue]:
            depths[queue] = self.channel.queue_declare(queue, passive=True).method.message_count
        self.queue_depth(depths)

    def _rewind(self) -> None:
        """Close the connection: the broker puts what was not acknowledged back, in order, for whoever
        consumes the queue next."""
        connection, self.connection, self.channel, self.dead_letters = self.connection, None, None, None
        self._buffer = []
        if connection is not None:
            try:
                if connection.is_open:
                    connection.close()
            except CONNECTION_ERRORS:
                pass

    def close(self) -> None:
        self._rewind()
        log.info("consumer.stopped")
