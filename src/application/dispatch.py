"""Applying events to their handlers: once each, set-based, in the caller's transaction.

`ApplyEvents` is the one implementation of "apply once" every delivery path uses (the polling
relay, the broker consumer, a re-delivery): for a batch it records every `(handler, event_id)` key
with one multi-row insert that skips the keys already there, hands each handler its fresh events
(typed domain events, rebuilt from their envelopes) and lets the caller commit everything at once.
The fast path takes the whole batch without a savepoint; if a handler fails, the caller rolls back
and runs the batch again isolated: each event, each handler in a savepoint, so the failing event
alone fails, the later events of its aggregate wait (`AggregateGate`), and the rest commits.
"""

from __future__ import annotations

import logging
import time
from abc import ABC
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from domain.events import DomainEvent

from application.envelope import EventEnvelope
from application.error_text import describe
from application.log_context import bound, event_fields
from application.ports.clock import Clock
from application.ports.metrics import NO_METRICS, DeliveryMetrics, Outcome
from application.ports.publisher import NotAttempted
from application.ports.tracing import NO_TRACER, Tracer
from application.ports.unit_of_work import StoreUnavailable, UnitOfWork

if TYPE_CHECKING:
    from application.registry import HandlerOptions

log = logging.getLogger(__name__)

ALL_EVENTS = "*"


@dataclass(frozen=True)
class Delivery:
    """One event handed to a handler: the typed event and the envelope it travelled in (who, why)."""

    event: DomainEvent
    envelope: EventEnvelope


