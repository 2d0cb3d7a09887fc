"""The Counters port on SQL: deltas buffered in the transaction, written by one upsert before commit.

Each pooled connection writes to a slot of its own (a process-wide sequence from a random start,
modulo SLOTS), so concurrent transactions rarely update the same row and never wait for each other's
commit on a counter; the counters of one transaction are upserted in name order in one statement,
so two transactions on the same slot lock their rows in the same order (no deadlock). A read sums
the slots. SQLite has one writer at a time: slot 0.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterable

import sqlalchemy as sa

from application.ports.counters import Counters

from adapters.outbound.sqlalchemy.tables import kpi_counters

SLOTS = 32
_SLOT_KEY = "supplytrace_counter_slot"
_next_slot = itertools.count(random.randrange(SLOTS))
k = kpi_counters.c


@functools.lru_cache(maxsize=64)
def _upsert(paramstyle: str, rows: int) -> str:
    """The driver-level upsert of `rows` counters: no SQLAlchemy compilation on the write path."""
    mark = "?" if paramstyle == "qmark" else "%s"
    values = ", ".join([f"({mark}, {mark}, {mark})"] * rows)
    return (f"INSERT INTO kpi_counters (name, slot, value) VALUES {values} "
            "ON CONFLICT (name, slot) DO UPDATE SET value = kpi_counters.value + excluded.value")


class SqlCounters(Counters):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.pending: dict[str, int] = {}

    def add(self, name: str, delta: int = 1) -> None:
        if delta:
            self.pending[name] = self.pending.get(name, 0) + delta

    def _slot(self) -> int:
        if self.conn.dialect.name != "postgresql":
            return 0
        info = self.conn.info  # the pooled DBAPI connection's: kept across checkouts
        if _SLOT_KEY not in info:
            info[_SLOT_KEY] = next(_next_slot) % SLOTS
        return info[_SLOT_KEY]

    def flush(self) -> None:
        """Write the buffered deltas; call it last, right before the commit (the rows stay locked until it)."""
        changes = sorted((name, delta) for name, delta in self.pending.items() if delta)
        self.pending.clear()
        if not changes:
            return
        slot = self._slot()
        parameters = tuple(value for name, delta in changes for value in (name, slot, delta))
        self.conn.exec_driver_sql(_upsert(self.conn.dialect.paramstyle, len(changes)), parameters)

    def read(self, names: Iterable[str] | None = None) -> dict[str, int]:
        query = sa.select(k.name, sa.func.sum(k.value)).group_by(k.name)
        wanted = None if names is None else sorted(set(names))
        if wanted is not None:
            query = query.where(k.name.in_(wanted))
        values = {name: int(total) for name, total in self.conn.execute(query)}
        for name, delta in self.pending.items():
            values[name] = values.get(name, 0) + delta
        return values if wanted is None else {name: values.get(name, 0) for name in wanted}


# every counter, counted from the rows themselves (migration 0006 backfills with the same queries)
RECOUNT = (
    "SELECT 'nc:' || status || ':' || severity AS name, count(*) AS n FROM non_conformities GROUP BY status, severity",
    "SELECT 'nc:high_closed_without_capa' AS name, count(*) AS n FROM non_conformities "
    "WHERE status = 'CLOSED' AND closed_without_capa",
    "SELECT 'nc_root_cause:' || root_cause_category AS name, count(*) AS n FROM non_conformities "
    "WHERE root_cause_category IS NOT NULL GROUP BY root_cause_category",
    "SELECT 'nc_action:' || status AS name, count(*) AS n FROM nc_actions GROUP BY status",
    # the hot outbox and its archive together (an archived row is PUBLISHED)
    "SELECT 'outbox:' || status AS name, count(*) AS n FROM "
    "(SELECT status FROM outbox_events UNION ALL SELECT status FROM outbox_archive) AS rows GROUP BY status",
    "SELECT 'orders:' || status AS name, count(*) AS n FROM orders GROUP BY status",
    "SELECT 'audit:' || entity_type || ':' || action AS name, count(*) AS n FROM audit_log "
    "GROUP BY entity_type, action",
    "SELECT 'suppliers' AS name, count(*) AS n FROM suppliers",
    "SELECT 'fulfilment:planned' AS name, count(*) AS n FROM fulfilment_schedule",
    "SELECT 'unapplied:inventory_projection' AS name, count(*) AS n FROM "
    "(SELECT event_id, aggregate_type FROM outbox_events UNION ALL "
    "SELECT event_id, aggregate_type FROM outbox_archive) AS o "
    "WHERE o.aggregate_type = 'inventory' AND NOT EXISTS (SELECT 1 FROM processed_events p "
    "WHERE p.handler = 'inventory_projection' AND p.event_id = o.event_id)",
)


# the day buckets of the closed NCs (avg_days_to_close_90d): the UTC day, and whole seconds of each timestamp
CLOSINGS = {
    "postgresql": ("to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                   "CAST(floor(extract(epoch FROM closed_at)) - floor(extract(epoch FROM opened_at)) AS bigint)"),
    "sqlite": ("substr(closed_at, 1, 10)",
               "CAST(strftime('%s', closed_at) AS INTEGER) - CAST(strftime('%s', opened_at) AS INTEGER)"),
}


# the due day of the open actions (actions_overdue, actions_due_7d) as text: SQLite stores it as such
DUE_DAY = {"postgresql": "to_char(due_date, 'YYYY-MM-DD')", "sqlite": "due_date"}
OPEN_DUE_RECOUNT = ("SELECT 'nc_action_open_due:' || {day} AS name, count(*) AS n FROM nc_actions "
                    "WHERE status IN ('PLANNED', 'IN_PROGRESS') GROUP BY {day}")


def closing_recount(dialect: str) -> tuple[str, ...]:
    """The day-keyed counters' recounts: the NCs closed per day, the open actions per due day."""
    day, seconds = CLOSINGS[dialect]
    where = "FROM non_conformities WHERE status = 'CLOSED' AND closed_at IS NOT NULL"
    return (f"SELECT 'nc_closed_on:' || {day} AS name, count(*) AS n {where} GROUP BY {day}",
            f"SELECT 'nc_close_seconds_on:' || {day} AS name, sum({seconds}) AS n {where} GROUP BY {day}",
            OPEN_DUE_RECOUNT.format(day=DUE_DAY[dialect]))


def recount(conn: sa.Connection) -> dict[str, int]:
    """What every counter should hold, counted the slow way (tests, benchmarks, repairs); zeros left out."""
    counted: dict[str, int] = {}
    for query in RECOUNT + closing_recount(conn.dialect.name):
        for name, n in conn.execute(sa.text(query)):
            if n:
                counted[name] = int(n)
    return counted


def reset(conn: sa.Connection) -> None:
    """Replace every counter by a recount (as the owner, with writers stopped: after bulk loads)."""
    conn.execute(sa.delete(kpi_counters))
    rows = [{"name": name, "slot": 0, "value": n} for name, n in sorted(recount(conn).items())]
    if rows:
        conn.execute(sa.insert(kpi_counters), rows)
