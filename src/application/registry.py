"""The event registry: every event type, its class, its aggregate, and the handlers that take it.

Everything that needs a list of events, aggregates or handlers derives it from here: the
container builds the handlers, the appliers rebuild typed events, transports name their topics and
subscriptions after the aggregate types. Adding an event or a handler is one line in `catalog.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.events import DomainEvent

from application.dispatch import EventHandler
from application.ports.clock import Clock


@dataclass(frozen=True)
class HandlerOptions:
    """The settings handlers are built with (filled from the configuration by the container)."""

    fulfilment_auto: bool = False
    fulfilment_step_seconds: float = 2.0


class EventRegistry:
    def __init__(self, events: Iterable[type[DomainEvent]], handlers: Iterable[type[EventHandler]]) -> None:
        self.events: dict[str, type[DomainEvent]] = {}
        for event in events:
            if event.event_type in self.events:
                raise ValueError(f"event type {event.event_type} registered twice")
            self.events[event.event_type] = event
        self.handler_types = tuple(handlers)
        names = [h.name for h in self.handler_types]
        if len(set(names)) != len(names):
            raise ValueError(f"handler names must be unique: {names}")
        for handler in self.handler_types:
            unknown = {e.event_type for e in handler.subscribes_to if not isinstance(e, str)} - self.events.keys()
            if unknown:
                raise ValueError(f"{handler.__name__} subscribes to unregistered events: {sorted(unknown)}")

    @property
    def event_types(self) -> list[str]:
        return list(self.events)

    @property
    def aggregate_types(self) -> list[str]:
        return sorted({e.aggregate_type for e in self.events.values()})

    def build_handlers(self, clock: Clock, options: HandlerOptions,
                       extra: Sequence[EventHandler] = ()) -> list[EventHandler]:
        """One instance of each registered handler that is switched on, then `extra` (tests)."""
        built = [h.create(clock, options) for h in self.handler_types]
        return [h for h in built if h is not None] + list(extra)
