"""Operational KPIs of the QHSE demo."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from domain.nonconformities import NcStatus, Severity
from domain.orders import OrderStatus
from domain.suppliers import ApprovalStatus

from application.inventories import PROJECTION_HANDLER as INVENTORY_PROJECTION
from application.ports import counters
from application.ports.clock import Clock
from application.ports.outbox import OutboxStatus
from application.ports.unit_of_work import UowFactory


CERTS_EXPIRING_DAYS = 30  # the KPI's window, as its name says (the status's warn window is a setting)


@dataclass(frozen=True)
class Kpi:
    nc_open: int
    nc_open_high: int
    nc_closed: int
    outbox_pending: int
    outbox_published: int
    outbox_failed: int
    outbox_parked: int  # waiting behind a FAILED event of their aggregate (released by its replay or skip)
    suppliers_at_risk: int
    audit_events_total: int
    projection_lag_events: int  # inventory events created but not yet applied to inventory_summary
    orders_by_status: dict[str, int]  # every order status, 0 included
    fulfilment_steps_planned: int  # timers of the fulfilment process waiting to fire
    events_unhandled: int  # published, yet no handler confirmed them within the reconciliation window
    suppliers_blocked: int  # approval status BLOCKED (ADR 0025)
    suppliers_conditional: int
    certs_expiring_30d: int  # certificates not withdrawn expiring from today to today + 30 days

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class KpiQuery:
    """Counters kept by the writers' own transactions (one read, whatever the history), plus two
    indexed counts over small sets: the at-risk suppliers and the unconfirmed published events."""

    def __init__(self, uow: UowFactory, clock: Clock, unhandled_after_seconds: float = 300.0) -> None:
        self.uow, self.clock = uow, clock
        self.unhandled_after = timedelta(seconds=unhandled_after_seconds)

    def __call__(self) -> Kpi:
        with self.uow().reading() as uow:
            c = uow.counters.read()
            ncs = {(status, severity): c.get(counters.nc(status.value, severity.value), 0)
                   for status in NcStatus for severity in Severity}
            return Kpi(
                nc_open=sum(n for (status, _), n in ncs.items() if status is NcStatus.OPEN),
                nc_open_high=ncs[NcStatus.OPEN, Severity.HIGH],
                nc_closed=sum(n for (status, _), n in ncs.items() if status is NcStatus.CLOSED),
                outbox_pending=c.get(counters.outbox(OutboxStatus.PENDING), 0),
                outbox_published=c.get(counters.outbox(OutboxStatus.PUBLISHED), 0),
                outbox_failed=c.get(counters.outbox(OutboxStatus.FAILED), 0),
                outbox_parked=c.get(counters.outbox(OutboxStatus.PARKED), 0),
                suppliers_at_risk=uow.suppliers.count_at_risk(self.clock.today()),
                audit_events_total=sum(n for name, n in c.items() if name.startswith(counters.AUDIT_PREFIX)),
                projection_lag_events=c.get(counters.unapplied(INVENTORY_PROJECTION), 0),
                orders_by_status={status.value: c.get(counters.order(status.value), 0) for status in OrderStatus},
                fulfilment_steps_planned=c.get(counters.FULFILMENT_PLANNED, 0),
                events_unhandled=uow.outbox.count_unhandled(self.clock.now() - self.unhandled_after),
                suppliers_blocked=uow.suppliers.count_by_approval(ApprovalStatus.BLOCKED),
                suppliers_conditional=uow.suppliers.count_by_approval(ApprovalStatus.CONDITIONAL),
                certs_expiring_30d=uow.certificates.count_expiring(
                    self.clock.today(), self.clock.today() + timedelta(days=CERTS_EXPIRING_DAYS)),
            )


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int
    failed: int
    parked: int
    oldest_pending_age_seconds: float | None  # None: nothing pending


class OutboxBacklogQuery:
    """The outbox gauges of the metrics, cheap at any backlog: three counters (one indexed read of
    kpi_counters, ADR 0012) and the oldest PENDING event (the first entry of the due partial index)."""

    STATUSES = (OutboxStatus.PENDING, OutboxStatus.FAILED, OutboxStatus.PARKED)

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self) -> OutboxBacklog:
        with self.uow().reading() as uow:
            c = uow.counters.read([counters.outbox(status) for status in self.STATUSES])
            oldest = uow.outbox.oldest_pending()
        pending, failed, parked = (c[counters.outbox(status)] for status in self.STATUSES)
        age = None if oldest is None else max((self.clock.now() - oldest).total_seconds(), 0.0)
        return OutboxBacklog(pending, failed, parked, age)
