"""The KPIs that are not counters: counts over small, indexed sets, read together (one statement on SQL)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class KpiCounts:
    suppliers_at_risk: int  # expired certification or an open high NC (domain/risk.py)
    suppliers_blocked: int
    suppliers_conditional: int
    events_unhandled: int  # published before the cutoff and not confirmed by the handlers
    certs_expiring: int  # certificates not withdrawn expiring from today to the horizon, both included


class KpiCountStore(ABC):
    @abstractmethod
    def read(self, today: date, certificates_until: date, unhandled_before: datetime) -> KpiCounts:
        """The counts as of `today`, each through an index or over a table that does not grow with the history."""
