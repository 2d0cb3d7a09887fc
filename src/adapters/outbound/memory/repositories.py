"""In-memory repositories over a transaction's private MemoryState."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar
from uuid import UUID, uuid4

from application.audit_chain import link
from application.envelope import EventEnvelope
from application import listing
from application.pagination import Page, PageRequest
from application.ports.consumption import (
    AuditEntry,
    AuditFilter,
    AuditLog,
    ProcessedEventStore,
    ProcessedKey,
)
from application.ports import counters as names
from application.ports.outbox import (
    Claim,
    FailureRecorded,
    OutboxFilter,
    OutboxRecord,
    OutboxRepository,
    OutboxStatus,
)
from application.ports.repositories import NcFilter, NonConformityRepository, SupplierFilter, SupplierRepository
from application.ports.security import RevokedTokens
from domain.nonconformities import NcStatus, NonConformity, Severity
from domain.suppliers import Supplier

from adapters.outbound.claim_order import behind_stopped, keep_in_order
from adapters.outbound.counting import nc_tally
from adapters.outbound.memory.counters import MemoryCounters
from adapters.outbound.memory.database import MemoryState, OutboxRow
from adapters.outbound.memory.finding import find
from adapters.outbound.memory.versions import Versions

T = TypeVar("T")


def _attribute(name: str) -> Callable[[object], object]:
    def get(item: object) -> object:
        value = getattr(item, name)
        return getattr(value, "value", value)  # an enum sorts by its text, as in the database
    return get


def paginate(items: Iterable[T], page: PageRequest) -> Page[T]:
    rows = list(items)
    return Page(rows[page.offset : page.offset + page.limit], len(rows), page.limit, page.offset)


class MemorySupplierRepository(SupplierRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state, self.counters = state, MemoryCounters(state)
        self.versions = Versions()

    def _add(self, supplier: Supplier) -> None:
        supplier.id = self.state.next_id("suppliers")
        self.state.suppliers[supplier.id] = supplier
        self.counters.add(names.SUPPLIERS)
        self.versions.added(supplier)

    def flush(self) -> None:
        self.versions.flush()

    def _get(self, identity: int) -> Supplier | None:
        supplier = self.state.suppliers.get(identity)
        if supplier is not None:
            self.versions.loaded(supplier)
        return supplier

    def list(self, page: PageRequest, criteria: SupplierFilter = SupplierFilter()) -> Page[Supplier]:
        fields = {name: _attribute(name) for name in listing.SUPPLIERS.sortable}
        rows = [s for s in self.state.suppliers.values()
                if criteria.approval_status in (None, s.approval_status)]
        return paginate(find(rows, criteria.find, listing.SUPPLIERS, fields,
                             [lambda s: s.name], lambda s: s.created_at), page)

    def touch(self, supplier: Supplier) -> None:
        self.versions.touch(supplier)


class MemoryNonConformityRepository(NonConformityRepository):
    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state, self.counters = state, MemoryCounters(state)
        self.tally = nc_tally(self.counters)
        self.versions = Versions()

    def _add(self, nc: NonConformity) -> None:
        nc.id = self.state.next_id("ncs")
        self.state.ncs[nc.id] = nc
        self.tally.inserted(nc)
        self.versions.added(nc)

    def flush(self) -> None:
        self.tally.flush(self.seen)  # entities are changed in place: count their state changes
        self.versions.flush()

    def _get(self, identity: int) -> NonConformity | None:
        nc = self.state.ncs.get(identity)
        if nc is not None:
            self.tally.loaded(nc)
            self.versions.loaded(nc)
        return nc

    def _matching(self, criteria: NcFilter) -> list[NonConformity]:
        fields = {name: _attribute(name) for name in listing.NCS.sortable}
        return find(self._exact(criteria), criteria.find, listing.NCS, fields, [lambda n: n.description],
                    lambda n: n.created_at)

    def _exact(self, criteria: NcFilter) -> list[NonConformity]:
        return [
            nc
            for nc in sorted(self.state.ncs.values(), key=lambda n: n.id or 0)
            if (criteria.status is None or nc.status is criteria.status)
            and (criteria.severity is None or nc.severity is criteria.severity)
            and (criteria.supplier_id is None or nc.supplier_id == criteria.supplier_id)
        ]

    def list(self, criteria: NcFilter, page: PageRequest) -> Page[NonConformity]:
        return paginate(self._matching(criteria), page)

    def count(self, criteria: NcFilter) -> int:
        return len(self._matching(criteria))

    def open_for_suppliers(self, supplier_ids: list[int]) -> list[NonConformity]:
        wanted = set(supplier_ids)
        return [nc for nc in self._matching(NcFilter()) if nc.is_open and nc.supplier_id in wanted]

    def raised_between(self, supplier_id: int, since: datetime,
                       before: datetime) -> dict[tuple[Severity, NcStatus], int]:
        return dict(Counter((nc.severity, nc.status) for nc in self.state.ncs.values()
                            if nc.supplier_id == supplier_id and since <= nc.opened_at < before))


class MemoryOutboxRepository(OutboxRepository):
    """The hot outbox and the archive in one dict: an archived (handled or skipped) event keeps its row."""

    def __init__(self, state: MemoryState) -> None:
        self.state, self.counters = state, MemoryCounters(state)

    def add(self, envelopes: Sequence[EventEnvelope], now: datetime) -> None:
        for envelope in envelopes:
            record = OutboxRecord(envelope, OutboxStatus.PENDING, 0, None, now, now)
            self.state.outbox[envelope.event_id] = OutboxRow(record, self.state.next_id("outbox"))
        self.counters.add(names.outbox(OutboxStatus.PENDING), len(envelopes))

    def _rows(self, *statuses: OutboxStatus) -> list[OutboxRow]:
        return [row for row in self.state.outbox.values() if row.record.status in statuses and not row.archived]

    def held_back(self, envelopes: Sequence[EventEnvelope]) -> set[UUID]:
        mine = {e.event_id for e in envelopes}
        first_other: dict[tuple[str, str], int] = {}
        for row in self._rows(OutboxStatus.PENDING, *STOPPED):
            if row.record.envelope.event_id not in mine:
                key = _key(row.record)
                first_other[key] = min(first_other.get(key, row.position), row.position)
        return {e.event_id for e in envelopes if (e.aggregate_type, e.aggregate_id) in first_other
                and first_other[(e.aggregate_type, e.aggregate_id)] < self.state.outbox[e.event_id].position}

    def claim(self, limit: int, now: datetime, lease_until: datetime | None = None) -> Claim:
        token = str(uuid4())
        pending = self._rows(OutboxStatus.PENDING)
        due = [row for row in pending
               if row.record.next_attempt_at <= now and (row.lease_until is None or row.lease_until <= now)]
        candidates = [(_key(row.record), row.position, row) for row in due]
        stopped = [(_key(r.record), r.position, r.record.envelope.event_id) for r in self._rows(*STOPPED)]
        parked = behind_stopped(candidates, stopped)
        for row, _ in parked:
            self._update(row.record.envelope.event_id, status=OutboxStatus.PARKED)
        waiting = {id(row) for row, _ in parked}
        kept: list[OutboxRow] = keep_in_order([c for c in candidates if id(c[2]) not in waiting],
                                              [(_key(r.record), r.position) for r in pending])[:limit]
        for row in kept:
            row.lease_until = lease_until
            if lease_until is not None:
                row.record = dataclasses.replace(row.record, lease_token=token)
        return Claim([row.record for row in kept], token,
                     [(row.record.envelope.event_id, behind) for row, behind in parked])

    def _update(self, event_id: UUID, lease_until: datetime | None = None, **changes: object) -> None:
        row = self.state.outbox[event_id]
        before = row.record.status
        row.record = dataclasses.replace(row.record, **changes)
        row.lease_until = lease_until
        self.counters.transfer(names.outbox(before), names.outbox(row.record.status), 1)

    def _held(self, record: OutboxRecord) -> bool:
        """The fence: the row is still held by the claim of this record (or the record had no lease)."""
        row = self.state.outbox.get(record.envelope.event_id)
        return row is not None and (record.lease_token is None or row.record.lease_token == record.lease_token)

    def _lost(self, records: Sequence[OutboxRecord]) -> list[UUID]:
        return [r.envelope.event_id for r in records if r.envelope.event_id in self.state.outbox and not self._held(r)]

    def extend_lease(self, event_ids: Sequence[UUID], lease_token: str, lease_until: datetime) -> None:
        for event_id in event_ids:
            row = self.state.outbox[event_id]
            if (row.record.status is OutboxStatus.PENDING and row.lease_until is not None
                    and row.record.lease_token == lease_token):
                row.lease_until = lease_until

    def mark_published(self, records: Sequence[OutboxRecord], now: datetime,
                       handled_by: str | None = None) -> list[UUID]:
        handled = {"handled_at": now, "handled_by": handled_by} if handled_by else {}
        for claimed in records:
            current = self.state.outbox[claimed.envelope.event_id]
            if (self._held(claimed) and not current.archived and current.record.status is OutboxStatus.PENDING
                    and current.record.attempts == claimed.attempts):
                self._update(claimed.envelope.event_id, status=OutboxStatus.PUBLISHED, published_at=now, **handled)
        return self._lost(records)

    def mark_handled(self, event_ids: Sequence[UUID], handled_by: str, now: datetime) -> None:
        for event_id in event_ids:
            row = self.state.outbox.get(event_id)
            if row is not None and not row.archived:
                published_at = row.record.published_at or now
                self._update(event_id, status=OutboxStatus.PUBLISHED, published_at=published_at, handled_at=now,
                             handled_by=handled_by)

    def _unhandled(self, published_before: datetime) -> list[OutboxRow]:
        rows = [r for r in self._rows(OutboxStatus.PUBLISHED) if r.record.published_at is not None
                and r.record.published_at < published_before]
        return sorted(rows, key=lambda r: (r.record.published_at, r.position))

    def unhandled(self, published_before: datetime, limit: int) -> list[OutboxRecord]:
        return [r.record for r in self._unhandled(published_before)[:limit]]

    def oldest_pending(self) -> datetime | None:
        return min((row.record.created_at for row in self._rows(OutboxStatus.PENDING)), default=None)

    def redrive(self, event_ids: Sequence[UUID], now: datetime, note: str) -> None:
        for event_id in event_ids:
            row = self.state.outbox[event_id]
            if row.record.status is OutboxStatus.PUBLISHED and not row.archived:
                self._update(event_id, status=OutboxStatus.PENDING, next_attempt_at=now, last_error=note)

    def record_failure(self, record: OutboxRecord, attempts: int, error: str, status: OutboxStatus,
                       next_attempt_at: datetime, now: datetime) -> FailureRecorded:
        event_id = record.envelope.event_id
        if not self._held(record) or self.state.outbox[event_id].archived:
            return FailureRecorded(lost=True)
        failed = status is OutboxStatus.FAILED
        self._update(event_id, attempts=attempts, last_error=error, status=status, next_attempt_at=next_attempt_at,
                     failed_at=now if failed else None)
        if not failed:
            return FailureRecorded()
        position = self.state.outbox[event_id].position
        later = sorted((r for r in self._rows(OutboxStatus.PENDING)
                        if _key(r.record) == _key(record) and r.position > position), key=lambda r: r.position)
        for row in later:
            self._update(row.record.envelope.event_id, status=OutboxStatus.PARKED)
        return FailureRecorded(parked=[row.record.envelope.event_id for row in later])

    def release(self, records: Sequence[OutboxRecord]) -> list[UUID]:
        for record in records:
            if self._held(record):
                self._update(record.envelope.event_id)
        return self._lost(records)

    def get(self, event_id: UUID) -> OutboxRecord | None:
        row = self.state.outbox.get(event_id)
        return row.record if row else None

    def replay(self, event_id: UUID, now: datetime) -> list[UUID] | None:
        row = self.state.outbox.get(event_id)
        if row is None or row.record.status is not OutboxStatus.FAILED:
            return None
        self._update(event_id, status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, failed_at=None)
        return self._unpark(row.record, now)

    def skip(self, event_id: UUID, now: datetime, skipped_by: str) -> list[UUID] | None:
        row = self.state.outbox.get(event_id)
        if row is None or row.record.status is not OutboxStatus.FAILED:
            return None
        published_at = row.record.published_at or now
        self._update(event_id, status=OutboxStatus.SKIPPED, published_at=published_at, handled_at=now,
                     handled_by=skipped_by)
        return self._unpark(row.record, now)

    def _unpark(self, record: OutboxRecord, now: datetime) -> list[UUID]:
        parked = sorted((r for r in self._rows(OutboxStatus.PARKED) if _key(r.record) == _key(record)),
                        key=lambda r: r.position)
        for row in parked:
            self._update(row.record.envelope.event_id, status=OutboxStatus.PENDING, next_attempt_at=now)
        return [row.record.envelope.event_id for row in parked]

    def list(self, criteria: OutboxFilter, page: PageRequest) -> Page[OutboxRecord]:
        def matches(r: OutboxRecord) -> bool:
            e = r.envelope
            return all(want is None or have == want for have, want in (
                (r.status, criteria.status), (e.event_type, criteria.event_type),
                (e.aggregate_type, criteria.aggregate_type), (e.aggregate_id, criteria.aggregate_id))) \
                and (criteria.failed_since is None or (r.failed_at is not None and r.failed_at >= criteria.failed_since)) \
                and (criteria.failed_until is None or (r.failed_at is not None and r.failed_at < criteria.failed_until))

        rows = sorted(self.state.outbox.values(), key=lambda r: r.position)
        return paginate((r.record for r in rows if matches(r.record)), page)

    def count_by_status(self) -> dict[OutboxStatus, int]:
        values = self.counters.read([names.outbox(status) for status in OutboxStatus])
        return {status: values[names.outbox(status)] for status in OutboxStatus}


STOPPED = (OutboxStatus.FAILED, OutboxStatus.PARKED)


def _key(record: OutboxRecord) -> tuple[str, str]:
    return (record.envelope.aggregate_type, record.envelope.aggregate_id)


class MemoryProcessedEventStore(ProcessedEventStore):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def record_new(self, keys: Sequence[ProcessedKey], processed_at: datetime) -> set[ProcessedKey]:
        new = {key for key in keys if key not in self.state.processed}
        for key in new:
            self.state.processed[key] = processed_at
        return new

    def of_event(self, event_id: UUID) -> list[tuple[str, datetime]]:
        return sorted(((handler, at) for (handler, key), at in self.state.processed.items() if key == event_id),
                      key=lambda item: (item[1], item[0]))


class MemoryAuditLog(AuditLog):
    """Appends at once: one transaction at a time, nothing to keep short."""

    def __init__(self, state: MemoryState) -> None:
        super().__init__()
        self.state, self.counters = state, MemoryCounters(state)

    def append(self, entries: Sequence[AuditEntry]) -> None:
        # one transaction at a time (MemoryDatabase): the chain's head cannot move under it
        head = self.state.audit[-1].hash if self.state.audit else None
        for entry in link(entries, (e.event_id for e in self.state.audit), head):
            self.state.audit.append(dataclasses.replace(entry, id=self.state.next_id("audit")))
            self.counters.add(names.audit(entry.entity_type, entry.event_type))

    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        match: Callable[[AuditEntry], bool] = lambda e: (  # noqa: E731
            (criteria.event_type is None or e.event_type == criteria.event_type)
            and (criteria.entity_type is None or e.entity_type == criteria.entity_type)
            and (criteria.entity_id is None or e.entity_id == criteria.entity_id)
            and (criteria.actor is None or e.actor == criteria.actor)
        )
        fields = {"id": lambda e: e.id, "occurred_at": lambda e: e.occurred_at, "event_type": lambda e: e.event_type,
                  "entity_type": lambda e: e.entity_type}
        search = [lambda e: e.event_type, lambda e: e.entity_type, lambda e: e.entity_id, lambda e: e.actor]
        return paginate(find((e for e in reversed(self.state.audit) if match(e)), criteria.find, listing.AUDIT, fields,
                             search, lambda e: e.occurred_at), page)

    def chain(self, after_id: int, limit: int) -> list[AuditEntry]:
        return [e for e in self.state.audit if (e.id or 0) > after_id][:limit]

    def count(self) -> int:
        return sum(v for name, v in self.counters.read().items() if name.startswith(names.AUDIT_PREFIX))


class MemoryRevokedTokens(RevokedTokens):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def revoke(self, token_id: str, username: str, expires_at: datetime, now: datetime) -> None:
        self.state.revoked_tokens[token_id] = expires_at

    def is_revoked(self, token_id: str) -> bool:
        return token_id in self.state.revoked_tokens

    def purge(self, expired_before: datetime) -> int:
        expired = [t for t, expires_at in self.state.revoked_tokens.items() if expires_at < expired_before]
        for token_id in expired:
            del self.state.revoked_tokens[token_id]
        return len(expired)
