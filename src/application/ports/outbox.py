"""The transactional outbox: events written with the business change, relayed later."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class OutboxRecord:
    envelope: EventEnvelope
    status: OutboxStatus
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    published_at: datetime | None = None
    handled_at: datetime | None = None  # when the handlers confirmed it (broker mode: after publishing)
    handled_by: str | None = None  # who confirmed it: "in-process" or the consumer group


class OutboxRepository(ABC):
    """The hot outbox holds the events still to deliver (PENDING), published but not yet handled,
    and FAILED; a handled event leaves it for the archive, which `get`, `list` and the counts
    still read."""

    @abstractmethod
    def add(self, envelopes: Sequence[EventEnvelope], now: datetime) -> None:
        """Append PENDING events, due now, in this order (one statement)."""

    @abstractmethod
    def claim(self, limit: int, now: datetime, lease_until: datetime | None = None) -> list[OutboxRecord]:
        """Take up to `limit` due PENDING events, oldest first, that no other relay holds.

        With `lease_until`, the events are leased: invisible to other claims until then, so a
        relay may work on them outside this transaction (a broker publish); one that dies leaves
        them to be retaken after the lease. Without it, they are held only by this transaction
        (row locks), which must then settle them before it commits.
        An event is only claimable when every earlier PENDING event of its aggregate is claimed
        with it, so one aggregate's events are delivered in order.
        """

    @abstractmethod
    def held_back(self, envelopes: Sequence[EventEnvelope]) -> set[UUID]:
        """The events among these that an earlier PENDING event of their aggregate (not among
        them) must precede: a consumer leaves them to the relay, which delivers them in order."""

    @abstractmethod
    def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None:
        """Renew the lease of events this relay still holds (PENDING and leased); others are untouched."""

    @abstractmethod
    def mark_published(self, records: Sequence[OutboxRecord], now: datetime, handled_by: str | None = None) -> None:
        """Mark these claimed events PUBLISHED, unless a consumer recorded a failure meanwhile
        (their attempts no longer match the claimed record's). `handled_by`: publishing ran the
        handlers themselves (polling mode), so the events are handled too and go to the archive."""

    @abstractmethod
    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        """The handlers of `handled_by` (a consumer group) have handled these events: archived."""

    @abstractmethod
    def unhandled(self, published_before: datetime, limit: int) -> list[OutboxRecord]:
        """PUBLISHED events no handler confirmed, published before `published_before`, oldest first."""

    @abstractmethod
    def count_unhandled(self, published_before: datetime) -> int: ...

    @abstractmethod
    def redrive(self, event_ids: Sequence[UUID], now: datetime, note: str) -> None:
        """Make published but unhandled events PENDING again, due now; attempts are kept (not their fault)."""

    @abstractmethod
    def record_failure(
        self, event_id: UUID, attempts: int, error: str, status: OutboxStatus, next_attempt_at: datetime
    ) -> None:
        """Store a failed try: the new attempt count, the error and when to try again."""

    @abstractmethod
    def release(self, event_ids: Sequence[UUID]) -> None:
        """Drop the leases without counting an attempt."""

    @abstractmethod
    def get(self, event_id: UUID) -> OutboxRecord | None: ...

    @abstractmethod
    def requeue(self, event_id: UUID, now: datetime) -> None:
        """Make an event PENDING again, due now, with its attempts reset (admin replay)."""

    @abstractmethod
    def list(self, status: OutboxStatus | None, page: PageRequest) -> Page[OutboxRecord]: ...

    @abstractmethod
    def count_by_status(self) -> dict[OutboxStatus, int]: ...
