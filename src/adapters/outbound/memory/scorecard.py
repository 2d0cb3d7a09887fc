"""The scorecard's stores in memory: receipts, and the monthly scores keyed by supplier and month."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from application.pagination import Page, PageRequest
from application.ports.scorecard import ReceiptRepository, ScorePeriodRepository
from domain.receipts import Receipt
from domain.scorecard import ScorePeriod
from domain.suppliers import ApprovalStatus

from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.repositories import paginate


class MemoryReceiptRepository(ReceiptRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state = state

    def _add(self, receipt: Receipt) -> None:
        receipt.id = self.state.next_id("receipts")
        self.state.receipts[receipt.id] = receipt

    def _get(self, identity: int) -> Receipt | None:
        return self.state.receipts.get(identity)

    def _of(self, supplier_id: int) -> list[Receipt]:
        return [r for r in self.state.receipts.values() if r.supplier_id == supplier_id]

    def list(self, supplier_id: int, page: PageRequest) -> Page[Receipt]:
        return paginate(sorted(self._of(supplier_id), key=lambda r: (r.received_date, r.id or 0), reverse=True), page)

    def received_between(self, supplier_id: int, first: date, last: date) -> list[Receipt]:
        return sorted((r for r in self._of(supplier_id) if first <= r.received_date <= last), key=lambda r: r.id or 0)

    def find(self, supplier_id: int, reference: str) -> Receipt | None:
        return next((r for r in self._of(supplier_id) if r.reference == reference), None)


class MemoryScorePeriodRepository(ScorePeriodRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state = state

    def _add(self, period: ScorePeriod) -> None:
        key = (period.supplier_id, period.period_start)
        if key in self.state.score_periods:  # the one stored stands (ON CONFLICT DO NOTHING)
            return
        period.id = self.state.next_id("score_periods")
        self.state.score_periods[key] = period

    def _get(self, identity: int) -> ScorePeriod | None:
        return next((p for p in self.state.score_periods.values() if p.id == identity), None)

    def between(self, supplier_id: int, first: date, last: date) -> list[ScorePeriod]:
        return sorted((p for (s, start), p in self.state.score_periods.items()
                       if s == supplier_id and first <= start <= last), key=lambda p: p.period_start)

    def unscored(self, period_start: date, statuses: Sequence[ApprovalStatus], created_before: datetime) -> list[int]:
        return sorted(s.id for s in self.state.suppliers.values()
                      if s.id is not None and s.approval_status in statuses and s.created_at < created_before
                      and (s.id, period_start) not in self.state.score_periods)
