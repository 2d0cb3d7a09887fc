"""The KpiCountStore port in memory: the same counts over the state's objects."""

from __future__ import annotations

from datetime import date, datetime

from application.ports.kpi import KpiCounts, KpiCountStore
from domain.risk import supplier_at_risk
from domain.suppliers import ApprovalStatus

from adapters.outbound.memory.database import MemoryState
from adapters.outbound.memory.repositories import MemoryOutboxRepository


class MemoryKpiCounts(KpiCountStore):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def read(self, today: date, certificates_until: date, unhandled_before: datetime) -> KpiCounts:
        suppliers = list(self.state.suppliers.values())
        open_ncs = [nc for nc in self.state.ncs.values() if nc.is_open]
        unhandled = MemoryOutboxRepository(self.state).unhandled(unhandled_before, len(self.state.outbox))
        return KpiCounts(
            suppliers_at_risk=sum(supplier_at_risk(s, open_ncs, today) for s in suppliers),
            suppliers_blocked=sum(s.approval_status is ApprovalStatus.BLOCKED for s in suppliers),
            suppliers_conditional=sum(s.approval_status is ApprovalStatus.CONDITIONAL for s in suppliers),
            events_unhandled=len(unhandled),
            certs_expiring=sum(1 for c in self.state.certificates.values()
                               if c.active and today <= c.expires_on <= certificates_until),
        )
