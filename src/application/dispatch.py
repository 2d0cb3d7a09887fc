"""Routing events to idempotent handlers: one table, one failure never hides another."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable

from application.envelope import EventEnvelope
from application.ports.clock import Clock
from application.ports.consumption import AlreadyProcessed
from application.ports.unit_of_work import UnitOfWork, UowFactory

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

    @abstractmethod
    def apply(self, uow: UnitOfWork, envelope: EventEnvelope) -> None: ...


class UnhandledEvent(Exception):
    pass


class HandlerFailures(Exception):
    def __init__(self, failures: dict[str, Exception]) -> None:
        super().__init__("; ".join(f"{name}: {type(e).__name__}: {e}" for name, e in failures.items()))
        self.failures = failures


class EventDispatcher:
    """Hands an event to every handler subscribed to its type."""

    def __init__(self, handlers: Iterable[EventHandler], known_event_types: Iterable[str]) -> None:
        self.handlers = list(handlers)
        self.known_event_types = frozenset(known_event_types)

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
        if failures:
            raise HandlerFailures(failures)