class EventHandler(ABC):
    """Applies events to its own tables; its effects and its processed keys commit with the batch.

    `subscribes_to`: event classes (or ALL_EVENTS). Override `apply` for one event at a time, or
    `apply_batch` to write a whole batch with set-based statements.
    """

    name: ClassVar[str]
    subscribes_to: ClassVar[frozenset[type[DomainEvent] | str]]

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.event_types = frozenset(e if isinstance(e, str) else e.event_type for e in self.subscribes_to)

    @classmethod
    def create(cls, clock: Clock, options: HandlerOptions) -> EventHandler | None:
        """The handler as configured, or None when the configuration switches it off."""
        return cls(clock)

    def handles(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types

    def apply_batch(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        for delivery in deliveries:
            uow.acting_as(delivery.envelope.origin())  # events a handler records carry the origin of this one
            with bound(**event_fields(delivery.envelope)):
                self.apply(uow, delivery)
            uow.stage_events()

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        raise NotImplementedError(f"{type(self).__name__} implements neither apply nor apply_batch")


class UnhandledEvent(Exception):
    """No event class is registered for this type, or its payload does not fit the class."""


class HandlerFailures(Exception):
    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__("; ".join(f"{name}: {describe(e)}" for name, e in failures.items()))
        self.failures = failures


class AggregateGate:
    """Per-aggregate order within one batch: once an event of an aggregate fails or waits, the later
    events of that aggregate in the batch wait too. The one rule every path applies."""

    def __init__(self) -> None:
        self.closed: set[tuple[str, str]] = set()

    def blocked(self, envelope: EventEnvelope) -> bool:
        return (envelope.aggregate_type, envelope.aggregate_id) in self.closed

    def close(self, envelope: EventEnvelope) -> None:
        self.closed.add((envelope.aggregate_type, envelope.aggregate_id))


HELD_BACK = "an earlier event of its aggregate failed"


class ApplyEvents:
    """Hand a batch of envelopes to every subscribed handler, once, in the caller's unit of work.

    Returns one outcome per envelope: None (every handler has it, now or before), or the error
    (UnhandledEvent, HandlerFailures, NotAttempted for an event held back behind a failed one).
    StoreUnavailable is raised: the database is away, the caller's transaction is lost.
    """

    def __init__(self, events: dict[str, type[DomainEvent]], handlers: Iterable[EventHandler], clock: Clock,
                 tracer: Tracer = NO_TRACER, metrics: DeliveryMetrics = NO_METRICS) -> None:
        self.events, self.handlers, self.clock, self.tracer = events, list(handlers), clock, tracer
        self.metrics, self._subscribers = metrics, {}

    def __call__(self, uow: UnitOfWork, envelopes: Sequence[EventEnvelope],
                 isolated: bool = True) -> list[Exception | None]:
        """`isolated=False`: the fast path, no savepoint; a handler's exception propagates and the
        caller rolls back and calls again isolated (each event, each handler in a savepoint)."""
        outcomes: list[Exception | None] = [None] * len(envelopes)
        gate, ready = AggregateGate(), []
        for index, envelope in enumerate(envelopes):
            if gate.blocked(envelope):
                outcomes[index] = NotAttempted(HELD_BACK)
                continue
            try:
                ready.append((index, self.typed(envelope)))
            except UnhandledEvent as error:
                outcomes[index] = error
                gate.close(envelope)
        if not isolated:
            _log_applied(self._apply(uow, [delivery for _, delivery in ready], self.handlers))
            return outcomes
        for index, delivery in ready:
            if gate.blocked(delivery.envelope):
                outcomes[index] = NotAttempted(HELD_BACK)
                continue
            failures = self._apply_alone(uow, delivery)
            if failures:
                outcomes[index] = HandlerFailures(failures)
                gate.close(delivery.envelope)
        return outcomes

    def typed(self, envelope: EventEnvelope) -> Delivery:
        kind = self.events.get(envelope.event_type)
        if kind is None:
            raise UnhandledEvent(f"unknown event type {envelope.event_type!r}")
        try:
            event = kind.rebuild(envelope.payload, envelope.event_id, envelope.occurred_at)
        except (KeyError, TypeError, ValueError) as error:
            raise UnhandledEvent(f"payload does not fit {envelope.event_type}: {describe(error)}") from error
        return Delivery(event, envelope)

    def _apply_alone(self, uow: UnitOfWork, delivery: Delivery) -> dict[str, Exception]:
        """One event, each handler in a savepoint of its own: a handler that failed is retried later
        alone, the others keep what they did (their keys say so)."""
        failures: dict[str, Exception] = {}
        for handler in self.handlers:
            if not handler.handles(delivery.envelope.event_type):
                continue
            started = time.perf_counter()
            try:
                with uow.savepoint(), bound(**event_fields(delivery.envelope)):
                    applied = self._apply(uow, [delivery], [handler])
            except StoreUnavailable:
                raise
            except Exception as error:  # noqa: BLE001 - collected into the outcome
                with bound(**event_fields(delivery.envelope), handler=handler.name, duration_ms=_ms(started),
                           error=describe(error)):
                    log.warning("handler.failed", exc_info=error)
                failures[handler.name] = error
            else:
                _log_applied(applied)
        return failures

    def _apply(self, uow: UnitOfWork, deliveries: Sequence[Delivery], handlers: Sequence[EventHandler]
               ) -> list[tuple[str, list[Delivery], float]]:
        """Returns what each handler applied and its time in ms, logged once the batch held together."""
        wanted: dict[tuple[str, object], tuple[EventHandler, Delivery]] = {}
        for handler in handlers:
            for delivery in deliveries:  # an event delivered twice in one batch (a re-drive) counts once
                if handler.handles(delivery.envelope.event_type):
                    wanted.setdefault((handler.name, delivery.envelope.event_id), (handler, delivery))
        fresh = uow.processed.record_new(list(wanted), self.clock.now())
        applied = []
        for handler in handlers:
            mine = [d for key, (h, d) in wanted.items() if h is handler and key in fresh]
            if mine:
                started = time.perf_counter()
                with bound(handler=handler.name), self.tracer.spans("handle", [d.envelope for d in mine],
                                                                    handler=handler.name):
                    handler.apply_batch(uow, mine)
                seconds = time.perf_counter() - started
                self.metrics.handler_duration(handler.name, seconds)
                applied.append((handler.name, mine, round(seconds * 1000, 3)))
        return applied

    def observe(self, envelopes: Sequence[EventEnvelope], outcomes: Sequence[Exception | None], now: datetime) -> None:
        """Tell the metrics what the caller committed: each event per handler and outcome, and the
        commit→handled latency of every event all its handlers have (one tally per batch)."""
        if self.metrics is NO_METRICS:
            return
        tally: Counter[tuple[str, str]] = Counter()
        for envelope, outcome in zip(envelopes, outcomes, strict=True):
            if isinstance(outcome, UnhandledEvent):
                tally["none", Outcome.UNHANDLED] += 1
                continue
            failed = outcome.failures if isinstance(outcome, HandlerFailures) else None
            for name in self._subscribed(envelope.event_type):
                if isinstance(outcome, NotAttempted):
                    tally[name, Outcome.HELD_BACK] += 1
                else:
                    tally[name, Outcome.OK if outcome is None or (failed is not None and name not in failed)
                          else Outcome.FAILED] += 1
            if outcome is None:
                self.metrics.commit_to_handled(max((now - envelope.occurred_at).total_seconds(), 0.0))
        for (name, kind), count in tally.items():
            self.metrics.handled(name, kind, count)

    def _subscribed(self, event_type: str) -> list[str]:
        if event_type not in self._subscribers:
            self._subscribers[event_type] = [h.name for h in self.handlers if h.handles(event_type)]
        return self._subscribers[event_type]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _log_applied(applied: Sequence[tuple[str, list[Delivery], float]]) -> None:
    """One line per handler and event; `duration_ms` is the handler's time on its whole batch."""
    if not log.isEnabledFor(logging.INFO):
        return
    for handler, deliveries, duration_ms in applied:
        for delivery in deliveries:
            with bound(**event_fields(delivery.envelope), handler=handler, duration_ms=duration_ms,
                       batch_size=len(deliveries)):
                log.info("handler.applied")
