"""Idempotent handlers, the dispatcher, the in-process publisher and the event envelope."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from adapters.outbound.inprocess import InProcessPublisher
from application.audit import AuditTrailHandler
from application.dispatch import ALL_EVENTS, EventDispatcher, EventHandler, HandlerFailures, UnhandledEvent
from application.envelope import EventEnvelope, Origin
from application.ports.outbox import OutboxStatus
from application.relay import OutboxRelay, RetryPolicy
from domain.nonconformities import NcClosed, NcCreated
from domain.suppliers import SupplierCertificationUpdated, SupplierCreated

KNOWN_TYPES = [e.event_type for e in (SupplierCreated, SupplierCertificationUpdated, NcCreated, NcClosed)]
OCCURRED = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


def supplier_created(supplier_id: int = 1) -> EventEnvelope:
    event = SupplierCreated(occurred_at=OCCURRED, supplier_id=supplier_id, name="Beta Metals",
                            certification_expiry=date(2027, 6, 30))
    return EventEnvelope.wrap(event, Origin("alice", "corr-42"))


class AlwaysFails(EventHandler):
    name = "always_fails"
    subscribes_to = frozenset({ALL_EVENTS})

    def apply(self, uow, envelope) -> None:
        raise RuntimeError("projection store down")


class FailsOnceOnCreation(EventHandler):
    """A projection that records the order it saw events in; the first SUPPLIER_CREATED fails once."""

    name = "order_sensitive_projection"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, uow, clock) -> None:
        super().__init__(uow, clock)
        self.failed_once = False
        self.applied: list[str] = []

    def apply(self, uow, envelope) -> None:
        if envelope.event_type == "SUPPLIER_CREATED" and not self.failed_once:
            self.failed_once = True
            raise RuntimeError("transient")
        self.applied.append(envelope.event_type)


@pytest.fixture
def audit(uow, clock) -> AuditTrailHandler:
    return AuditTrailHandler(uow, clock)


# --- the audit handler ---------------------------------------------------------------------------


def test_audit_handler_writes_one_row_and_says_false_the_second_time(audit, db, clock):
    envelope = supplier_created()

    assert audit(envelope) is True
    assert audit(envelope) is False

    [entry] = db.state.audit
    assert (entry.event_id, entry.event_type, entry.entity_type, entry.entity_id) == (
        envelope.event_id, "SUPPLIER_CREATED", "supplier", "1")
    assert (entry.actor, entry.correlation_id) == ("alice", "corr-42")
    assert (entry.occurred_at, entry.recorded_at) == (OCCURRED, clock.now())
    assert entry.details == envelope.payload
    assert set(db.state.processed) == {("audit_trail", envelope.event_id)}


def test_audit_handler_skips_an_event_whose_audit_row_already_exists(audit, db):
    """A concurrent delivery wrote the row first: the key check passes, the append refuses."""
    envelope = supplier_created()
    audit(envelope)
    db.state.processed.clear()

    assert audit(envelope) is False
    assert len(db.state.audit) == 1


def test_audit_handler_writes_one_row_per_distinct_event(audit, db):
    audit(supplier_created(1))
    audit(supplier_created(2))
    assert [e.entity_id for e in db.state.audit] == ["1", "2"]


# --- the dispatcher ------------------------------------------------------------------------------


def test_dispatching_the_same_event_twice_leaves_one_audit_row_and_one_key(audit, db):
    dispatcher = EventDispatcher([audit], KNOWN_TYPES)
    envelope = supplier_created()

    dispatcher.dispatch(envelope)
    dispatcher.dispatch(envelope)

    assert len(db.state.audit) == 1
    assert list(db.state.processed) == [("audit_trail", envelope.event_id)]


def test_any_handler_is_applied_once_per_event_whatever_the_number_of_deliveries(db, uow, clock):
    class CountingHandler(EventHandler):
        name = "counting"
        subscribes_to = frozenset({ALL_EVENTS})

        def __init__(self, uow, clock) -> None:
            super().__init__(uow, clock)
            self.applied: list[UUID] = []

        def apply(self, uow, envelope) -> None:
            self.applied.append(envelope.event_id)

    handler = CountingHandler(uow, clock)
    envelope = supplier_created()

    assert [handler(envelope) for _ in range(3)] == [True, False, False]
    assert handler.applied == [envelope.event_id]
    assert set(db.state.processed) == {("counting", envelope.event_id)}


def test_a_failing_handler_does_not_stop_the_audit_handler(audit, db, uow, clock):
    dispatcher = EventDispatcher([AlwaysFails(uow, clock), audit], KNOWN_TYPES)
    envelope = supplier_created()

    with pytest.raises(HandlerFailures) as caught:
        dispatcher.dispatch(envelope)

    assert set(caught.value.failures) == {"always_fails"}
    assert isinstance(caught.value.failures["always_fails"], RuntimeError)
    assert len(db.state.audit) == 1
    assert set(db.state.processed) == {("audit_trail", envelope.event_id)}  # the failed one left no key


def test_redelivery_after_a_handler_failure_retries_it_without_a_second_audit_row(audit, db, uow, clock):
    dispatcher = EventDispatcher([AlwaysFails(uow, clock), audit], KNOWN_TYPES)
    envelope = supplier_created()
    for _ in range(2):
        with pytest.raises(HandlerFailures):
            dispatcher.dispatch(envelope)
    assert len(db.state.audit) == 1


def test_handler_only_receives_the_event_types_it_subscribes_to(db, uow, clock):
    class OnlyNcClosed(AlwaysFails):
        name = "nc_closed_only"
        subscribes_to = frozenset({"NC_CLOSED"})

    EventDispatcher([OnlyNcClosed(uow, clock)], KNOWN_TYPES).dispatch(supplier_created())  # no failure raised
    assert db.state.processed == {}


def test_unknown_event_type_raises_unhandled_event_and_writes_nothing(audit, db):
    envelope = EventEnvelope(uuid4(), "MYSTERY_HAPPENED", "thing", "1", OCCURRED, "alice", "c", {})
    with pytest.raises(UnhandledEvent):
        EventDispatcher([audit], KNOWN_TYPES).dispatch(envelope)
    assert db.state.audit == [] and db.state.processed == {}


# --- relay + in-process publisher (polling mode) -----------------------------------------------


def polling_relay(uow, clock, handlers, max_attempts: int = 3) -> OutboxRelay:
    publisher = InProcessPublisher(EventDispatcher(handlers, KNOWN_TYPES))
    return OutboxRelay(uow, publisher, clock, RetryPolicy(max_attempts=max_attempts, backoff_seconds=1))


def test_polling_mode_audits_every_event_once_with_its_origin(app, origin, audit, uow, clock, db):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    app.raise_nc(1, "high", "weld porosity", origin)
    relay = polling_relay(uow, clock, [audit])

    assert relay.drain().published == 2
    assert relay.drain().claimed == 0

    assert [(e.event_type, e.actor, e.correlation_id) for e in db.state.audit] == [
        ("SUPPLIER_CREATED", "alice", "corr-42"),
        ("NC_CREATED", "alice", "corr-42"),
    ]
    kpi = app.kpi()
    assert (kpi.audit_events_total, kpi.outbox_published, kpi.outbox_pending) == (2, 2, 0)


def test_redelivering_published_events_changes_nothing(app, origin, audit, uow, clock, db, outbox):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    dispatcher = EventDispatcher([audit], KNOWN_TYPES)
    polling_relay(uow, clock, [audit]).drain()

    outcomes = InProcessPublisher(dispatcher).publish([r.envelope for r in outbox()])

    assert outcomes == [None]
    assert len(db.state.audit) == 1


def test_unknown_event_type_ends_failed_through_the_relay(audit, uow, clock, db, outbox, app):
    mystery = EventEnvelope(uuid4(), "MYSTERY_HAPPENED", "thing", "1", OCCURRED, "alice", "c", {})
    with uow() as tx:
        tx.outbox.add(mystery, clock.now())
        tx.commit()
    relay = polling_relay(uow, clock, [audit], max_attempts=3)

    for _ in range(3):
        relay.run_once()
        clock.advance(60)

    [record] = outbox()
    assert (record.status, record.attempts) == (OutboxStatus.FAILED, 3)
    assert record.last_error.startswith("UnhandledEvent: unknown event type 'MYSTERY_HAPPENED'")
    assert db.state.audit == []
    assert app.kpi().outbox_failed == 1


def test_handlers_never_see_an_aggregates_later_event_before_its_failed_earlier_one(app, origin, uow, clock):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    app.update_certification(1, date(2028, 1, 31), origin)
    projection = FailsOnceOnCreation(uow, clock)
    relay = polling_relay(uow, clock, [projection])

    relay.run_once()
    clock.advance(60)
    relay.run_once()

    assert projection.applied == ["SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"]


# --- the envelope --------------------------------------------------------------------------------


def valid_dict() -> dict:
    return supplier_created().to_dict()


def test_envelope_survives_a_json_round_trip():
    envelope = supplier_created()
    restored = EventEnvelope.from_dict(json.loads(json.dumps(envelope.to_dict())))
    assert restored == envelope
    assert isinstance(restored.event_id, UUID)
    assert restored.occurred_at.tzinfo is not None


def test_envelope_dict_uses_plain_strings_for_id_and_time():
    data = valid_dict()
    assert isinstance(data["event_id"], str)
    assert data["occurred_at"] == "2026-01-15T08:30:00+00:00"


@pytest.mark.parametrize(
    "key",
    ["event_id", "event_type", "aggregate_type", "aggregate_id", "occurred_at", "actor", "correlation_id", "payload"],
)
def test_envelope_from_dict_rejects_a_missing_key(key):
    data = valid_dict()
    del data[key]
    with pytest.raises(KeyError):
        EventEnvelope.from_dict(data)


@pytest.mark.parametrize(
    "key, value, error",
    [
        ("occurred_at", "2026-01-15T08:30:00", ValueError),  # naive: no time zone
        ("occurred_at", "yesterday", ValueError),
        ("event_id", "not-a-uuid", ValueError),
        ("payload", ["not", "an", "object"], TypeError),
    ],
)
def test_envelope_from_dict_rejects_malformed_values(key, value, error):
    data = valid_dict()
    data[key] = value
    with pytest.raises(error):
        EventEnvelope.from_dict(data)


def test_envelope_from_dict_rejects_a_numeric_event_id_with_a_documented_error():
    data = valid_dict()
    data["event_id"] = 12345
    with pytest.raises((ValueError, KeyError, TypeError)):
        EventEnvelope.from_dict(data)


# --- batches -------------------------------------------------------------------------------------


class FailsOn(EventHandler):
    """Fails on the events of one supplier."""

    name = "fails_on"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, uow, clock, supplier_id: str) -> None:
        super().__init__(uow, clock)
        self.supplier_id = supplier_id

    def apply(self, uow, envelope) -> None:
        if envelope.aggregate_id == self.supplier_id:
            raise RuntimeError("bad event")


def certification_updated(supplier_id: int) -> EventEnvelope:
    event = SupplierCertificationUpdated(occurred_at=OCCURRED, supplier_id=supplier_id,
                                         previous_expiry=date(2027, 6, 30), certification_expiry=date(2028, 1, 1))
    return EventEnvelope.wrap(event, Origin("bob", "corr-7"))


def test_a_batch_is_one_transaction_per_handler_and_a_bad_event_fails_alone(audit, db, uow, clock):
    failing = FailsOn(uow, clock, supplier_id="2")
    batch = [supplier_created(1), supplier_created(2), certification_updated(1), certification_updated(2)]

    outcomes = EventDispatcher([audit, failing], KNOWN_TYPES).dispatch_batch(batch)

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], HandlerFailures) and set(outcomes[1].failures) == {"fails_on"}
    # the later event of the failed aggregate waits for it: that handler did not attempt it
    assert type(outcomes[3]).__name__ == "NotAttempted"
    applied = [e.event_id for e in batch if ("fails_on", e.event_id) in db.state.processed]
    assert applied == [batch[0].event_id, batch[2].event_id]
    assert [e.event_id for e in db.state.audit] == [e.event_id for e in batch]  # audit is not held back


def test_a_batch_skips_what_a_handler_applied_already_and_refuses_unknown_types(audit, db):
    first = supplier_created(1)
    audit(first)
    unknown = EventEnvelope.from_dict({**supplier_created(3).to_dict(), "event_type": "SUPPLIER_RENAMED"})
    later = certification_updated(3)

    outcomes = EventDispatcher([audit], KNOWN_TYPES).dispatch_batch([first, unknown, later, supplier_created(4)])

    assert outcomes[0] is None and isinstance(outcomes[1], UnhandledEvent)
    assert type(outcomes[2]).__name__ == "NotAttempted" and outcomes[3] is None
    assert [e.entity_id for e in db.state.audit] == ["1", "4"]


class RecordsAnEvent(EventHandler):
    """A process handler that records an event of its own (here: a supplier certification update)."""

    name = "records_an_event"
    subscribes_to = frozenset({"SUPPLIER_CREATED"})

    def apply(self, uow, envelope) -> None:
        supplier = uow.suppliers.get(envelope.payload["supplier_id"])
        supplier.update_certification(date(2029, 1, 1), self.clock.now())


def test_events_recorded_by_a_handler_in_a_batch_carry_the_correlation_of_their_cause(app, uow, clock, db):
    app.create_supplier("Beta Metals", date(2027, 6, 30), Origin("alice", "corr-a"))
    app.create_supplier("Acme", date(2027, 6, 30), Origin("bob", "corr-b"))
    created = [row.record.envelope for row in sorted(db.state.outbox.values(), key=lambda r: r.position)]

    assert EventDispatcher([RecordsAnEvent(uow, clock)], KNOWN_TYPES).dispatch_batch(created) == [None, None]

    caused = [row.record.envelope for row in sorted(db.state.outbox.values(), key=lambda r: r.position)][2:]
    assert [(e.event_type, e.aggregate_id, e.actor, e.correlation_id) for e in caused] == [
        ("SUPPLIER_CERT_UPDATED", "1", "system", "corr-a"), ("SUPPLIER_CERT_UPDATED", "2", "system", "corr-b")]
