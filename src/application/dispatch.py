"""Routing events to idempotent handlers: one table, one failure never hides another."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence

from application.envelope import EventEnvelope
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.consumption import AlreadyProcessed
from application.ports.publisher import NotAttempted
from application.ports.unit_of_work import StoreUnavailable, UnitOfWork, UowFactory

log = logging.getLogger(__name__)

ALL_EVENTS = "*"


class EventHandler(ABC):
    """A handler whose effects and its `(name, event_id)` key commit in one transaction."""

    name: str
    subscribes_to: frozenset[str]

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def handles(self, event_type: str) -> bool:
        return ALL_EVENTS in self.subscribes_to or event_type in self.subscribes_to

    def __call__(self, envelope: EventEnvelope) -> bool:
        """Apply the event once; returns False when it had been applied already."""
        try:
            with self.uow().acting_as(envelope.origin()) as uow:
                if uow.processed.contains(self.name, envelope.event_id):
                    return False
                self.apply(uow, envelope)
                uow.processed.add(self.name, envelope.event_id, self.clock.now())
                uow.commit()
        except AlreadyProcessed:
            return False
        return True

    def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Apply several events, in order, in one transaction; raises (and keeps nothing) if one fails."""
        with self.uow() as uow:
            for envelope in envelopes:
                if uow.processed.contains(self.name, envelope.event_id):
                    continue
                uow.acting_as(envelope.origin())
                self.apply(uow, envelope)
                uow.processed.add(self.name, envelope.event_id, self.clock.now())
                uow.stage_events()  # events a handler records carry the origin of the event it handled
            uow.commit()

    @abstractmethod
    def apply(self, uow: UnitOfWork, envelope: EventEnvelope) -> None: ...


class UnhandledEvent(Exception):
    pass


class HandlerFailures(Exception):
    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__("; ".join(f"{name}: {describe(e)}" for name, e in failures.items()))
        self.failures = failures


class EventDispatcher:
    """Hands an event to every handler subscribed to its type."""

    def __init__(self, handlers: Iterable[EventHandler], known_event_types: Iterable[str]) -> None:
        self.handlers = list(handlers)
        self.known_event_types = frozenset(known_event_types)

    def dispatch_batch(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        """Hand a batch to the handlers: each takes its events of the batch in one transaction.

        If that transaction fails, the handler takes them again one by one, so a bad event fails
        alone; the later events of its aggregate are then not attempted by that handler (their
        outcome is NotAttempted unless they failed themselves), which keeps each handler in order.
        """
        failures: list[dict[str, Exception]] = [{} for _ in envelopes]
        skipped: list[bool] = [False] * len(envelopes)
        blocked: set[tuple[str, str]] = set()
        ready: list[int] = []
        for index, envelope in enumerate(envelopes):
            key = (envelope.aggregate_type, envelope.aggregate_id)
            if key in blocked:
                skipped[index] = True
            elif envelope.event_type not in self.known_event_types:
                failures[index]["dispatcher"] = UnhandledEvent(f"unknown event type {envelope.event_type!r}")
                blocked.add(key)
            else:
                ready.append(index)
        for handler in self.handlers:
            mine = [i for i in ready if handler.handles(envelopes[i].event_type)]
            if not mine:
                continue
            try:
                handler.handle_batch([envelopes[i] for i in mine])
                continue
            except Exception as error:  # noqa: BLE001 - retried one event at a time below
                log.info("handler %s: batch of %d failed (%s); one by one", handler.name, len(mine), error)
            held: set[tuple[str, str]] = set()
            for index in mine:
                envelope = envelopes[index]
                key = (envelope.aggregate_type, envelope.aggregate_id)
                if key in held:
                    skipped[index] = True
                    continue
                try:
                    handler(envelope)
                except Exception as error:  # noqa: BLE001 - collected into the outcome
                    log.warning("handler %s failed on %s: %s", handler.name, envelope.event_id, error)
                    failures[index][handler.name] = error
                    held.add(key)
        return [self._outcome(f, s) for f, s in zip(failures, skipped, strict=True)]

    @staticmethod
    def _outcome(failures: dict[str, Exception], skipped: bool) -> Exception | None:
        if "dispatcher" in failures:
            return failures["dispatcher"]
        if failures and all(isinstance(e, StoreUnavailable) for e in failures.values()):
            return next(iter(failures.values()))  # the database is away: not the event's fault
        if failures:
            return HandlerFailures(failures)
        if skipped:
            return NotAttempted("an earlier event of its aggregate failed")
        return None

    def dispatch(self, envelope: EventEnvelope) -> None:
        if envelope.event_type not in self.known_event_types:
            raise UnhandledEvent(f"unknown event type {envelope.event_type!r}")
        failures: dict[str, Exception] = {}
        for handler in self.handlers:
            if not handler.handles(envelope.event_type):
                continue
            try:
                handler(envelope)
            except Exception as error:  # noqa: BLE001 - collected and re-raised below
                log.warning("handler %s failed on %s: %s", handler.name, envelope.event_id, error)
                failures[handler.name] = error
        if failures and all(isinstance(e, StoreUnavailable) for e in failures.values()):
            raise next(iter(failures.values()))
        if failures:
            raise HandlerFailures(failures)
