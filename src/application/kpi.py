"""Operational KPIs of the QHSE demo."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from domain.nonconformities import FINISHED, ActionStatus, NcStatus, RootCause, Severity
from domain.orders import OrderStatus

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
    # the NC investigation and its CAPA actions (ADR 0024)
    nc_by_status: dict[str, int]  # every NC status, 0 included
    nc_by_root_cause: dict[str, int]  # NCs with a root cause recorded, most frequent first (a Pareto)
    nc_high_closed_without_capa: int  # high NCs CLOSED without a verified corrective action
    actions_overdue: int  # PLANNED or IN_PROGRESS, due before today
    actions_due_7d: int  # PLANNED or IN_PROGRESS, due today or within the next 7 days
    avg_days_to_close_90d: float | None  # NCs closed today or the 89 days before (UTC): mean days from opening
    capa_effectiveness_rate: float | None  # VERIFIED ÷ (VERIFIED + INEFFECTIVE); None before any check
    suppliers_blocked: int  # approval status BLOCKED (ADR 0025)
    suppliers_conditional: int
    certs_expiring_30d: int  # certificates not withdrawn expiring from today to today + 30 days
    order_cancel_rate: float | None  # CANCELLED ÷ every order ever placed (the sum of orders_by_status); None before any

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


CLOSING_WINDOW_DAYS = 90


def _open_actions_due(values: dict[str, int], today: date, until: date) -> tuple[int, int]:
    """The open CAPA actions due before `today`, and from `today` to `until`, from their due-day counters."""
    first, last = today.isoformat(), until.isoformat()
    overdue = due_soon = 0
    for name, n in values.items():
        if name.startswith(counters.NC_ACTION_OPEN_DUE_PREFIX):
            day = name[len(counters.NC_ACTION_OPEN_DUE_PREFIX):]
            if day < first:
                overdue += n
            elif day <= last:
                due_soon += n
    return overdue, due_soon


class KpiQuery:
    """Counters kept by the writers' own transactions (one read, whatever the history: the open CAPA
    actions by due day included), plus indexed counts over small sets read together (`KpiCounts`: one
    statement on SQL): the at-risk suppliers, the suppliers blocked or conditional, the unconfirmed
    published events, the certificates expiring."""

    def __init__(self, uow: UowFactory, clock: Clock, unhandled_after_seconds: float = 300.0) -> None:
        self.uow, self.clock = uow, clock
        self.unhandled_after = timedelta(seconds=unhandled_after_seconds)

    def __call__(self) -> Kpi:
        with self.uow().reading() as uow:
            c = uow.counters.read()
            ncs = {(status, severity): c.get(counters.nc(status.value, severity.value), 0)
                   for status in NcStatus for severity in Severity}
            today = self.clock.today()
            overdue, due_soon = _open_actions_due(c, today, today + timedelta(days=7))
            counts = uow.kpi_counts.read(today, today + timedelta(days=CERTS_EXPIRING_DAYS),
                                         self.clock.now() - self.unhandled_after)
            window = [(today - timedelta(days=n)).isoformat() for n in range(CLOSING_WINDOW_DAYS)]
            closed = sum(c.get(counters.nc_closed_on(day), 0) for day in window)  # in the one read of them all
            seconds = sum(c.get(counters.nc_close_seconds_on(day), 0) for day in window)
            verified = c.get(counters.nc_action(ActionStatus.VERIFIED), 0)
            checked = verified + c.get(counters.nc_action(ActionStatus.INEFFECTIVE), 0)
            causes = {cause.value: c.get(counters.nc_root_cause(cause.value), 0) for cause in RootCause}
            orders = {status.value: c.get(counters.order(status.value), 0) for status in OrderStatus}
            placed = sum(orders.values())
            return Kpi(
                nc_open=sum(n for (status, _), n in ncs.items() if status not in FINISHED),
                nc_open_high=sum(n for (status, severity), n in ncs.items()
                                 if status not in FINISHED and severity is Severity.HIGH),
                nc_closed=sum(n for (status, _), n in ncs.items() if status is NcStatus.CLOSED),
                outbox_pending=c.get(counters.outbox(OutboxStatus.PENDING), 0),
                outbox_published=c.get(counters.outbox(OutboxStatus.PUBLISHED), 0),
                outbox_failed=c.get(counters.outbox(OutboxStatus.FAILED), 0),
                outbox_parked=c.get(counters.outbox(OutboxStatus.PARKED), 0),
                suppliers_at_risk=counts.suppliers_at_risk,
                audit_events_total=sum(n for name, n in c.items() if name.startswith(counters.AUDIT_PREFIX)),
                projection_lag_events=c.get(counters.unapplied(INVENTORY_PROJECTION), 0),
                orders_by_status=orders,
                fulfilment_steps_planned=c.get(counters.FULFILMENT_PLANNED, 0),
                events_unhandled=counts.events_unhandled,
                nc_by_status={status.value: sum(n for (s, _), n in ncs.items() if s is status) for status in NcStatus},
                nc_by_root_cause=dict(sorted(((k, n) for k, n in causes.items() if n), key=lambda kv: (-kv[1], kv[0]))),
                nc_high_closed_without_capa=c.get(counters.NC_HIGH_CLOSED_WITHOUT_CAPA, 0),
                actions_overdue=overdue,
                actions_due_7d=due_soon,
                avg_days_to_close_90d=round(seconds / 86400 / closed, 2) if closed else None,
                capa_effectiveness_rate=round(verified / checked, 4) if checked else None,
                suppliers_blocked=counts.suppliers_blocked,
                suppliers_conditional=counts.suppliers_conditional,
                certs_expiring_30d=counts.certs_expiring,
                order_cancel_rate=round(orders[OrderStatus.CANCELLED.value] / placed, 4) if placed else None,
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
