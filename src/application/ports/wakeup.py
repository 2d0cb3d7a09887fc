"""Waking a relay as soon as events are committed, instead of letting it sleep a poll interval."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Wakeup(ABC):
    """A signal "new events are in the outbox". `mark()` before looking for work, then
    `wait(mark, timeout)` after finding none: a signal that came in between is not lost."""

    @abstractmethod
    def mark(self) -> int:
        """The current signal count."""

    @abstractmethod
    def wait(self, mark: int, timeout: float) -> bool:
        """Block until a signal newer than `mark` (True) or the timeout (False)."""

    @abstractmethod
    def notify(self) -> None:
        """Signal the waiters of this process."""

    def close(self) -> None:
        """Release what the signal holds (a listening connection)."""
