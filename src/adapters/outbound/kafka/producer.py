"""An idempotent producer that heals itself: after a fatal error or an outage it is replaced.

librdkafka's idempotent producer goes *fatal* when the broker's view of its producer id and
sequence numbers no longer matches its own (a broker that lost its state, another producer given
the same id, a fenced epoch). A fatal producer never delivers again, so it is dropped and a new
session starts; the events it held count no attempt (they were not at fault).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer

from application.ports.publisher import TransportUnavailable

log = structlog.get_logger("supplytrace.kafka")
# librdkafka writes its own lines (`%3|…|FAIL|…`) to stderr unless given a logger: then they are
# records of this one, handed over when the client is polled (produce, flush, consumer poll)
LIBRDKAFKA = logging.getLogger("librdkafka")


def client_config(bootstrap_servers: str) -> dict[str, Any]:
    """What every client (producer, consumer, admin) is configured with."""
    return {"bootstrap.servers": bootstrap_servers, "logger": LIBRDKAFKA}

# the broker is unreachable, slow or out of step with the producer: not the event's fault
TRANSPORT_ERRORS = {
    KafkaError._MSG_TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
    KafkaError.REQUEST_TIMED_OUT, KafkaError.NETWORK_EXCEPTION, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.NOT_ENOUGH_REPLICAS, KafkaError._QUEUE_FULL,
    KafkaError._FATAL, KafkaError._FENCED, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
    KafkaError.UNKNOWN_PRODUCER_ID, KafkaError.INVALID_PRODUCER_EPOCH, KafkaError.PRODUCER_FENCED,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT,  # dropped by our own renewal of a session
}


class KafkaPublishError(Exception):
    """The broker refused the record itself (too large, not authorised …): the event's attempt counts."""


def classify(error: KafkaError) -> Exception:
    if error.fatal() or error.retriable() or error.code() in TRANSPORT_ERRORS:
        return TransportUnavailable(error.str())
    return KafkaPublishError(error.str())


class HealingProducer:
    """Wraps confluent-kafka's Producer; `renew()` starts a new idempotent session."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.fatal: str | None = None  # the fatal error of the current session, until renewed
        self._lock = threading.Lock()
        self._producer = self._new()

    def _new(self) -> Producer:
        return Producer({**self.config, "error_cb": self._on_error})

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            self.fatal = error.str()
            log.error("kafka.producer_fatal", error=error.str())

    def produce(self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]],
                on_delivery: Callable[[KafkaError | None, Any], None]) -> Exception | None:
        """Queue one record; returns the error when it could not even be queued."""
        try:
            self._producer.produce(topic, value=value, key=key, headers=headers, on_delivery=on_delivery)
            self._producer.poll(0)
        except BufferError:
            return TransportUnavailable("producer queue full")
        except KafkaException as error:
            return classify(error.args[0])
        return None

    def flush(self, timeout: float) -> None:
        """Wait for the delivery reports, but give up as soon as the session went fatal."""
        deadline = time.monotonic() + timeout
        while self.fatal is None and time.monotonic() < deadline:
            try:
                if self._producer.flush(min(0.5, max(deadline - time.monotonic(), 0))) == 0:
                    return
            except (KafkaException, SystemError) as error:  # a fatal error raised through a callback
                self.fatal = self.fatal or f"{type(error).__name__}: {error}"

    def renew(self) -> None:
        """Drop this session (its undelivered records are reported as not delivered) and start anew."""
        with self._lock:
            old, self._producer = self._producer, self._new()
            if self.fatal:
                log.warning("kafka.producer_renewed", after=self.fatal)
            self.fatal = None
        try:
            old.flush(0)
        except (KafkaException, SystemError):
            pass

    def pending(self) -> int:
        return len(self._producer)
