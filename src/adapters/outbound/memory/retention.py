"""The RetentionStore port in memory: the rules below, as in the SQL adapter; handled events are the
outbox rows with a `handled_at` (memory has no separate archive)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from application.ports import counters as names
from application.ports.retention import RetentionStore

from adapters.outbound.memory.counters import MemoryCounters
from adapters.outbound.memory.database import MemoryState


class Rule(NamedTuple):
    table: str
    attribute: str  # the MemoryState dict (or list) holding the rows
    of: Callable[[Any, Any], tuple[UUID, datetime | None]]  # (key, row) → its event and time (None: never goes)
    counter: Callable[[Any], str] | None = None  # the counter a row counts in (ADR 0012)


RULES = (
    Rule("outbox_archive", "outbox", lambda event_id, row: (event_id, row.record.handled_at),
         lambda row: names.outbox(row.record.status)),
    Rule("processed_events", "processed", lambda key, processed_at: (key[1], processed_at)),
    Rule("delivery_steps", "steps", lambda _, step: (step.event_id, step.at)),
)


class MemoryRetentionStore(RetentionStore):
    def __init__(self, state: MemoryState) -> None:
        self.state, self.counters = state, MemoryCounters(state)

    def try_lock(self) -> bool:
        return True  # one transaction at a time (MemoryDatabase): no other purge can be running

    def purge(self, before: datetime, limit: int) -> dict[str, int]:
        removed = {}
        for rule in RULES:
            rows = getattr(self.state, rule.attribute)
            old = self._old(rule, before)[:limit]
            for key in sorted(old, reverse=True) if isinstance(rows, list) else old:
                if rule.counter:
                    self.counters.add(rule.counter(rows[key]), -1)
                del rows[key]
            removed[rule.table] = len(old)
        return removed

    def count(self, before: datetime) -> dict[str, int]:
        return {rule.table: len(self._old(rule, before)) for rule in RULES}

    def _old(self, rule: Rule, before: datetime) -> list[Any]:
        """The keys of the rows older than `before`, oldest first, but for those of events still in the
        hot outbox or handled since `before`."""
        kept = {event_id for event_id, row in self.state.outbox.items()
                if row.record.handled_at is None or row.record.handled_at >= before}
        old = [(at, key) for key, row in _items(getattr(self.state, rule.attribute))
               for event_id, at in [rule.of(key, row)] if at is not None and at < before and event_id not in kept]
        return [key for _, key in sorted(old, key=lambda pair: pair[0])]


def _items(rows: dict | list) -> Iterator[tuple[Any, Any]]:
    return iter(rows.items()) if isinstance(rows, dict) else enumerate(rows)
