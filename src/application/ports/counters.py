"""Counters kept in the same transaction as the rows they count, so KPIs and list totals cost the
same at 1,000 rows as at 10 million (ADR 0012).

Whoever inserts, deletes or changes the counted state of a row calls `add(name, delta)` in the
transaction that does it; the store writes the deltas with the commit (PostgreSQL: one multi-row
upsert, counters in name order, into one of several slots per counter, so concurrent writers
neither queue on one row nor deadlock) and a rollback forgets them. `read()` sums the slots.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable

# names of the counters; the functions give the name of one state
SUPPLIERS = "suppliers"
FULFILMENT_PLANNED = "fulfilment:planned"
AUDIT_PREFIX = "audit:"  # audit:<entity_type>:<action>; their sum is audit_events_total


def nc(status: str, severity: str) -> str:
    return f"nc:{status}:{severity}"


NC_HIGH_CLOSED_WITHOUT_CAPA = "nc:high_closed_without_capa"  # CLOSED high NCs without a verified corrective action


def nc_root_cause(category: str) -> str:
    return f"nc_root_cause:{category}"


def nc_closed_on(day: str) -> str:
    """NCs CLOSED on this UTC day (YYYY-MM-DD): with nc_close_seconds_on, avg_days_to_close_90d reads
    90 pairs of counters whatever the history (a reopen takes its closing back out)."""
    return f"nc_closed_on:{day}"


def nc_close_seconds_on(day: str) -> str:
    """The seconds from opening to closing, summed over the NCs CLOSED on this UTC day."""
    return f"nc_close_seconds_on:{day}"


def nc_action(status: str) -> str:
    """CAPA actions by status (capa_effectiveness_rate: VERIFIED ÷ (VERIFIED + INEFFECTIVE))."""
    return f"nc_action:{status}"


NC_ACTION_OPEN_DUE_PREFIX = "nc_action_open_due:"


def nc_action_open_due(day: str) -> str:
    """CAPA actions still PLANNED or IN_PROGRESS due on this day (YYYY-MM-DD): actions_overdue and
    actions_due_7d sum them, within the one read of the counters, whatever the history."""
    return f"{NC_ACTION_OPEN_DUE_PREFIX}{day}"


def outbox(status: str) -> str:
    """`outbox:PENDING`, `outbox:PUBLISHED`, `outbox:FAILED`: rows of the outbox (and of any archive
    of published rows) by delivery status."""
    return f"outbox:{status}"


def order(status: str) -> str:
    return f"orders:{status}"


def audit(entity_type: str, action: str) -> str:
    return f"{AUDIT_PREFIX}{entity_type}:{action}"


def unapplied(handler: str) -> str:
    """Events written for a projection handler and not applied by it yet."""
    return f"unapplied:{handler}"


class Counters(ABC):
    @abstractmethod
    def add(self, name: str, delta: int = 1) -> None:
        """Count `delta` more (or fewer) in `name`, with this transaction: visible to others from its commit."""

    @abstractmethod
    def read(self, names: Iterable[str] | None = None) -> dict[str, int]:
        """The committed value of these counters (all of them when None); an unknown counter is 0."""

    def transfer(self, source: str, target: str, n: int) -> None:
        """`n` rows moved from one counted state to another (a status change)."""
        if n and source != target:
            self.add(source, -n)
            self.add(target, n)
