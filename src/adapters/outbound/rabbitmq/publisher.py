"""RabbitMQ mode's publisher: persistent messages under publisher confirms; a row is published only once
the broker acked it (ADR 0029)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pika
import structlog

from application.dispatch import HELD_BACK, AggregateGate
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher, NotAttempted, Published, TransportUnavailable

from adapters.outbound.rabbitmq.connection import CONNECTION_ERRORS, ConfirmingChannel, connect, safe
from adapters.outbound.rabbitmq.messages import encode
from adapters.outbound.rabbitmq.topology import Topology

log = structlog.get_logger("supplytrace.rabbitmq")


class RabbitPublisher(EventPublisher):
    def __init__(self, url: str, topology: Topology, confirm_timeout_seconds: float = 30.0,
                 heartbeat_seconds: int = 60, connect_timeout_seconds: float = 5.0) -> None:
        self.url, self.topology = url, topology
        self.confirm_timeout, self.heartbeat, self.connect_timeout = (confirm_timeout_seconds, heartbeat_seconds,
                                                                      connect_timeout_seconds)
        self._connection: pika.BlockingConnection | None = None
        self._channel: ConfirmingChannel | None = None
        self._lock = threading.Lock()
        self.connections = 0  # opened so far (each declared the topology)

    def _open(self) -> ConfirmingChannel:
        connection = connect(self.url, "supplytrace-relay", self.heartbeat, self.connect_timeout)
        try:
            self.topology.declare(connection.channel())
            channel = ConfirmingChannel(connection, self.confirm_timeout)
        except CONNECTION_ERRORS as error:
            _close(connection)
            raise TransportUnavailable(f"RabbitMQ at {safe(self.url)}: {type(error).__name__}: {error}") from error
        except BaseException:
            _close(connection)
            raise
        self._connection, self._channel = connection, channel
        self.connections += 1
        return channel

    def _reset(self) -> None:
        if self._connection is not None:
            _close(self._connection)
        self._connection = self._channel = None

    def _alive(self) -> ConfirmingChannel | None:
        """The open channel, after serving what the broker sent meanwhile (heartbeats, a close); None if gone."""
        if self._channel is None or self._connection is None:
            return None
        try:
            self._connection.process_data_events(0)
        except CONNECTION_ERRORS:
            self._reset()
            return None
        return self._channel if self._connection.is_open and self._channel.channel.is_open else None

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | Published | None]:
        with self._lock:
            reused = self._alive()
            outcomes = self._publish(reused, envelopes)
            if reused is not None and all(isinstance(o, TransportUnavailable) for o in outcomes):
                # the broker closed an idle connection since (missed heartbeats, a restart): once more, anew
                self._reset()
                outcomes = self._publish(None, envelopes)
            return outcomes

    def _publish(self, channel: ConfirmingChannel | None, envelopes: Sequence[EventEnvelope]) -> list:
        try:
            channel = channel or self._open()
        except TransportUnavailable as error:
            return [error] * len(envelopes)
        gate, messages, indexes, routes = AggregateGate(), [], [], []
        outcomes: list[Exception | Published | None] = [None] * len(envelopes)
        for index, envelope in enumerate(envelopes):
            if gate.blocked(envelope):
                outcomes[index] = NotAttempted(HELD_BACK)
                continue
            routing_key, partition = self.topology.route(envelope.aggregate_id)
            body, properties = encode(envelope)
            messages.append((self.topology.exchange, routing_key, body, properties))
            indexes.append(index)
            routes.append(partition)
        confirmed = channel.publish(messages)
        for index, partition, result in zip(indexes, routes, confirmed, strict=True):
            if isinstance(result, Exception):
                outcomes[index] = result
            else:
                outcomes[index] = Published(self.topology.queue(partition), partition, result)
        if channel.broken or channel.unroutable:  # a new channel (and the topology declared again) next time
            self._reset()
        return outcomes

    def check(self) -> None:
        """Raise unless the broker answers: a connection and a channel of its own (pika's connections
        belong to one thread), with the AMQP handshake and the vhost's permissions."""
        connection = connect(self.url, "supplytrace-ready", 0, min(self.connect_timeout, 2.0))
        try:
            connection.channel().close()
        except CONNECTION_ERRORS as error:
            raise TransportUnavailable(f"RabbitMQ at {safe(self.url)}: {type(error).__name__}: {error}") from error
        finally:
            _close(connection)

    def close(self) -> None:
        with self._lock:
            self._reset()


def _close(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except CONNECTION_ERRORS:
        pass
