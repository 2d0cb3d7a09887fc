"""The transactional outbox: events written with the business change, relayed later."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest


class OutboxStatus(StrEnum):
    PENDING = "PENDING"
    PUBLISHED = "PUBLISHED"
    FAILED = "FAILED"  # out of attempts: waits for an operator (replay or skip), and so do its aggregate's later events
    PARKED = "PARKED"  # a later event of an aggregate with a FAILED event: released, in order, by its replay or skip
    SKIPPED = "SKIPPED"  # a FAILED event an operator chose not to deliver (archived; its aggregate flows on)


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
    lease_token: str | None = None  # the claim that holds it (broker mode): completions must present it
    failed_at: datetime | None = None  # when it became FAILED


@dataclass(frozen=True)
class Claim:
    """What one claim took: its records, in order, and the due events it found behind a FAILED or
    PARKED event of their aggregate, which it parked instead (per-aggregate order survives failure)."""

    records: list[OutboxRecord]
    lease_token: str
    parked: list[tuple[UUID, UUID]] = field(default_factory=list)  # (parked event, the event it waits behind)


@dataclass(frozen=True)
class FailureRecorded:
    lost: bool = False  # the claim's lease was lost (another relay took the event): nothing was changed
    parked: list[UUID] = field(default_factory=list)  # later events of the aggregate parked behind a new FAILED one


@dataclass(frozen=True)
class OutboxFilter:
    status: OutboxStatus | None = None
    event_type: str | None = None
    aggregate_type: str | None = None
    aggregate_id: str | None = None
    failed_since: datetime | None = None
    failed_until: datetime | None = None


class OutboxRepository(ABC):
    """The hot outbox holds the events still to deliver (PENDING), published but not yet handled,
    and FAILED; a handled event leaves it for the archive, which `get`, `list` and the counts
    still read."""

    @abstractmethod
    def add(self, envelopes: Sequence[EventEnvelope], now: datetime) -> None:
        """Append PENDING events, due now, in this order (one statement)."""

    @abstractmethod
    def claim(self, limit: int, now: datetime, lease_until: datetime | None = None) -> Claim:
        """Take up to `limit` due PENDING events, oldest first, that no other relay holds.

        With `lease_until`, the events are leased: invisible to other claims until then, so a
        relay may work on them outside this transaction (a broker publish); one that dies leaves
        them to be retaken after the lease. The lease carries a fresh token (the fence): a relay
        whose lease lapsed and was retaken can complete nothing. Without it, they are held only by
        this transaction (row locks), which must then settle them before it commits.
        An event is only claimable when every earlier PENDING event of its aggregate is claimed
        with it, so one aggregate's events are delivered in order; a due event behind a FAILED or
        PARKED event of its aggregate is parked instead.
        """

    @abstractmethod
    def held_back(self, envelopes: Sequence[EventEnvelope]) -> set[UUID]:
        """The events among these that an earlier PENDING event of their aggregate (not among
        them) must precede: a consumer leaves them to the relay, which delivers them in order."""

    @abstractmethod
    def extend_lease(self, event_ids: Sequence[UUID], lease_token: str, lease_until: datetime) -> None:
        """Renew the lease of events this claim still holds (PENDING, its token); others are untouched."""

    @abstractmethod
    def mark_published(self, records: Sequence[OutboxRecord], now: datetime,
                       handled_by: str | None = None) -> list[UUID]:
        """Mark these claimed events PUBLISHED, unless a consumer recorded a failure meanwhile
        (their attempts no longer match the claimed record's). `handled_by`: publishing ran the
        handlers themselves (polling mode), so the events are handled too and go to the archive.
        Returns the events whose lease another claim took meanwhile: those are left as they are."""

    @abstractmethod
    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        """The handlers of `handled_by` (a consumer group) have handled these events: archived."""

    @abstractmethod
    def unhandled(self, published_before: datetime, limit: int) -> list[OutboxRecord]:
        """PUBLISHED events no handler confirmed, published before `published_before`, oldest first."""

    @abstractmethod
    def oldest_pending(self) -> datetime | None:
        """When the oldest PENDING event was written (None: nothing pending); one index entry, no scan."""

    @abstractmethod
    def redrive(self, event_ids: Sequence[UUID], now: datetime, note: str) -> None:
        """Make published but unhandled events PENDING again, due now; attempts are kept (not their fault)."""

    @abstractmethod
    def record_failure(self, record: OutboxRecord, attempts: int, error: str, status: OutboxStatus,
                       next_attempt_at: datetime, now: datetime) -> FailureRecorded:
        """Store a failed try of this claimed record: the new attempt count, the error and when to
        try again; a FAILED event parks the later PENDING events of its aggregate. Nothing changes
        when the record's lease was taken by another claim."""

    @abstractmethod
    def release(self, records: Sequence[OutboxRecord]) -> list[UUID]:
        """Drop the leases without counting an attempt; returns those another claim holds now (untouched)."""

    @abstractmethod
    def get(self, event_id: UUID) -> OutboxRecord | None: ...

    @abstractmethod
    def replay(self, event_id: UUID, now: datetime) -> list[UUID] | None:
        """If the event is still FAILED: PENDING again, due now, attempts reset, and its aggregate's
        PARKED events PENDING again too (returned, in order). None when it was not FAILED (any more):
        a conditional update, so of two concurrent replays one wins."""

    @abstractmethod
    def skip(self, event_id: UUID, now: datetime, skipped_by: str) -> list[UUID] | None:
        """If the event is still FAILED: archived as SKIPPED, and its aggregate's PARKED events
        PENDING again (returned, in order). None when it was not FAILED (any more)."""

    @abstractmethod
    def list(self, criteria: OutboxFilter, page: PageRequest) -> Page[OutboxRecord]:
        """Hot and archived events matching, oldest first."""

    @abstractmethod
    def count_by_status(self) -> dict[OutboxStatus, int]: ...
