"""Outbox and processed-event store on SQLAlchemy Core (the audit log is in audit.py)."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa

from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest
from application.ports.consumption import ProcessedEventStore, ProcessedKey
from application.ports.counters import Counters
from application.ports.counters import outbox as outbox_counter
from application.ports.outbox import (
    Claim,
    FailureRecorded,
    OutboxFilter,
    OutboxRecord,
    OutboxRepository,
    OutboxStatus,
)

from adapters.outbound.claim_order import behind_stopped, keep_in_order
from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.bulk import bulk_insert
from adapters.outbound.sqlalchemy.tables import (
    WAITING,
    UtcDateTime,
    outbox_archive,
    outbox_events,
    processed_events,
)

o = outbox_events.c
PENDING = OutboxStatus.PENDING.value
PUBLISHED = OutboxStatus.PUBLISHED.value
FAILED = OutboxStatus.FAILED.value
PARKED = OutboxStatus.PARKED.value
STOPPED = (FAILED, PARKED)


# Keep the claiming transaction's plans off statistics (PostgreSQL): the hot outbox is emptied and
# refilled all day and may never be analysed (autovacuum off), so the planner would take it for a few
# rows and read every PENDING row through a bitmap and a sort (32 ms at 20k rows) instead of walking
# the due index to the first `limit` rows (0.2 ms).
STEADY_PLANS = sa.select(
    sa.func.concat(sa.func.set_config("enable_bitmapscan", "off", True), sa.func.set_config("enable_sort", "off", True))
    .label("ok")).cte("steady_plans").prefix_with("MATERIALIZED")


def of_aggregates(keys: Iterable[tuple[str, str]], *queries: sa.Select) -> sa.CompoundSelect | sa.Select:
    """The queries restricted to these aggregates, as one statement: one branch per query and aggregate
    type, so that each is an index lookup (`aggregate_type = t AND aggregate_id = ANY(…)`, on the partial
    index its status matches) whatever the planner knows of the table."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for aggregate_type, aggregate_id in keys:
        by_type[aggregate_type].add(aggregate_id)
    branches = [query.where(o.aggregate_type == t, o.aggregate_id.in_(sorted(ids)))
                for query in queries for t, ids in sorted(by_type.items())]
    return branches[0] if len(branches) == 1 else sa.union_all(*branches)


def _stopping(*columns: sa.ColumnElement[Any]) -> sa.Select:
    """The FAILED and PARKED events (their partial index): delivery of their aggregate waits for an operator."""
    return sa.select(*columns).where(o.status.in_(STOPPED))


