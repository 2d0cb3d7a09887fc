"""Retention: what may go once the retention has passed (ADR 0015).

Handled events (the outbox archive), their idempotency keys (`processed_events`) and whatever else the
adapter's rules name, each by its own time column. Never a row of the hot outbox (PENDING, FAILED,
published and not handled yet), never the audit log; a row kept for an event (its key) goes only
with its archived event or after it, by the same cutoff.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime


class RetentionStore(ABC):
    @abstractmethod
    def try_lock(self) -> bool:
        """Take the purge lock for this transaction without waiting: False if another purge holds it."""

    @abstractmethod
    def purge(self, before: datetime, limit: int) -> dict[str, int]:
        """Remove up to `limit` rows older than `before` from each table, oldest first; how many, per table."""

    @abstractmethod
    def count(self, before: datetime) -> dict[str, int]:
        """What purges with this cutoff would remove, per table, without removing anything."""
