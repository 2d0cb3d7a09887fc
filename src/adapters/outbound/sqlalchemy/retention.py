"""The RetentionStore port on SQLAlchemy Core: the purge rules, deleted in batches, oldest first.

Each batch is one `DELETE … WHERE ctid IN (SELECT ctid … ORDER BY <time> LIMIT n)` per table (SQLite:
`rowid`): the index on the time column is walked to the first `n` rows, each deleted by its physical
address (PostgreSQL: a TID scan). The floor triggers of migration 0009 refuse rows younger than a day
whatever the caller asks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa

from application.ports.counters import Counters
from application.ports.counters import outbox as outbox_counter
from application.ports.retention import RetentionStore

from adapters.outbound.sqlalchemy.tables import delivery_steps, outbox_archive, outbox_events, processed_events

LOCK_KEY = int.from_bytes(b"st-purge", "big")  # the advisory lock of the purge: any bigint, fixed

# PostgreSQL, for the rest of the batch's transaction: plans that never depend on statistics (which,
# with autovacuum off, may never exist: then each batch read whole tables into hashes). The time index
# is walked to the first `limit` rows and each event looked up by its key (ADR 0010, "steady plans").
STEADY_PLANS = sa.select(*(sa.func.set_config(f"enable_{plan}", "off", True)
                           for plan in ("hashjoin", "mergejoin", "sort", "bitmapscan")))


class Rule(NamedTuple):
    table: sa.Table  # with an `event_id` column
    at: str  # its time column (indexed)
    counter: Callable[[str], str] | None = None  # the counter a row counts in, named by its `status` (ADR 0012)


# what a purge removes, in this order. A row goes once its time is older than the cutoff, unless its
# event is still in the hot outbox or was archived since the cutoff: whatever is kept for an event
# (its idempotency keys) goes with its archived event, or after it, never before
RULES = (
    Rule(outbox_archive, "handled_at", outbox_counter),
    Rule(processed_events, "processed_at"),
    Rule(delivery_steps, "at"),
)


class SqlRetentionStore(RetentionStore):
    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        self.conn, self.counters = conn, counters
        self.row_id = "ctid" if conn.dialect.name == "postgresql" else "rowid"

    def try_lock(self) -> bool:
        if self.conn.dialect.name != "postgresql":
            return True  # SQLite: one writer at a time, and a writing transaction begins IMMEDIATE
        return self.conn.execute(sa.select(sa.func.pg_try_advisory_xact_lock(LOCK_KEY))).scalar_one()

    def purge(self, before: datetime, limit: int) -> dict[str, int]:
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(STEADY_PLANS)
        removed = {}
        for rule in RULES:
            query = self._expired(rule, before)  # SELECT expired.<time> …
            oldest = (query.with_only_columns(sa.literal_column(f"expired.{self.row_id}"))
                      .order_by(*query.selected_columns).limit(limit))
            delete = sa.delete(rule.table).where(sa.literal_column(self.row_id).in_(oldest))
            if rule.counter is None:
                removed[rule.table.name] = self.conn.execute(delete).rowcount
                continue
            statuses = Counter(self.conn.execute(delete.returning(rule.table.c.status)).scalars())
            for status, n in statuses.items():
                self.counters.add(rule.counter(status), -n)
            removed[rule.table.name] = statuses.total()
        return removed

    def count(self, before: datetime) -> dict[str, int]:
        return {rule.table.name: self.conn.execute(sa.select(sa.func.count()).select_from(
            self._expired(rule, before).subquery())).scalar_one() for rule in RULES}

    @staticmethod
    def _expired(rule: Rule, before: datetime) -> sa.Select:
        expired, hot, since = rule.table.alias("expired"), outbox_events.alias("hot"), outbox_archive.alias("since")
        at, event_id = expired.c[rule.at], expired.c.event_id
        return sa.select(at).where(
            at < before,
            ~sa.exists().where(hot.c.event_id == event_id),
            ~sa.exists().where(since.c.event_id == event_id, since.c.handled_at >= before))