def unindexed(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The column as a filter only: a lookup by key must not be planned through the partial
    PENDING indexes (it would scan every pending row, see STEADY_PLANS)."""
    return sa.func.coalesce(column, "")


def _matching(query: sa.Select, table: sa.Table, criteria: OutboxFilter) -> sa.Select:
    c = table.c
    for column, value in ((c.status, criteria.status), (c.event_type, criteria.event_type),
                          (c.aggregate_type, criteria.aggregate_type), (c.aggregate_id, criteria.aggregate_id)):
        if value is not None:
            query = query.where(column == value)
    if criteria.failed_since is not None:
        query = query.where(c.failed_at >= criteria.failed_since)
    if criteria.failed_until is not None:
        query = query.where(c.failed_at < criteria.failed_until)
    return query


def _record(row: sa.Row) -> OutboxRecord:
    envelope = EventEnvelope(row.event_id, row.event_type, row.aggregate_type, row.aggregate_id, row.occurred_at,
                             row.actor, row.correlation_id, row.payload, row.traceparent, row.tracestate)
    return OutboxRecord(envelope, OutboxStatus(row.status), row.attempts, row.last_error, row.next_attempt_at,
                        row.created_at, row.published_at, row.handled_at, row.handled_by, row.lease_token,
                        row.failed_at)



def unhandled_before(published_before: datetime) -> sa.ColumnElement[bool]:
    """Published before the cutoff and not confirmed by the handlers (the partial index of the unhandled)."""
    return sa.and_(o.status == PUBLISHED, o.handled_at.is_(None), o.published_at < published_before)

class SqlOutboxRepository(OutboxRepository):
    """Every change of a row's status is counted (ADR 0012): `outbox:<status>` over the hot table and
    the archive together (an archived row counts as PUBLISHED), from what the statements really changed."""

    def __init__(self, conn: sa.Connection, counters: Counters) -> None:
        self.conn, self.counters = conn, counters

    def add(self, envelopes: Sequence[EventEnvelope], now: datetime) -> None:
        bulk_insert(self.conn, outbox_events, [
            {"event_id": e.event_id, "event_type": e.event_type, "aggregate_type": e.aggregate_type,
             "aggregate_id": e.aggregate_id, "occurred_at": e.occurred_at, "actor": e.actor,
             "correlation_id": e.correlation_id, "payload": e.payload, "traceparent": e.traceparent,
             "tracestate": e.tracestate, "status": PENDING, "attempts": 0,
             "next_attempt_at": now, "created_at": now}
            for e in envelopes])
        self.counters.add(outbox_counter(PENDING), len(envelopes))

    def claim(self, limit: int, now: datetime, lease_until: datetime | None = None) -> Claim:
        token = str(uuid4())
        # 1. the aggregates an event waiting for its retry, or leased by a relay, holds back: read from
        #    a partial index of those few rows (and, on PostgreSQL, the plans of what follows set steady)
        waiting = self._waiting(now)
        # 2. due events, oldest first, skipping rows another relay's transaction holds (PostgreSQL;
        #    SQLite has one writer at a time: BEGIN IMMEDIATE), read in the order of the due index
        due = sa.select(outbox_events).where(
            o.status == PENDING, o.next_attempt_at <= now, sa.or_(o.locked_until.is_(None), o.locked_until <= now))
        if waiting:
            due = due.where(sa.tuple_(o.aggregate_type, o.aggregate_id).not_in(list(waiting)))
        locked = self.conn.execute(due.order_by(o.position).limit(limit)
                                   .with_for_update(of=outbox_events, skip_locked=True)).all()
        if not locked:
            return Claim([], token)
        # 3. the per-aggregate gate: an earlier PENDING event of an aggregate that this claim did not
        #    take (another relay holds it) keeps the later ones of that aggregate back; an earlier FAILED
        #    or PARKED one parks them (one round trip: both partial indexes)
        last = locked[-1].position
        columns = (o.aggregate_type, o.aggregate_id, o.position, o.event_id, o.status)
        earlier = self.conn.execute(of_aggregates(
            [(r.aggregate_type, r.aggregate_id) for r in locked],
            sa.select(*columns).where(o.status == PENDING, o.position <= last),
            _stopping(*columns).where(o.position <= last))).all()
        candidates = [((r.aggregate_type, r.aggregate_id), r.position, r) for r in locked]
        parked = behind_stopped(candidates, [((r.aggregate_type, r.aggregate_id), r.position, r.event_id)
                                             for r in earlier if r.status in STOPPED])
        kept = {r.position for r in keep_in_order(candidates, [((r.aggregate_type, r.aggregate_id), r.position)
                                                               for r in earlier if r.status == PENDING])}
        kept -= {r.position for r, _ in parked}
        if parked:
            self._update([r.event_id for r, _ in parked], status=PARKED)
        records = [_record(r) for r in locked if r.position in kept]
        if records and lease_until is not None:
            self.conn.execute(sa.update(outbox_events).where(o.position.in_(kept))
                              .values(locked_until=lease_until, lease_token=token))
            records = [dataclasses.replace(r, lease_token=token) for r in records]
        return Claim(records, token, [(r.event_id, behind) for r, behind in parked])

    def _waiting(self, now: datetime) -> dict[tuple[str, str], int]:
        query = (sa.select(o.aggregate_type, o.aggregate_id, sa.func.min(o.position))
                 .where(WAITING, sa.or_(o.next_attempt_at > now, o.locked_until > now))
                 .group_by(o.aggregate_type, o.aggregate_id))
        if self.conn.dialect.name == "postgresql":
            # see steady_plans: set in the same round trip, for the statements planned after this one
            query = query.add_cte(STEADY_PLANS).where(sa.exists(sa.select(STEADY_PLANS.c.ok)))
        return {(t, i): position for t, i, position in self.conn.execute(query)}

    def held_back(self, envelopes: Sequence[EventEnvelope]) -> set[UUID]:
        if not envelopes:
            return set()
        mine = [e.event_id for e in envelopes]
        first = self._first_pending([(e.aggregate_type, e.aggregate_id) for e in envelopes], mine)
        if not first:
            return set()
        positions = dict(self.conn.execute(sa.select(o.event_id, o.position).where(o.event_id.in_(mine))).all())
        return {e.event_id for e in envelopes if (e.aggregate_type, e.aggregate_id) in first
                and positions.get(e.event_id, first[(e.aggregate_type, e.aggregate_id)] + 1)
                > first[(e.aggregate_type, e.aggregate_id)]}

    def _first_pending(self, keys: list[tuple[str, str]], mine: list[UUID]) -> dict[tuple[str, str], int]:
        """The first event of each aggregate still to deliver (PENDING, FAILED or PARKED), not among `mine`."""
        columns = (o.aggregate_type, o.aggregate_id, o.position)
        rows = self.conn.execute(of_aggregates(
            keys, sa.select(*columns).where(o.status == PENDING, o.event_id.not_in(mine)),
            _stopping(*columns).where(o.event_id.not_in(mine))))
        first: dict[tuple[str, str], int] = {}
        for t, i, position in rows:
            first[(t, i)] = min(first.get((t, i), position), position)
        return first

    def _update(self, event_ids: Sequence[UUID], *where: sa.ColumnElement[bool], **values: Any) -> set[UUID]:
        """Update these events (those also matching `where`); returns the ids updated. A status change
        is counted from the rows' status before, read and locked by the same statement on PostgreSQL;
        SQLite has one writer at a time (and no RETURNING from a FROM table)."""
        if not event_ids:
            return set()
        which = sa.and_(o.event_id.in_(event_ids), *where)
        if "status" not in values:
            updated = self.conn.execute(sa.update(outbox_events).where(which)
                                        .values(locked_until=None, **values).returning(o.event_id))
            return {event_id for (event_id,) in updated}
        if self.conn.dialect.name == "postgresql":
            prior = outbox_events.alias("prior")
            before = (sa.select(prior.c.event_id, prior.c.status).where(prior.c.event_id.in_(event_ids))
                      .with_for_update().subquery("before"))
            changed = self.conn.execute(sa.update(outbox_events).where(o.event_id == before.c.event_id, which)
                                        .values(locked_until=None, **values)
                                        .returning(o.event_id, before.c.status)).all()
        else:
            changed = self.conn.execute(sa.select(o.event_id, o.status).where(which)).all()
            self.conn.execute(sa.update(outbox_events).where(o.event_id.in_([i for i, _ in changed]))
                              .values(locked_until=None, **values))
        for _, status in changed:
            self.counters.transfer(outbox_counter(status), outbox_counter(values["status"]), 1)
        return {event_id for event_id, _ in changed}

    def _lost(self, records: Sequence[OutboxRecord], done: set[UUID]) -> list[UUID]:
        """Of the claimed records not completed, those another claim holds now (a different lease token)."""
        left = {r.envelope.event_id: r.lease_token for r in records if r.envelope.event_id not in done}
        if not left:
            return []
        tokens = self.conn.execute(sa.union_all(*(
            sa.select(t.c.event_id, t.c.lease_token).where(t.c.event_id.in_(list(left)))
            for t in (outbox_events, outbox_archive)))).all()
        return [event_id for event_id, token in tokens if token != left[event_id]]

    @staticmethod
    def _fenced(records: Sequence[OutboxRecord]) -> list[sa.ColumnElement[bool]]:
        """Only the rows still held by the claim of these records (a leased claim: one token)."""
        tokens = {r.lease_token for r in records}
        return [o.lease_token == token for token in tokens if token is not None]

    def extend_lease(self, event_ids: Sequence[UUID], lease_token: str, lease_until: datetime) -> None:
        self.conn.execute(sa.update(outbox_events)
                          .where(o.event_id.in_(event_ids), o.status == PENDING, o.lease_token == lease_token,
                                 o.locked_until.is_not(None))
                          .values(locked_until=lease_until))

    def mark_published(self, records: Sequence[OutboxRecord], now: datetime,
                       handled_by: str | None = None) -> list[UUID]:
        if not records:
            return []
        if handled_by is not None:  # handled in this very delivery: nobody else could record anything meanwhile
            self._archive(o.event_id.in_([r.envelope.event_id for r in records]), now, handled_by)
            return []
        by_claim: dict[tuple[int, str | None], list[UUID]] = defaultdict(list)
        for record in records:
            by_claim[(record.attempts, record.lease_token)].append(record.envelope.event_id)
        done: set[UUID] = set()
        for (attempts, token), event_ids in by_claim.items():
            fence = [o.lease_token == token] if token is not None else []
            updated = self.conn.execute(
                sa.update(outbox_events)
                .where(o.event_id.in_(event_ids), unindexed(o.status) == PENDING, o.attempts == attempts, *fence)
                .values(locked_until=None, status=PUBLISHED, published_at=now).returning(o.event_id)).all()
            self.counters.transfer(outbox_counter(PENDING), outbox_counter(PUBLISHED), len(updated))
            done |= {event_id for (event_id,) in updated}
        return self._lost(records, done)

    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        if event_ids:
            self._archive(o.event_id.in_(event_ids), now, handled_by)

    def _archive(self, which: sa.ColumnElement[bool], now: datetime, handled_by: str,
                 status: str = PUBLISHED) -> int:
        """Move these events, handled now, to the archive (the hot table keeps only what is to do);
        the moved rows' statuses before the move go to the counters (a PUBLISHED row stays PUBLISHED).
        Returns how many moved."""
        at = sa.literal(now, UtcDateTime)
        names = [c.name for c in outbox_archive.columns]
        one_statement = self.conn.dialect.name == "postgresql"  # DELETE … RETURNING feeds the INSERT
        source = sa.delete(outbox_events).where(which).returning(*outbox_events.c).cte("moved") if one_statement \
            else outbox_events
        changed = {"status": sa.literal(status), "handled_at": at, "handled_by": sa.literal(handled_by),
                   "published_at": sa.func.coalesce(source.c.published_at, at)}
        rows = sa.select(*(changed[n].label(n) if n in changed else source.c[n] for n in names))
        if one_statement:
            # one statement: the INSERT as a CTE too, the moved statuses counted by the main query
            archived = sa.insert(outbox_archive).from_select(names, rows).cte("archived")
            moved = self.conn.execute(sa.select(source.c.status, sa.func.count()).add_cte(source).add_cte(archived)
                                      .group_by(source.c.status)).all()
        else:
            self.conn.execute(sa.insert(outbox_archive).from_select(names, rows.where(which)))
            deleted = self.conn.execute(sa.delete(outbox_events).where(which).returning(o.status)).all()
            moved = [(before, sum(1 for (s,) in deleted if s == before)) for before in {s for (s,) in deleted}]
        for before, n in moved:
            self.counters.transfer(outbox_counter(before), outbox_counter(status), n)
        return sum(n for _, n in moved)

    def unhandled(self, published_before: datetime, limit: int) -> list[OutboxRecord]:
        query = (sa.select(outbox_events).where(unhandled_before(published_before))
                 .order_by(o.published_at, o.position).limit(limit))
        return [_record(r) for r in self.conn.execute(query)]

    def oldest_pending(self) -> datetime | None:
        # the first entry of the due partial index (position order is commit order), then its row
        query = sa.select(o.created_at).where(o.status == PENDING).order_by(o.position).limit(1)
        return self.conn.execute(query).scalar()

    def redrive(self, event_ids: Sequence[UUID], now: datetime, note: str) -> None:
        if event_ids:
            updated = self.conn.execute(
                sa.update(outbox_events).where(o.event_id.in_(event_ids), o.status == PUBLISHED, o.handled_at.is_(None))
                .values(status=PENDING, next_attempt_at=now, locked_until=None, last_error=note))
            self.counters.transfer(outbox_counter(PUBLISHED), outbox_counter(PENDING), updated.rowcount)

    def record_failure(self, record: OutboxRecord, attempts: int, error: str, status: OutboxStatus,
                       next_attempt_at: datetime, now: datetime) -> FailureRecorded:
        failed = status is OutboxStatus.FAILED
        event_id = record.envelope.event_id
        if not self._update([event_id], *self._fenced([record]), attempts=attempts, last_error=error,
                            status=status.value, next_attempt_at=next_attempt_at, failed_at=now if failed else None):
            return FailureRecorded(lost=True)
        if not failed:
            return FailureRecorded()
        # the later events of its aggregate wait behind it, in order, until an operator replays or skips it
        position = sa.select(o.position).where(o.event_id == event_id).scalar_subquery()
        later = self.conn.execute(sa.select(o.event_id).where(
            o.aggregate_type == record.envelope.aggregate_type, o.aggregate_id == record.envelope.aggregate_id,
            o.status == PENDING, o.position > position).order_by(o.position)).scalars().all()
        self._update(later, status=PARKED)
        return FailureRecorded(parked=list(later))

    def release(self, records: Sequence[OutboxRecord]) -> list[UUID]:
        done = self._update([r.envelope.event_id for r in records], *self._fenced(records))
        return self._lost(records, done)

    def get(self, event_id: UUID) -> OutboxRecord | None:
        for table in (outbox_events, outbox_archive):
            row = self.conn.execute(sa.select(table).where(table.c.event_id == event_id)).one_or_none()
            if row is not None:
                return _record(row)
        return None

    def replay(self, event_id: UUID, now: datetime) -> list[UUID] | None:
        if not self._update([event_id], o.status == FAILED, status=PENDING, attempts=0, next_attempt_at=now,
                            failed_at=None):
            return None
        return self._unpark(event_id, now)

    def skip(self, event_id: UUID, now: datetime, skipped_by: str) -> list[UUID] | None:
        record = self.get(event_id)
        if not self._archive(sa.and_(o.event_id == event_id, o.status == FAILED), now, skipped_by,
                             OutboxStatus.SKIPPED.value):
            return None
        assert record is not None
        return self._unpark(event_id, now, record)

    def _unpark(self, event_id: UUID, now: datetime, record: OutboxRecord | None = None) -> list[UUID]:
        """The PARKED events of this event's aggregate: PENDING again, due now, in their order."""
        envelope = (record or self.get(event_id)).envelope  # type: ignore[union-attr]
        parked = self.conn.execute(sa.select(o.event_id).where(
            o.aggregate_type == envelope.aggregate_type, o.aggregate_id == envelope.aggregate_id,
            o.status == PARKED).order_by(o.position)).scalars().all()
        self._update(parked, status=PENDING, next_attempt_at=now)
        return list(parked)

    def list(self, criteria: OutboxFilter, page: PageRequest) -> Page[OutboxRecord]:
        status = criteria.status
        hot = _matching(sa.select(*(o[c.name] for c in outbox_archive.columns)), outbox_events, criteria)
        if status in (None, OutboxStatus.PUBLISHED, OutboxStatus.SKIPPED):  # the archive holds only those
            hot = sa.union_all(hot, _matching(sa.select(outbox_archive), outbox_archive, criteria))
        rows = hot.subquery("rows")
        total = None
        if criteria == OutboxFilter(status=status):  # the hot table and the archive, from the counters
            counts = self.count_by_status()
            total = counts[status] if status is not None else sum(counts.values())
        return fetch_page(self.conn, sa.select(rows), rows.c.position, page, _record, total)

    def count_by_status(self) -> dict[OutboxStatus, int]:
        values = self.counters.read([outbox_counter(status) for status in OutboxStatus])
        return {status: values[outbox_counter(status)] for status in OutboxStatus}


class SqlProcessedEventStore(ProcessedEventStore):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def record_new(self, keys: Sequence[ProcessedKey], processed_at: datetime) -> set[ProcessedKey]:
        if not keys:
            return set()
        rows = [{"handler": handler, "event_id": event_id, "processed_at": processed_at} for handler, event_id in keys]
        inserted = bulk_insert(self.conn, processed_events, rows, skip_existing=True, returning=("handler", "event_id"))
        return {(handler, event_id) for handler, event_id in inserted}

    def of_event(self, event_id: UUID) -> list[tuple[str, datetime]]:
        p = processed_events.c
        query = sa.select(p.handler, p.processed_at).where(p.event_id == event_id).order_by(p.processed_at, p.handler)
        return [(handler, at) for handler, at in self.conn.execute(query)]

