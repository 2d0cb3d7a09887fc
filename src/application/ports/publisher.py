from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from application.envelope import EventEnvelope


class TransportUnavailable(Exception):
    """The broker cannot be reached: not the event's fault, so no attempt is counted."""


class NotAttempted(Exception):
    """Held back because an earlier event of the same aggregate failed in this call."""


@dataclass(frozen=True)
class Published:
    """Where a broker acknowledged an event (its delivery timeline shows it)."""

    topic: str
    partition: int
    offset: int


class EventPublisher(ABC):
    """Hands events to their consumers: in-process handlers or a broker."""

    # set when a successful publish means the handlers have run (in-process delivery): the name
    # recorded as the events' `handled_by`; None when consumers confirm handling later (a broker)
    handled_on_publish: str | None = None

    @abstractmethod
    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | Published | None]:
        """Deliver in order; one outcome per envelope (None or where it went = delivered, else the error).

        Once an envelope of an aggregate fails, later envelopes of that aggregate in the same call
        are not delivered: their outcome is NotAttempted, so one aggregate's events stay in order.
        """

    def check(self) -> None:
        """Raise if the transport is unreachable (health check); nothing to check by default."""
