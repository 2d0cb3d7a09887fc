"""The audit log's hash chain: the rule (one for every store) and the verifier, on the memory adapter."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from application.audit_chain import GENESIS, VerifyAuditLog, canonical, entry_hash, link
from application.ports.consumption import AuditEntry

AT = datetime(2026, 12, 1, 8, 30, 0, 120000, tzinfo=UTC)
EVENT = uuid.UUID("4b1e2a52-0000-4000-8000-000000000001")


def entry(n: int = 1, event_id: uuid.UUID | None = None, **changes) -> AuditEntry:
    values = dict(event_id=event_id or uuid.uuid4(), event_type="NC_CREATED", entity_type="nc", entity_id=str(n),
                  actor="alice", correlation_id="corr-42", occurred_at=AT, recorded_at=AT + timedelta(seconds=1),
                  details={"nc_id": n, "severity": "high", "tags": ["a", "é"]})
    return AuditEntry(**{**values, **changes})


# --- the rule --------------------------------------------------------------------------------------


def test_the_canonical_encoding_is_sorted_compact_json_of_the_columns_with_utc_microsecond_times() -> None:
    encoded = canonical(entry(event_id=EVENT), GENESIS)
    assert encoded == (
        b'{"action":"NC_CREATED","actor":"alice","correlation_id":"corr-42","details":{"nc_id":1,"severity":"high",'
        b'"tags":["a","\\u00e9"]},"entity_id":"1","entity_type":"nc",'
        b'"event_id":"4b1e2a52-0000-4000-8000-000000000001","occurred_at":"2026-12-01T08:30:00.120000Z",'
        b'"prev_hash":"' + GENESIS.encode() + b'","recorded_at":"2026-12-01T08:30:01.120000Z"}')
    # pinned: records already stored were hashed with it, a change of the rule would break every chain
    assert entry_hash(entry(event_id=EVENT), GENESIS) == (
        "64d17d53497075a842c0faf960a59e62d1e8843f7a59dbba72a128daadb58fe1")


def test_the_same_record_hashes_the_same_however_a_store_gives_it_back() -> None:
    one = entry(event_id=EVENT, details={"a": 1, "b": {"y": 2.0, "x": 1e20}})
    paris = timezone(timedelta(hours=1))
    again = dataclasses.replace(one, details=json.loads('{"b": {"x": 100000000000000000000, "y": 2}, "a": 1}'),
                                occurred_at=AT.astimezone(paris), id=7, prev_hash="ignored", hash="ignored")
    assert entry_hash(again, GENESIS) == entry_hash(one, GENESIS)


@pytest.mark.parametrize("change", [
    {"event_id": uuid.uuid4()}, {"event_type": "NC_CLOSED"}, {"entity_type": "supplier"}, {"entity_id": "2"},
    {"actor": "mallory"}, {"correlation_id": "other"}, {"occurred_at": AT + timedelta(microseconds=1)},
    {"recorded_at": AT}, {"details": {"nc_id": 1, "severity": "low", "tags": ["a", "é"]}},
])
def test_every_business_column_is_covered(change) -> None:
    assert entry_hash(entry(**{"event_id": EVENT, **change}), GENESIS) != entry_hash(entry(event_id=EVENT), GENESIS)


def test_the_previous_hash_is_covered_and_a_naive_time_is_refused() -> None:
    assert entry_hash(entry(event_id=EVENT), "1" * 64) != entry_hash(entry(event_id=EVENT), GENESIS)
    with pytest.raises(ValueError, match="timezone-aware"):
        entry_hash(entry(occurred_at=AT.replace(tzinfo=None)), GENESIS)


def test_link_chains_only_the_new_entries_from_the_head() -> None:
    recorded, a, b = entry(1), entry(2), entry(3)
    linked = link([recorded, a, a, b], recorded=[recorded.event_id], head="f" * 64)
    assert [e.event_id for e in linked] == [a.event_id, b.event_id]  # recorded, and the repeat of a, skipped
    assert [e.prev_hash for e in linked] == ["f" * 64, linked[0].hash]
    assert linked[1].hash == entry_hash(dataclasses.replace(b, hash_version=2, changes=[]), linked[0].hash)
    assert link([a], recorded=[], head=None)[0].prev_hash == GENESIS


# --- the verifier on the memory adapter ---------------------------------------------------------------


@pytest.fixture
def appended(uow) -> list[AuditEntry]:
    """Five records appended by three transactions, one of them repeating a recorded event."""
    batches = [[entry(1), entry(2)], [entry(3)], [entry(4), entry(5)]]
    batches[2].append(batches[0][0])
    for batch in batches:
        with uow() as tx:
            tx.audit.append(batch)
            tx.commit()
    with uow().reading() as tx:
        return tx.audit.chain(0, 100)


def test_the_memory_log_is_a_chain_in_id_order_read_in_pages(appended, uow) -> None:
    assert [e.id for e in appended] == [1, 2, 3, 4, 5]
    assert [e.prev_hash for e in appended] == [GENESIS] + [e.hash for e in appended[:-1]]
    with uow().reading() as tx:
        assert [e.id for e in tx.audit.chain(2, 2)] == [3, 4]
        assert tx.audit.chain(5, 2) == []


@pytest.mark.parametrize("page_size", [1, 2, 5, 1000])
def test_an_untouched_log_verifies(appended, uow, page_size: int) -> None:
    assert VerifyAuditLog(uow, page_size)() == {"ok": True, "records": 5, "head": appended[-1].hash}


def test_an_empty_log_verifies(uow) -> None:
    assert VerifyAuditLog(uow)() == {"ok": True, "records": 0, "head": GENESIS}


def _tamper(db, index: int, **changes) -> AuditEntry:
    db.state.audit[index] = dataclasses.replace(db.state.audit[index], **changes)
    return db.state.audit[index]


def test_a_changed_record_is_named(appended, uow, db) -> None:
    forged = _tamper(db, 2, details={"nc_id": 3, "severity": "low"})
    assert VerifyAuditLog(uow, page_size=2)() == {
        "ok": False, "records": 2, "broken": {"id": 3, "event_id": str(forged.event_id), "reason": "hash mismatch"}}


def test_a_changed_record_whose_hash_was_recomputed_breaks_the_next_link(appended, uow, db) -> None:
    forged = dataclasses.replace(db.state.audit[2], actor="mallory")
    _tamper(db, 2, actor="mallory", hash=entry_hash(forged, forged.prev_hash))
    assert VerifyAuditLog(uow, page_size=2)()["broken"] == {
        "id": 4, "event_id": str(appended[3].event_id), "reason": "prev_hash does not link"}


def test_a_removed_record_breaks_the_link_of_the_one_after_it(appended, uow, db) -> None:
    del db.state.audit[1]
    assert VerifyAuditLog(uow)() == {"ok": False, "records": 1, "broken": {
        "id": 3, "event_id": str(appended[2].event_id), "reason": "prev_hash does not link"}}
