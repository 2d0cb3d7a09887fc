"""Stores written by event handlers: idempotency keys and the append-only audit log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.listing import Finding
from application.pagination import Page, PageRequest
from application.ports.delivery_log import Buffered


class AlreadyProcessed(Exception):
    """Another delivery of the same event reached the same handler first."""


ProcessedKey = tuple[str, UUID]  # (handler name, event id)


class ProcessedEventStore(ABC):
    """Which handler has applied which event: the idempotency keys, removed only by the retention purge,
    with their archived event or after it (application/retention.py)."""

    @abstractmethod
    def record_new(self, keys: Sequence[ProcessedKey], processed_at: datetime) -> set[ProcessedKey]:
        """Record the keys not recorded yet (one statement); returns those, the ones to apply now.

        A key that a concurrent transaction is recording waits for it: if that one commits, the key
        is not new here; so two deliveries of one event never both apply it."""

    @abstractmethod
    def of_event(self, event_id: UUID) -> list[tuple[str, datetime]]:
        """The handlers that applied this event, and when (oldest first)."""


@dataclass(frozen=True)
class AuditEntry:
    event_id: UUID
    event_type: str
    entity_type: str
    entity_id: str
    actor: str
    correlation_id: str
    occurred_at: datetime
    recorded_at: datetime
    details: dict[str, Any]
    id: int | None = None
    prev_hash: str | None = None  # the chain (application/audit_chain.py), set by the store that appends it
    hash: str | None = None
    # what changed, as [[field, old, new]] with JSON values (Frappe's Version format), and why (ADR 0026);
    # None on the records written before the hash rule 2 (migration 0016)
    changes: list[list[Any]] | None = None
    reason: str | None = None
    # the hash rule the record was chained with (audit_chain.RULES): 1 before migration 0016. `link` sets
    # the current rule; the default 1 is what a record built without it (migration 0008's backfill) means
    hash_version: int = 1


@dataclass(frozen=True)
class AuditFilter:
    event_type: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    find: Finding = Finding()
    actor: str | None = None


class AuditLog(Buffered, ABC):
    """Append-only: no update, no delete; a hash chain in id order (ADR 0014)."""

    @abstractmethod
    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append in one statement; an entry whose event is already recorded is skipped. The new entries
        are linked (`audit_chain.link`) onto the last record in one serialized step: concurrent
        appends never link onto the same record, and id order is chain order. A store may keep them
        until the commit (`flush`), so that the serialized step is as short as it can be."""

    @abstractmethod
    def chain(self, after_id: int, limit: int) -> list[AuditEntry]:
        """Up to `limit` records with an id above `after_id`, in id order, with their hashes."""

    @abstractmethod
    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]: ...

    @abstractmethod
    def count(self) -> int: ...
