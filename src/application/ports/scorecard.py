"""The stores of the supplier scorecard (ADR 0028): receipts, and the stored monthly scores."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from datetime import date, datetime

from domain.receipts import Receipt
from domain.scorecard import ScorePeriod
from domain.suppliers import ApprovalStatus

from application.pagination import Page, PageRequest
from application.ports.repositories import Repository


class ReceiptRepository(Repository[Receipt]):
    """A supplier's receipts: added, never changed; their events are their supplier's."""

    @abstractmethod
    def list(self, supplier_id: int, page: PageRequest) -> Page[Receipt]:
        """Newest first (by received_date, then id)."""

    @abstractmethod
    def received_between(self, supplier_id: int, first: date, last: date) -> list[Receipt]:
        """The receipts received from `first` to `last`, both included."""

    @abstractmethod
    def find(self, supplier_id: int, reference: str) -> Receipt | None: ...


class ScorePeriodRepository(Repository[ScorePeriod]):
    """The stored monthly scores: one per supplier and month, written once (INSERT … ON CONFLICT DO
    NOTHING), never updated. A period the store did not keep (one was there) keeps `id` None."""

    def add_new(self, period: ScorePeriod) -> bool:
        """Store the period unless one is stored for its supplier and month: True when this one was kept."""
        self.add(period)
        return period.id is not None

    @abstractmethod
    def between(self, supplier_id: int, first: date, last: date) -> list[ScorePeriod]:
        """The supplier's stored periods starting from `first` to `last`, oldest first."""

    @abstractmethod
    def unscored(self, period_start: date, statuses: Sequence[ApprovalStatus], created_before: datetime) -> list[int]:
        """Ids of the suppliers in one of `statuses`, created before `created_before`, without a stored period
        starting on `period_start`, in id order."""
