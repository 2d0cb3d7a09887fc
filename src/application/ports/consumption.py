"""Stores written by event handlers: idempotency keys and the append-only audit log."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.pagination import Page, PageRequest


class AlreadyProcessed(Exception):
    """Another delivery of the same event reached the same handler first."""


class ProcessedEventStore(ABC):
    @abstractmethod
    def contains(self, handler: str, event_id: UUID) -> bool: ...

    @abstractmethod
    def add(self, handler: str, event_id: UUID, processed_at: datetime) -> None:
        """Record the pair; raises AlreadyProcessed if it exists."""


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


@dataclass(frozen=True)
class AuditFilter:
    event_type: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None


class AuditLog(ABC):
    """Append-only: no update, no delete."""

    @abstractmethod
    def append(self, entry: AuditEntry) -> None: ...

    @abstractmethod
    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]: ...

    @abstractmethod
    def count(self) -> int: ...
