"""The audit trail with changes (ADR 0026): every event's payload says what changed and why, the audit
handler stores both generically, hash rule 2 covers them, and rule-1 records still verify."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from application.audit import AuditQueries, AuditTrailHandler
from application.audit_chain import GENESIS, VerifyAuditLog, canonical, changes_of, entry_hash, link
from application.dispatch import Delivery
from application.envelope import EventEnvelope, Origin
from application.listing import AUDIT, Finding
from application.pagination import PageRequest
from application.ports.consumption import AuditEntry, AuditFilter
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.relay import OutboxRelay, RetryPolicy
from domain.inventories import Inventory
from domain.orders import ItemSpec, ItemStatus, Order, OrderChanges, OrderStatus
from domain.suppliers import SupplierCertificationUpdated
from tests.unit.test_relay import FlakyPublisher

AT = datetime(2026, 12, 1, 8, 30, 0, 120000, tzinfo=UTC)
EVENT = uuid.UUID("4b1e2a52-0000-4000-8000-000000000002")


def entry(n: int = 1, **values) -> AuditEntry:
    base = dict(event_id=uuid.uuid4(), event_type="SUPPLIER_CERT_UPDATED", entity_type="supplier", entity_id=str(n),
                actor="alice", correlation_id="corr-42", occurred_at=AT, recorded_at=AT + timedelta(seconds=1),
                details={"supplier_id": n})
    return AuditEntry(**{**base, **values})


def rule2(**values) -> AuditEntry:
    return entry(event_id=EVENT, hash_version=2, changes=[["certification_expiry", "2027-06-30", "2028-01-31"]],
                 reason="new certificate received", **values)


# --- the events' changes ------------------------------------------------------------------------


def test_every_existing_event_says_what_it_changed_old_to_new() -> None:
    order = Order.receive(AT, reference="ORD-1", customer_name="Ana", address="Rua 1",
                          items=[ItemSpec("S-1", 2, "1.00", "2.50")])
    assert order.events[-1].payload()["changes"] == [
        ["status", None, "RECEIVED"], ["reference", None, "ORD-1"], ["customer_name", None, "Ana"],
        ["address", None, "Rua 1"], ["total_amount", None, "5.00"],
        ["items", None, [{"sku": "S-1", "quantity": 2, "unit_price": "1.00", "sale_price": "2.50",
                          "status": "PENDING"}]]]
    order.update(OrderChanges(address="Rua 2", eta=AT + timedelta(days=2)), AT)
    updated = order.events[-1].payload()
    assert updated["changes"] == [["eta", None, (AT + timedelta(days=2)).isoformat()], ["address", "Rua 1", "Rua 2"]]
    assert updated["previous"] == {"eta": None, "address": "Rua 1"}  # a key added, none renamed
    order.change_item_status("S-1", ItemStatus.PICKED, AT, reason="found on shelf 4")
    assert order.events[-1].payload()["changes"] == [["items[S-1].status", "PENDING", "PICKED"]]
    order.move_to(OrderStatus.ON_HOLD, AT, reason="address check")
    moved = order.events[-1].payload()
    assert (moved["changes"], moved["reason"]) == ([["status", "RECEIVED", "ON_HOLD"]], "address check")
    order.cancel(AT, reason="customer called")
    cancelled = [e.payload() for e in order.events[-2:]]
    assert [p["changes"] for p in cancelled] == [[["status", "ON_HOLD", "CANCELLED"]],
                                                 [["items[S-1].status", "PICKED", "CANCELLED"]]]
    assert cancelled[0]["reason"] == "customer called"

    inventory = Inventory.create("ACME", date(2027, 1, 31), AT)
    inventory.id = 3
    inventory.delete(AT)
    assert inventory.events[-1].payload()["changes"] == [["deleted_at", None, AT.isoformat()]]


# --- the handler --------------------------------------------------------------------------------


def deliver(uow, clock, *envelopes: EventEnvelope) -> None:
    handler = AuditTrailHandler(clock)
    with uow() as tx:
        handler.apply_batch(tx, [Delivery(None, e) for e in envelopes])  # the handler reads envelopes only
        tx.commit()


def envelope(event_type: str, payload: dict, actor: str = "alice") -> EventEnvelope:
    return EventEnvelope(event_id=uuid.uuid4(), event_type=event_type, aggregate_type="nc", aggregate_id="1",
                         occurred_at=AT, actor=actor, correlation_id="c", payload=payload)


def test_the_handler_stores_changes_and_reason_of_any_event_and_they_are_listed(uow, clock) -> None:
    cert = SupplierCertificationUpdated(occurred_at=AT, supplier_id=1, previous_expiry=date(2027, 6, 30),
                                        certification_expiry=date(2028, 1, 31))
    # an event type this code does not know (another module's), following the convention
    future = envelope("NC_STATUS_CHANGED", {"changes": [["status", "OPEN", "INVESTIGATING"]], "reason": "lab report"},
                      actor="quinn")
    before_upgrade = envelope("NC_CLOSED", {"nc_id": 1})  # outboxed before events carried changes
    malformed = envelope("NC_CLOSED", {"changes": [["status", "OPEN"], "x", [1, 2, 3], ["ok", 1, 2]], "reason": " "})
    deliver(uow, clock, EventEnvelope.wrap(cert, Origin("alice", "c")), future, before_upgrade, malformed)

    with uow().reading() as tx:
        stored = tx.audit.chain(0, 10)
    assert [(e.changes, e.reason, e.hash_version) for e in stored] == [
        ([["certification_expiry", "2027-06-30", "2028-01-31"]], None, 2),
        ([["status", "OPEN", "INVESTIGATING"]], "lab report", 2),
        ([], None, 2),
        ([["ok", 1, 2]], None, 2)]
    assert stored[1].details == future.payload  # the payload stays whole
    assert VerifyAuditLog(uow)()["ok"] is True

    by_quinn = AuditQueries(uow).list(AuditFilter(actor="quinn"), PageRequest())
    assert ([e.event_type for e in by_quinn.items], by_quinn.total) == (["NC_STATUS_CHANGED"], 1)
    window = Finding.parse(AUDIT, created_from="2026-12-01T08:00:00Z", created_to="2026-12-01T09:00:00Z")
    assert AuditQueries(uow).list(AuditFilter(actor="alice", find=window), PageRequest()).total == 3
    late = Finding.parse(AUDIT, created_from="2026-12-02")
    assert AuditQueries(uow).list(AuditFilter(actor="alice", find=late), PageRequest()).items == []


def test_changes_of_keeps_only_field_old_new_triples() -> None:
    assert changes_of(None) == changes_of({"a": 1}) == []
    assert changes_of([("a", None, {"x": 1}), ["b"], [2, 1, 1]]) == [["a", None, {"x": 1}]]


def test_an_operator_replay_is_audited_with_the_status_change_and_the_reason(app, origin, uow, clock, db) -> None:
    app.create_supplier("A", date(2030, 1, 1), origin)
    OutboxRelay(uow, FlakyPublisher(times=9), clock, RetryPolicy(1, 1.0), lease_seconds=30).run_once()
    [failed] = app.outbox.list(OutboxFilter(OutboxStatus.FAILED), PageRequest()).items
    app.replay(failed.envelope.event_id, actor="admin", reason="broker fixed")
    [record] = [e for e in db.state.audit if e.event_type == "EVENT_REPLAYED"]
    assert (record.actor, record.changes, record.reason) == ("admin", [["status", "FAILED", "PENDING"]],
                                                             "broker fixed")
    assert VerifyAuditLog(uow)()["ok"] is True


# --- hash rule 2 --------------------------------------------------------------------------------


def test_rule_2_hashes_changes_reason_and_its_own_number_and_is_pinned() -> None:
    encoded = canonical(rule2(), GENESIS)
    assert encoded.startswith(b'{"action":"SUPPLIER_CERT_UPDATED","actor":"alice","changes":[["certification_expiry",'
                              b'"2027-06-30","2028-01-31"]],"correlation_id":"corr-42"')
    assert b'"hash_version":2' in encoded and b'"reason":"new certificate received"' in encoded
    # pinned: records are stored with it; a change of rule 2 would break every chain written since 0016
    assert entry_hash(rule2(), GENESIS) == "b60dee4080ec94b776723cbc776bf46675b8ffe98dca1d93da0b0af0fb6d1063"


@pytest.mark.parametrize("change", [
    {"changes": [["certification_expiry", "2027-06-30", "2029-01-31"]]}, {"changes": []}, {"changes": None},
    {"reason": "typo"}, {"reason": None}, {"hash_version": 1},
])
def test_rule_2_covers_changes_and_reason(change) -> None:
    assert entry_hash(dataclasses.replace(rule2(), **change), GENESIS) != entry_hash(rule2(), GENESIS)


def test_link_chains_with_the_current_rule_and_an_unknown_rule_is_refused() -> None:
    [linked] = link([entry(changes=None, reason=None)], recorded=[], head=None)
    assert (linked.hash_version, linked.changes, linked.reason) == (2, [], None)
    with pytest.raises(ValueError, match="unknown audit hash rule"):
        entry_hash(entry(hash_version=3), GENESIS)


@pytest.fixture
def mixed_chain(db) -> list[AuditEntry]:
    """Two rule-1 records (written before migration 0016), then two rule-2 records appended after them."""
    prev, rows = GENESIS, []
    for n in (1, 2):
        old = entry(n)
        old = dataclasses.replace(old, id=n, prev_hash=prev, hash=entry_hash(old, prev))
        rows.append(old)
        prev = old.hash
    db.state.audit.extend(rows)
    new = link([entry(3, changes=[["name", "A", "B"]], reason="renamed"), entry(4, changes=[])],
               recorded=[], head=prev)
    db.state.audit.extend(dataclasses.replace(e, id=n) for n, e in zip((3, 4), new, strict=True))
    return db.state.audit


def test_a_chain_of_rule_1_then_rule_2_records_verifies(mixed_chain, uow) -> None:
    assert [e.hash_version for e in mixed_chain] == [1, 1, 2, 2]
    assert VerifyAuditLog(uow, page_size=3)() == {"ok": True, "records": 4, "head": mixed_chain[-1].hash}


@pytest.mark.parametrize(("index", "forged", "reason"), [
    (2, {"changes": [["name", "A", "C"]]}, "hash mismatch"),  # the changes rewritten
    (2, {"reason": "a better story"}, "hash mismatch"),
    (0, {"reason": "added later"}, "hash mismatch"),  # rule 1 does not hash a reason: a rule-1 record has none
    (1, {"changes": [["x", 1, 2]]}, "hash mismatch"),
    (3, {"hash_version": 1}, "hash mismatch"),  # passed off as a rule-1 record
    (3, {"hash_version": 9}, "unknown hash rule"),
])
def test_a_rewritten_change_or_reason_is_named(mixed_chain, uow, db, index: int, forged: dict, reason: str) -> None:
    record = db.state.audit[index] = dataclasses.replace(mixed_chain[index], **forged)
    assert VerifyAuditLog(uow)() == {"ok": False, "records": index, "broken": {
        "id": record.id, "event_id": str(record.event_id), "reason": reason}}
