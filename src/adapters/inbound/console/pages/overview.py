"""The overview: every /kpi figure as a tile, grouped; NCs opened and closed per week (from the audit
log), orders by status, the outbox backlog and the commit→handled latency of the last events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from application.audit import AuditQueries
from application.kpi import Kpi
from application.listing import Finding
from application.pagination import MAX_LIMIT, PageRequest
from application.ports.consumption import AuditFilter
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.security import Permission
from bootstrap.container import Container

from adapters.inbound.api.deps import ContainerDep
from adapters.inbound.console.charts import Chart, bar_chart, duration, in_unit
from adapters.inbound.console.rendering import render
from adapters.inbound.console.session import CONSOLE, ConsoleSession

router = APIRouter(prefix=CONSOLE, include_in_schema=False)

# every field of Kpi, in one group (tests/unit/test_console_pages.py checks none is left out)
GROUPS: dict[str, tuple[str, ...]] = {
    "Quality": ("nc_open", "nc_open_high", "nc_closed", "nc_by_status", "nc_by_root_cause",
                "nc_high_closed_without_capa", "actions_overdue", "actions_due_7d", "avg_days_to_close_90d",
                "capa_effectiveness_rate"),
    "Suppliers": ("suppliers_at_risk", "suppliers_blocked", "suppliers_conditional", "certs_expiring_30d"),
    "Orders": ("orders_by_status", "order_cancel_rate", "fulfilment_steps_planned"),
    "Delivery": ("outbox_pending", "outbox_published", "outbox_failed", "outbox_parked", "events_unhandled",
                 "projection_lag_events", "audit_events_total"),
}
RATES = frozenset({"capa_effectiveness_rate", "order_cancel_rate"})
ALERTS = frozenset({"nc_open_high", "nc_high_closed_without_capa", "actions_overdue", "suppliers_at_risk",
                    "suppliers_blocked", "outbox_failed", "outbox_parked", "events_unhandled"})
WEEKS = 12
AUDIT_PAGES = 20  # at most 10,000 records of each type for the weekly chart (ADR 0030)
LATENCY_EVENTS = 50


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in RATES:
        return f"{value * 100:.1f} %"
    return str(value)


def tiles(kpi: Kpi) -> list[dict[str, Any]]:
    figures = kpi.as_dict()
    groups = []
    for name, keys in GROUPS.items():
        items = []
        for key in keys:
            value = figures[key]
            entries = ([{"key": f"{key}.{k}", "label": k, "value": json.dumps(v), "shown": str(v)}
                        for k, v in value.items()] if isinstance(value, dict) else None)
            items.append({"key": key, "value": json.dumps(value) if entries is None else None,
                          "shown": _shown(key, value), "entries": entries,
                          "alert": key in ALERTS and bool(value)})
        groups.append({"name": name, "tiles": items})
    return groups


def _counted(audit: AuditQueries, event_type: str, since: datetime) -> tuple[list[datetime], bool]:
    """When each record of `event_type` since `since` happened; True when there were more than read."""
    found: list[datetime] = []
    criteria = AuditFilter(event_type=event_type, find=Finding(created_from=since))
    for n in range(AUDIT_PAGES):
        page = audit.list(criteria, PageRequest(MAX_LIMIT, n * MAX_LIMIT, counted=False))
        found += [e.occurred_at for e in page.items]
        if len(page.items) < MAX_LIMIT:
            return found, False
    return found, True


def weekly_ncs(container: Container) -> tuple[Chart, bool]:
    today = container.clock().today()
    first = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)  # the Monday 11 weeks before this one
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    series, capped = {}, False
    for name, event_type in (("opened", "NC_CREATED"), ("closed", "NC_CLOSED")):
        counts = [0] * WEEKS
        times, more = _counted(container.audit_queries(), event_type, since)
        for at in times:
            week = (at.astimezone(UTC).date() - first).days // 7
            if 0 <= week < WEEKS:
                counts[week] += 1
        series[name], capped = counts, capped or more
    weeks = [(first + timedelta(weeks=w)).strftime("%d %b") for w in range(WEEKS)]
    return bar_chart("Non-conformities opened and closed per week (from the audit log)", weeks, series), capped


def latencies(container: Container) -> list[float]:
    """Commit → handled, in seconds, of the last events handled (oldest first)."""
    queries = container.outbox_queries()
    criteria = OutboxFilter(OutboxStatus.PUBLISHED)
    total = queries.list(criteria, PageRequest(1)).total
    page = queries.list(criteria, PageRequest(LATENCY_EVENTS, max(total - LATENCY_EVENTS, 0)))
    return [round((r.handled_at - r.created_at).total_seconds(), 3) for r in page.items if r.handled_at]


def _percentile(values: list[float], p: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)] if ordered else None


def _charts(container: Container, session: Any, kpi: Kpi) -> dict[str, Any]:
    weekly, capped = weekly_ncs(container)
    orders = bar_chart("Orders by status (now)", [s.replace("_", " ").lower() for s in kpi.orders_by_status],
                       {"orders": list(kpi.orders_by_status.values())})
    backlog = bar_chart("Outbox backlog (now)", ["pending", "failed", "parked", "unhandled"],
                        {"events": [kpi.outbox_pending, kpi.outbox_failed, kpi.outbox_parked, kpi.events_unhandled]})
    context: dict[str, Any] = {"charts": [weekly, orders, backlog], "capped": capped, "latency": None}
    if session.can(Permission.READ_OUTBOX):
        seconds = latencies(container)
        values, unit = in_unit(seconds)
        context["latency"] = {
            "chart": bar_chart(f"Commit → handled, the last {len(seconds)} events handled",
                               [str(i + 1) if i % 10 == 0 else "" for i in range(len(seconds))],
                               {unit: values}, unit=f" {unit}"),
            "p50": duration(_percentile(seconds, 0.5)), "p95": duration(_percentile(seconds, 0.95))}
    return context


@router.get("")
def overview(request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    if not session.can(Permission.READ_KPI):
        return render(request, "overview.html", session, allowed=False)
    kpi = container.kpi()()
    return render(request, "overview.html", session, allowed=True, groups=tiles(kpi),
                  **_charts(container, session, kpi))


@router.get("/overview/live")
def overview_live(request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    """The tiles again, for htmx's polling every few seconds (no full reload)."""
    session.require(Permission.READ_KPI)
    return render(request, "_overview_tiles.html", session, groups=tiles(container.kpi()()))


@router.get("/overview/charts")
def overview_charts(request: Request, session: ConsoleSession, container: ContainerDep) -> Response:
    """The charts again, polled less often: the weekly one reads the audit log."""
    session.require(Permission.READ_KPI)
    return render(request, "_overview_charts.html", session, **_charts(container, session, container.kpi()()))
