from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from application.envelope import EventEnvelope


class EventPublisher(ABC):
    """Hands events to their consumers: in-process handlers or a broker."""

    @abstractmethod
    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        """Deliver in order; one outcome per envelope (None = delivered, else the error)."""

    def check(self) -> None:
        """Raise if the transport is unreachable (health check); nothing to check by default."""
