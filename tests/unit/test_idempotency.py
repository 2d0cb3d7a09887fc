"""Applying events once: ApplyEvents, the handlers, the in-process publisher and the event envelope."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.outbound.inprocess import InProcessPublisher
from application.audit import AuditTrailHandler
from application.catalog import REGISTRY
from application.dispatch import ALL_EVENTS, ApplyEvents, Delivery, EventHandler, HandlerFailures, UnhandledEvent
from application.envelope import EventEnvelope, Origin
from application.ports.outbox import OutboxStatus
from application.ports.publisher import NotAttempted
from application.ports.unit_of_work import StoreUnavailable
from application.relay import LocalDelivery, OutboxRelay, RetryPolicy
from domain.nonconformities import NcClosed
from domain.suppliers import SupplierCertificationUpdated, SupplierCreated

OCCURRED = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)


def supplier_created(supplier_id: int = 1) -> EventEnvelope:
    event = SupplierCreated(occurred_at=OCCURRED, supplier_id=supplier_id, name="Beta Metals",
                            certification_expiry=date(2027, 6, 30))
    return EventEnvelope.wrap(event, Origin("alice", "corr-42"))


def certification_updated(supplier_id: int) -> EventEnvelope:
    event = SupplierCertificationUpdated(occurred_at=OCCURRED, supplier_id=supplier_id,
                                         previous_expiry=date(2027, 6, 30), certification_expiry=date(2028, 1, 1))
    return EventEnvelope.wrap(event, Origin("bob", "corr-7"))


class AlwaysFails(EventHandler):
    name = "always_fails"
    subscribes_to = frozenset({ALL_EVENTS})

    def apply(self, uow, delivery) -> None:
        raise RuntimeError("projection store down")


class Counting(EventHandler):
    """Records every delivery it was handed, in order."""

    name = "counting"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.applied: list[Delivery] = []

    def apply(self, uow, delivery) -> None:
        self.applied.append(delivery)

    @property
    def ids(self) -> list[UUID]:
        return [d.envelope.event_id for d in self.applied]


class FailsOnCreation(EventHandler):
    """A projection that records the order it saw events in; SUPPLIER_CREATED fails the first `times` times
    (a failing batch is tried once whole, then event by event: 2 fails one delivery)."""

    name = "order_sensitive_projection"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock, times: int = 2) -> None:
        super().__init__(clock)
        self.failures_left = times
        self.applied: list[str] = []

    def apply(self, uow, delivery) -> None:
        if delivery.envelope.event_type == "SUPPLIER_CREATED" and self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("transient")
        self.applied.append(delivery.envelope.event_type)


class FailsOn(EventHandler):
    """Fails on the events of one supplier."""

    name = "fails_on"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock, supplier_id: str) -> None:
        super().__init__(clock)
        self.supplier_id = supplier_id

    def apply(self, uow, delivery) -> None:
        if delivery.envelope.aggregate_id == self.supplier_id:
            raise RuntimeError("bad event")


@pytest.fixture
def audit(clock) -> AuditTrailHandler:
    return AuditTrailHandler(clock)


@pytest.fixture
def deliver(uow, clock):
    """Apply envelopes to handlers in one committed transaction (what a re-delivery does)."""

    def run(handlers, envelopes) -> list[Exception | None]:
        return InProcessPublisher(ApplyEvents(REGISTRY.events, handlers, clock), uow).publish(envelopes)

    return run


# --- the audit handler ---------------------------------------------------------------------------


def test_audit_handler_writes_one_row_and_nothing_the_second_time(audit, deliver, db, clock):
    envelope = supplier_created()

    assert deliver([audit], [envelope]) == [None]
    assert deliver([audit], [envelope]) == [None]

    [entry] = db.state.audit
    assert (entry.event_id, entry.event_type, entry.entity_type, entry.entity_id) == (
        envelope.event_id, "SUPPLIER_CREATED", "supplier", "1")
    assert (entry.actor, entry.correlation_id) == ("alice", "corr-42")
    assert (entry.occurred_at, entry.recorded_at) == (OCCURRED, clock.now())
    assert entry.details == envelope.payload
    assert set(db.state.processed) == {("audit_trail", envelope.event_id)}


def test_audit_handler_skips_an_event_whose_audit_row_already_exists(audit, deliver, db):
    """A concurrent delivery wrote the row first: the key check passes, the append refuses."""
    envelope = supplier_created()
    deliver([audit], [envelope])
    db.state.processed.clear()

    assert deliver([audit], [envelope]) == [None]
    assert len(db.state.audit) == 1


def test_audit_handler_writes_one_row_per_distinct_event(audit, deliver, db):
    deliver([audit], [supplier_created(1)])
    deliver([audit], [supplier_created(2)])
    assert [e.entity_id for e in db.state.audit] == ["1", "2"]


# --- ApplyEvents: once -----------------------------------------------------------------------------


def test_applying_the_same_event_twice_leaves_one_audit_row_and_one_key(audit, deliver, db):
    envelope = supplier_created()

    deliver([audit], [envelope])
    deliver([audit], [envelope])

    assert len(db.state.audit) == 1
    assert list(db.state.processed) == [("audit_trail", envelope.event_id)]


def test_any_handler_is_applied_once_per_event_whatever_the_number_of_deliveries(deliver, db, clock):
    handler = Counting(clock)
    envelope = supplier_created()

    assert [deliver([handler], [envelope]) for _ in range(3)] == [[None]] * 3
    assert handler.ids == [envelope.event_id]
    assert set(db.state.processed) == {("counting", envelope.event_id)}


def test_a_batch_is_applied_once_and_a_second_call_writes_nothing(audit, deliver, db, clock):
    counting = Counting(clock)
    batch = [supplier_created(1), supplier_created(2), certification_updated(1)]

    assert deliver([audit, counting], batch) == [None, None, None]
    audit_rows, keys = list(db.state.audit), dict(db.state.processed)
    assert len(audit_rows) == 3 and len(keys) == 6

    assert deliver([audit, counting], batch) == [None, None, None]
    assert db.state.audit == audit_rows and db.state.processed == keys  # no new rows, no new keys
    assert counting.ids == [e.event_id for e in batch]  # each event handed to the handler once


def test_apply_events_works_in_the_callers_transaction_and_commits_nothing_itself(audit, uow, db, clock):
    apply = ApplyEvents(REGISTRY.events, [audit], clock)
    with uow() as tx:
        assert apply(tx, [supplier_created()]) == [None]
    # the caller did not commit: nothing happened
    assert db.state.audit == [] and db.state.processed == {}


def test_an_event_twice_in_one_batch_is_applied_once(deliver, db, clock):
    handler = Counting(clock)
    envelope = supplier_created()

    assert deliver([handler], [envelope, envelope]) == [None, None]

    assert handler.ids == [envelope.event_id]


def test_handlers_are_handed_the_typed_event_and_its_envelope(deliver, clock):
    handler = Counting(clock)
    envelope = supplier_created(7)

    deliver([handler], [envelope])

    [delivery] = handler.applied
    assert delivery.envelope == envelope
    assert delivery.event == SupplierCreated(occurred_at=OCCURRED, event_id=envelope.event_id, supplier_id=7,
                                             name="Beta Metals", certification_expiry=date(2027, 6, 30))
    assert isinstance(delivery.event.certification_expiry, date)


def test_handler_only_receives_the_event_types_it_subscribes_to(deliver, db):
    class OnlyNcClosed(AlwaysFails):
        name = "nc_closed_only"
        subscribes_to = frozenset({NcClosed})

    assert deliver([OnlyNcClosed(None)], [supplier_created()]) == [None]  # no failure
    assert db.state.processed == {}


# --- ApplyEvents: failures -------------------------------------------------------------------------


def test_a_failing_handler_does_not_stop_the_audit_handler(audit, deliver, db, clock):
    envelope = supplier_created()

    [outcome] = deliver([AlwaysFails(clock), audit], [envelope])

    assert isinstance(outcome, HandlerFailures)
    assert set(outcome.failures) == {"always_fails"}
    assert isinstance(outcome.failures["always_fails"], RuntimeError)
    assert "always_fails: RuntimeError: projection store down" in str(outcome)
    assert len(db.state.audit) == 1
    assert set(db.state.processed) == {("audit_trail", envelope.event_id)}  # the failed one left no key


def test_redelivery_after_a_handler_failure_retries_it_without_a_second_audit_row(audit, deliver, db, clock):
    envelope = supplier_created()
    failing = FailsOnCreation(clock, times=1)  # a re-delivery takes the event isolated: one failure each
    assert isinstance(deliver([failing, audit], [envelope])[0], HandlerFailures)
    assert isinstance(deliver([AlwaysFails(clock), audit], [envelope])[0], HandlerFailures)

    assert deliver([failing, audit], [envelope]) == [None]  # retried: the failed handler alone applies it

    assert failing.applied == ["SUPPLIER_CREATED"]
    assert len(db.state.audit) == 1
    assert set(db.state.processed) == {("audit_trail", envelope.event_id), (failing.name, envelope.event_id)}


def test_a_failing_handler_fails_only_its_event_and_holds_back_the_rest_of_its_aggregate(audit, deliver, db, clock):
    failing = FailsOn(clock, supplier_id="2")
    batch = [supplier_created(1), supplier_created(2), certification_updated(1), certification_updated(2),
             supplier_created(3)]

    outcomes = deliver([audit, failing], batch)

    assert [outcomes[i] for i in (0, 2, 4)] == [None, None, None]  # the other aggregates are applied
    assert isinstance(outcomes[1], HandlerFailures) and set(outcomes[1].failures) == {"fails_on"}
    # the later event of the failed aggregate waits for it: no handler attempted it
    assert isinstance(outcomes[3], NotAttempted)
    applied = {handler: [e.event_id for e in batch if (handler, e.event_id) in db.state.processed]
               for handler in ("audit_trail", "fails_on")}
    assert applied["fails_on"] == [batch[i].event_id for i in (0, 2, 4)]
    # the other handler keeps its effects for the failed event; nobody applied the held-back one
    assert applied["audit_trail"] == [batch[i].event_id for i in (0, 1, 2, 4)]
    assert [e.event_id for e in db.state.audit] == applied["audit_trail"]


class UpdatesThenFails(EventHandler):
    """Changes an aggregate (which records an event), then fails: its savepoint must undo both."""

    name = "updates_then_fails"
    subscribes_to = frozenset({SupplierCreated})

    def apply(self, uow, delivery) -> None:
        uow.suppliers.get(delivery.event.supplier_id).update_certification(date(2029, 1, 1), self.clock.now())
        raise RuntimeError("half done")


def test_a_failed_handler_leaves_neither_its_writes_nor_the_events_it_recorded(app, origin, deliver, audit, db,
                                                                              outbox, clock):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    [created] = [r.envelope for r in outbox()]

    [outcome] = deliver([UpdatesThenFails(clock), audit], [created])

    assert set(outcome.failures) == {"updates_then_fails"}
    assert db.state.suppliers[1].certification_expiry == date(2027, 6, 30)
    assert [r.envelope.event_type for r in outbox()] == ["SUPPLIER_CREATED"]
    assert len(db.state.audit) == 1


def test_a_store_outage_in_a_handler_is_raised_to_the_caller(audit, uow, db, clock):
    class StoreAway(EventHandler):
        name = "store_away"
        subscribes_to = frozenset({ALL_EVENTS})

        def apply(self, uow, delivery) -> None:
            raise StoreUnavailable("database unavailable")

    apply = ApplyEvents(REGISTRY.events, [audit, StoreAway(clock)], clock)
    with uow() as tx, pytest.raises(StoreUnavailable):
        apply(tx, [supplier_created(1), supplier_created(2)])


def test_unknown_event_type_is_unhandled_and_writes_nothing(audit, deliver, db):
    envelope = EventEnvelope(uuid4(), "MYSTERY_HAPPENED", "thing", "1", OCCURRED, "alice", "c", {})
    [outcome] = deliver([audit], [envelope])
    assert isinstance(outcome, UnhandledEvent) and "unknown event type 'MYSTERY_HAPPENED'" in str(outcome)
    assert db.state.audit == [] and db.state.processed == {}


@pytest.mark.parametrize("payload", [
    {"name": "Beta Metals", "certification_expiry": "2027-06-30"},  # a field is missing
    {"supplier_id": "1", "name": "Beta Metals", "certification_expiry": "2027-06-30"},  # wrong type
    {"supplier_id": 1, "name": "Beta Metals", "certification_expiry": "30/06/2027"},  # not a date
])
def test_a_payload_that_does_not_fit_its_class_is_unhandled_and_blocks_its_aggregate(payload, audit, deliver, db):
    bad = EventEnvelope.from_dict({**supplier_created(1).to_dict(), "payload": payload})
    later, other = certification_updated(1), supplier_created(2)

    outcomes = deliver([audit], [bad, later, other])

    assert isinstance(outcomes[0], UnhandledEvent) and "payload does not fit SUPPLIER_CREATED" in str(outcomes[0])
    assert isinstance(outcomes[1], NotAttempted) and outcomes[2] is None
    assert [e.entity_id for e in db.state.audit] == ["2"]
    assert set(db.state.processed) == {("audit_trail", other.event_id)}


def test_a_batch_skips_what_a_handler_applied_already_and_refuses_unknown_types(audit, deliver, db):
    first = supplier_created(1)
    deliver([audit], [first])
    unknown = EventEnvelope.from_dict({**supplier_created(3).to_dict(), "event_type": "SUPPLIER_RENAMED"})
    later = certification_updated(3)

    outcomes = deliver([audit], [first, unknown, later, supplier_created(4)])

    assert outcomes[0] is None and isinstance(outcomes[1], UnhandledEvent)
    assert isinstance(outcomes[2], NotAttempted) and outcomes[3] is None
    assert [e.entity_id for e in db.state.audit] == ["1", "4"]


class RecordsAnEvent(EventHandler):
    """A process handler that records an event of its own (here: a supplier certification update)."""

    name = "records_an_event"
    subscribes_to = frozenset({SupplierCreated})

    def apply(self, uow, delivery) -> None:
        supplier = uow.suppliers.get(delivery.event.supplier_id)
        supplier.update_certification(date(2029, 1, 1), self.clock.now())


def test_events_recorded_by_a_handler_in_a_batch_carry_the_correlation_of_their_cause(app, deliver, clock, db):
    app.create_supplier("Beta Metals", date(2027, 6, 30), Origin("alice", "corr-a"))
    app.create_supplier("Acme", date(2027, 6, 30), Origin("bob", "corr-b"))
    created = [row.record.envelope for row in sorted(db.state.outbox.values(), key=lambda r: r.position)]

    assert deliver([RecordsAnEvent(clock)], created) == [None, None]

    caused = [row.record.envelope for row in sorted(db.state.outbox.values(), key=lambda r: r.position)][2:]
    assert [(e.event_type, e.aggregate_id, e.actor, e.correlation_id) for e in caused] == [
        ("SUPPLIER_CERT_UPDATED", "1", "system", "corr-a"), ("SUPPLIER_CERT_UPDATED", "2", "system", "corr-b")]


# --- polling mode: the relay applies its batch in its claim transaction ---------------------------


def polling_relay(uow, clock, handlers, max_attempts: int = 3) -> LocalDelivery:
    apply = ApplyEvents(REGISTRY.events, handlers, clock)
    return LocalDelivery(uow, apply, clock, RetryPolicy(max_attempts=max_attempts, backoff_seconds=1))


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


def test_redelivering_published_events_changes_nothing(app, origin, audit, uow, clock, db, outbox, deliver):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    polling_relay(uow, clock, [audit]).drain()

    assert deliver([audit], [r.envelope for r in outbox()]) == [None]
    assert len(db.state.audit) == 1


def test_the_in_process_publisher_behind_the_leasing_relay_handles_on_publish(app, origin, audit, uow, clock, db,
                                                                            outbox):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    publisher = InProcessPublisher(ApplyEvents(REGISTRY.events, [audit], clock), uow)

    assert OutboxRelay(uow, publisher, clock, RetryPolicy()).drain().published == 1

    [record] = outbox()
    assert (record.status, record.handled_by, record.handled_at) == (OutboxStatus.PUBLISHED, "in-process",
                                                                    clock.now())
    assert len(db.state.audit) == 1


def test_unknown_event_type_ends_failed_through_the_relay(audit, uow, clock, db, outbox, app):
    mystery = EventEnvelope(uuid4(), "MYSTERY_HAPPENED", "thing", "1", OCCURRED, "alice", "c", {})
    with uow() as tx:
        tx.outbox.add([mystery], clock.now())
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


def test_a_failure_that_passes_when_retried_alone_costs_no_attempt(app, origin, uow, clock, outbox):
    """The batch fails whole, then is applied event by event: a transient failure is gone by then."""
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    app.update_certification(1, date(2028, 1, 31), origin)
    projection = FailsOnCreation(clock, times=1)

    report = polling_relay(uow, clock, [projection]).run_once()

    assert (report.published, report.retried) == (2, 0)
    assert projection.applied == ["SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"]
    assert [r.attempts for r in outbox()] == [0, 0]


def test_handlers_never_see_an_aggregates_later_event_before_its_failed_earlier_one(app, origin, uow, clock):
    app.create_supplier("Beta Metals", date(2027, 6, 30), origin)
    app.update_certification(1, date(2028, 1, 31), origin)
    projection = FailsOnCreation(clock)
    relay = polling_relay(uow, clock, [projection])

    report = relay.run_once()
    assert (report.retried, report.deferred) == (1, 1)
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



# --- the processed-event store ---------------------------------------------------------------------


def test_record_new_returns_only_the_keys_not_recorded_yet(uow, db, clock):
    a, b, c = uuid4(), uuid4(), uuid4()
    with uow() as tx:
        assert tx.processed.record_new([("h", a), ("h", b)], clock.now()) == {("h", a), ("h", b)}
        tx.commit()
    clock.advance(5)
    with uow() as tx:
        assert tx.processed.record_new([("h", a), ("g", a), ("h", c), ("h", b)], clock.now()) == {("g", a), ("h", c)}
        assert tx.processed.record_new([], clock.now()) == set()
        tx.commit()
    assert db.state.processed[("h", a)] == db.state.processed[("h", b)] == clock.now() - timedelta(seconds=5)
    assert set(db.state.processed) == {("h", a), ("h", b), ("g", a), ("h", c)}


def test_keys_recorded_in_a_transaction_that_does_not_commit_are_not_kept(uow, db, clock):
    key = ("h", uuid4())
    with uow() as tx:
        tx.processed.record_new([key], clock.now())
    with uow() as tx:
        assert tx.processed.record_new([key], clock.now()) == {key}
