"""What every broker consumer does with a batch, written once (Kafka and RabbitMQ only say how to
receive, acknowledge, dead-letter and rewind):

1. decode each message; what cannot be decoded is kept in the dead-letter store first;
2. hand the events to DeliverReceivedEvents (one transaction: handlers, attempts, confirmations);
3. copy the undecodable and the FAILED messages to the broker's dead-letter destination (acked);
4. only then acknowledge the batch: a crash before leaves it unacknowledged, so it is delivered
   again and changes nothing (the handlers are idempotent).
A failure anywhere (the database or the broker away) rewinds: the unacknowledged messages come again.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

import structlog

from application.consumption import DeliverReceivedEvents
from application.envelope import EventEnvelope
from application.error_text import describe
from application.outbox_admin import RecordDeadLetters
from application.ports.delivery_log import DeadLetter
from application.ports.outbox import OutboxStatus

from adapters.outbound.cloudevents import decode

log = structlog.get_logger("supplytrace.consumer")
M = TypeVar("M")  # one received message, as the transport's client gives it


class BrokerConsumer(ABC, Generic[M]):
    def __init__(self, deliver: DeliverReceivedEvents, record_dead_letters: RecordDeadLetters | None,
                 batch_size: int, poll_timeout: float) -> None:
        self.deliver, self.record_dead_letters = deliver, record_dead_letters
        self.batch_size, self.poll_timeout = batch_size, poll_timeout
        self.handled = 0
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what each transport says ---------------------------------------------------------------

    @abstractmethod
    def _receive(self, timeout: float) -> list[M]:
        """Up to batch_size messages, waiting up to `timeout` for the first (transport errors left out)."""

    @abstractmethod
    def _value(self, message: M) -> bytes | None: ...

    @abstractmethod
    def _letter(self, message: M, error: str) -> DeadLetter:
        """The undecodable message as a dead letter of the store."""

    @abstractmethod
    def _dead_letter(self, dead: Sequence[tuple[M, str]]) -> None:
        """Copy the messages to the broker's dead-letter destination; raise unless the broker acked all."""

    @abstractmethod
    def _acknowledge(self, messages: Sequence[M]) -> None: ...

    @abstractmethod
    def _rewind(self) -> None:
        """Drop the session so that the unacknowledged messages are delivered again."""

    @abstractmethod
    def close(self) -> None: ...

    def report_metrics(self) -> None:
        """Called between batches (consumer lag, queue depth …)."""

    # --- the batch ---------------------------------------------------------------------------

    def run_once(self, timeout: float | None = None) -> int:
        """Handle what the broker has (waiting up to `timeout` for the first message) in one transaction;
        acknowledge it after. Returns how many messages it took."""
        messages = self._receive(self.poll_timeout if timeout is None else timeout)
        if not messages:
            return 0
        records: list[tuple[M, EventEnvelope]] = []
        dead: list[tuple[M, str]] = []
        for message in messages:
            try:
                records.append((message, decode(self._value(message))))
            except (ValueError, KeyError, TypeError) as error:
                dead.append((message, f"cannot be deserialized: {describe(error)}"))
        if dead and self.record_dead_letters is not None:  # kept in the store before the broker forgets them
            self.record_dead_letters([self._letter(message, error) for message, error in dead])
        outcomes = self.deliver([envelope for _, envelope in records]) if records else []
        for (message, _), outcome in zip(records, outcomes, strict=True):
            if outcome is not None and outcome[0] is OutboxStatus.FAILED:
                dead.append((message, outcome[1]))
        self._dead_letter(dead)
        self._acknowledge(messages)  # after the handlers' commit: a crash in between redelivers
        self.handled += len(messages)
        return len(messages)

    # --- the loop: start/stop for `serve`, run for `consume` ---------------------------------------

    def run(self) -> None:
        log.info("consumer.started", transport=type(self).__name__)
        while not self.stopping.is_set():
            try:
                self.run_once()
                self.report_metrics()
            except Exception as error:  # noqa: BLE001 - reported; the batch is delivered again (not acknowledged)
                log.error("consumer.batch_failed", error=f"{type(error).__name__}: {error}", exc_info=error)
                self._rewind()
                self.stopping.wait(1.0)
        self.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="supplytrace-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
