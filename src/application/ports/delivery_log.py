"""What happened to each event on its way to its handlers: the delivery steps and the dead letters.

Both are written in the transactions that take the steps themselves (a claim, a failure, a
replay), so they are true after a crash; steps are buffered by the unit of work and written with
one multi-row insert when it commits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from application.pagination import Page, PageRequest


class StepKind(StrEnum):
    CLAIMED = "CLAIMED"  # taken by a relay (worker, lease token)
    PUBLISHED = "PUBLISHED"  # acknowledged by the broker (topic, partition, offset)
    ATTEMPT_FAILED = "ATTEMPT_FAILED"  # a delivery attempt failed (attempt, error, next try)
    DEAD_LETTERED = "DEAD_LETTERED"  # out of attempts: FAILED, in the dead letters
    PARKED = "PARKED"  # waits behind a FAILED event of its aggregate
    UNPARKED = "UNPARKED"  # released by the replay or skip of that event
    REDRIVEN = "REDRIVEN"  # published but not handled: made PENDING again (not its fault, no attempt)
    LEASE_LOST = "LEASE_LOST"  # a relay completed after another claim took the event: changed nothing
    REPLAYED = "REPLAYED"  # an operator sent it again (actor, reason, before/after status)
    SKIPPED = "SKIPPED"  # an operator chose not to deliver it (actor, reason)


@dataclass(frozen=True)
class DeliveryStep:
    event_id: UUID
    kind: StepKind
    at: datetime
    worker: str | None = None
    lease_token: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class Buffered:
    """A store that keeps what a transaction adds until it commits (`flush`, called by the unit of
    work just before the commit, writes it with one statement). Inside a savepoint, what it added is
    written when the savepoint ends, so that a failure of that write is the savepoint's own."""

    def __init__(self) -> None:
        self.pending: list[Any] = []

    def flush(self, since: int = 0) -> None:
        """Write what is pending from `since` on; a store that writes at once has nothing to do."""


class DeliverySteps(Buffered, ABC):
    @abstractmethod
    def record(self, steps: Sequence[DeliveryStep]) -> None:
        """Add steps to this transaction (written with it, one insert)."""

    @abstractmethod
    def of_event(self, event_id: UUID) -> list[DeliveryStep]:
        """The event's steps, in the order they were taken."""


class DeadLetterStatus(StrEnum):
    OPEN = "OPEN"
    REPLAYED = "REPLAYED"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class DeadLetter:
    """An event that could not be delivered: FAILED in the outbox, or a broker record nobody can decode.

    `key` identifies it across sightings (`event:<id>` or `record:<topic>/<partition>/<offset>`);
    a new sighting updates `last_seen`, the error and the count."""

    key: str
    source: str  # "outbox" or the broker ("kafka")
    error: str
    payload: str  # the JSON text, or base64 of bytes that are not UTF-8 JSON (payload_encoding)
    payload_encoding: str = "json"
    event_id: UUID | None = None
    event_type: str | None = None
    aggregate_type: str | None = None
    aggregate_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    occurrences: int = 1
    status: DeadLetterStatus = DeadLetterStatus.OPEN
    replayed_at: datetime | None = None
    replayed_by: str | None = None
    id: int | None = None

    @staticmethod
    def event_key(event_id: UUID) -> str:
        return f"event:{event_id}"


@dataclass(frozen=True)
class DeadLetterFilter:
    status: DeadLetterStatus | None = None
    source: str | None = None
    event_type: str | None = None
    aggregate_type: str | None = None
    aggregate_id: str | None = None


class DeadLetters(ABC):
    @abstractmethod
    def record(self, letters: Sequence[DeadLetter], now: datetime) -> None:
        """Add these, or count one more sighting of those already here (OPEN again if replayed)."""

    @abstractmethod
    def get(self, letter_id: int) -> DeadLetter | None: ...

    @abstractmethod
    def find(self, key: str) -> DeadLetter | None: ...

    @abstractmethod
    def resolve(self, letter_id: int, status: DeadLetterStatus, now: datetime, actor: str) -> bool:
        """OPEN → REPLAYED or SKIPPED; False when it was not OPEN (a concurrent replay won)."""

    @abstractmethod
    def list(self, criteria: DeadLetterFilter, page: PageRequest) -> Page[DeadLetter]:
        """Newest sighting first."""
