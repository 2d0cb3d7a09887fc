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
    @abstractmethod
    def add(self, envelope: EventEnvelope, now: datetime) -> None:
        """Append a PENDING event, due now."""

    @abstractmethod
    def claim(self, limit: int, now: datetime, lease_until: datetime) -> list[OutboxRecord]:
        """Lease up to `limit` due PENDING events, oldest first, that no other relay holds.

        A leased event is invisible to other claims until `lease_until`, so concurrent relays
        never take the same event; a relay that dies leaves it to be retaken after the lease.
        An event is only claimable when no earlier PENDING event of the same aggregate exists
        (leased, or waiting for its retry), so one aggregate's events are delivered in order.
        """

    @abstractmethod
    def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None:
        """Renew the lease of events this relay still holds (PENDING and leased); others are untouched."""

    @abstractmethod
    def mark_published(self, records: Sequence[OutboxRecord], now: datetime, handled_by: str | None = None) -> None:
        """Mark these claimed events PUBLISHED, unless a consumer recorded a failure meanwhile
        (their attempts no longer match the claimed record's). `handled_by`: publishing ran the
        handlers themselves (polling mode), so the events are handled too."""

    @abstractmethod
    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        """The handlers of `handled_by` (a consumer group) have handled these events."""

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
    def release(self, event_id: UUID) -> None:
        """Drop the lease without counting an attempt."""

    @abstractmethod
    def get(self, event_id: UUID) -> OutboxRecord | None: ...

    @abstractmethod
    def requeue(self, event_id: UUID, now: datetime) -> None:
        """Make an event PENDING again, due now, with its attempts reset (admin replay)."""

    @abstractmethod
    def list(self, status: OutboxStatus | None, page: PageRequest) -> Page[OutboxRecord]: ...

    @abstractmethod
    def count_by_status(self) -> dict[OutboxStatus, int]: ...
