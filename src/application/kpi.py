"""Operational KPIs of the QHSE demo."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from domain.nonconformities import NcStatus, Severity

from application.inventories import AGGREGATE_TYPE as INVENTORY, PROJECTION_HANDLER as INVENTORY_PROJECTION
from application.ports.clock import Clock
from application.ports.outbox import OutboxStatus
from application.ports.repositories import NcFilter
from application.ports.unit_of_work import UowFactory


@dataclass(frozen=True)
class Kpi:
    nc_open: int
    nc_open_high: int
    nc_closed: int
    outbox_pending: int
    outbox_published: int
    outbox_failed: int
    suppliers_at_risk: int
    audit_events_total: int
    projection_lag_events: int  # inventory events created but not yet applied to inventory_summary
    orders_by_status: dict[str, int]  # every order status, 0 included
    fulfilment_steps_planned: int  # timers of the fulfilment process waiting to fire
    events_unhandled: int  # published, yet no handler confirmed them within the reconciliation window

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class KpiQuery:
    def __init__(self, uow: UowFactory, clock: Clock, unhandled_after_seconds: float = 300.0) -> None:
        self.uow, self.clock = uow, clock
        self.unhandled_after = timedelta(seconds=unhandled_after_seconds)

    def __call__(self) -> Kpi:
        with self.uow().reading() as uow:
            outbox = uow.outbox.count_by_status()
            return Kpi(
                nc_open=uow.ncs.count(NcFilter(status=NcStatus.OPEN)),
                nc_open_high=uow.ncs.count(NcFilter(status=NcStatus.OPEN, severity=Severity.HIGH)),
                nc_closed=uow.ncs.count(NcFilter(status=NcStatus.CLOSED)),
                outbox_pending=outbox.get(OutboxStatus.PENDING, 0),
                outbox_published=outbox.get(OutboxStatus.PUBLISHED, 0),
                outbox_failed=outbox.get(OutboxStatus.FAILED, 0),
                suppliers_at_risk=uow.suppliers.count_at_risk(self.clock.today()),
                audit_events_total=uow.audit.count(),
                projection_lag_events=uow.inventory_summary.count_unapplied(INVENTORY_PROJECTION, INVENTORY),
                orders_by_status={status.value: n for status, n in uow.orders.count_by_status().items()},
                fulfilment_steps_planned=uow.fulfilment.count(),
                events_unhandled=uow.outbox.count_unhandled(self.clock.now() - self.unhandled_after),
            )
