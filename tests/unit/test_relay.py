"""The relays: retries with backoff, FAILED after the maximum, replay, ordering, leases (OutboxRelay),
and polling mode's one transaction per batch (LocalDelivery)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from uuid import uuid4

import pytest

from application.audit import AuditTrailHandler
from application.catalog import REGISTRY
from application.dispatch import ALL_EVENTS, ApplyEvents, EventHandler
from application.envelope import EventEnvelope
from application.pagination import PageRequest
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.ports.publisher import EventPublisher
from application.ports.unit_of_work import StoreUnavailable
from application.relay import LocalDelivery, OutboxRelay, RetryPolicy
from domain.errors import Conflict, NotFound

FUTURE = date(2027, 6, 30)
LEASE = 60.0


class FlakyPublisher(EventPublisher):
    """Fails each selected event `times` times, then delivers it; keeps what it delivered, in order."""

    def __init__(self, times: int = 0, selected: Callable[[EventEnvelope], bool] = lambda envelope: True) -> None:
        self.times, self.selected = times, selected
        self.failures: dict = {}
        self.delivered: list[EventEnvelope] = []

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        outcomes: list[Exception | None] = []
        for envelope in envelopes:
            failed = self.failures.get(envelope.event_id, 0)
            if self.selected(envelope) and failed < self.times:
                self.failures[envelope.event_id] = failed + 1
                outcomes.append(ConnectionError("broker down"))
            else:
                self.delivered.append(envelope)
                outcomes.append(None)
        return outcomes


class UnreachablePublisher(EventPublisher):
    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        raise RuntimeError("broker unreachable")


@pytest.fixture
def make_relay(uow, clock):
    def make(publisher: EventPublisher, max_attempts: int = 5, backoff_seconds: float = 10.0) -> OutboxRelay:
        return OutboxRelay(uow, publisher, clock, RetryPolicy(max_attempts, backoff_seconds), lease_seconds=LEASE)

    return make


def only_record(outbox):
    [record] = outbox()
    return record


# --- success -------------------------------------------------------------------------------------


def test_relay_publishes_pending_events_in_order_and_marks_them_published(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    app.raise_nc(1, "high", "cracks", origin)
    publisher = FlakyPublisher()

    report = make_relay(publisher).run_once()

    assert (report.claimed, report.published, report.retried, report.failed) == (2, 2, 0, 0)
    assert [e.event_type for e in publisher.delivered] == ["SUPPLIER_CREATED", "NC_CREATED"]
    assert [(r.status, r.published_at) for r in outbox()] == [(OutboxStatus.PUBLISHED, clock.now())] * 2
    assert make_relay(publisher).run_once().claimed == 0


# --- retries and backoff -------------------------------------------------------------------------


def test_failed_delivery_counts_an_attempt_and_stores_the_error(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)

    report = make_relay(FlakyPublisher(times=1), backoff_seconds=10).run_once()

    record = only_record(outbox)
    assert (report.retried, report.published) == (1, 0)
    assert report.errors == ["ConnectionError: broker down"]
    assert (record.status, record.attempts) == (OutboxStatus.PENDING, 1)
    assert record.last_error == "ConnectionError: broker down"
    assert record.next_attempt_at == clock.now() + timedelta(seconds=10)


def test_failed_event_is_not_retried_before_it_is_due(app, origin, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    publisher = FlakyPublisher(times=1)
    relay = make_relay(publisher, backoff_seconds=10)
    relay.run_once()

    clock.advance(9.9)
    assert relay.run_once().claimed == 0

    clock.advance(0.1)
    assert relay.run_once().published == 1
    assert len(publisher.delivered) == 1


def test_retry_delays_double_after_each_failure(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    relay = make_relay(FlakyPublisher(times=4), max_attempts=10, backoff_seconds=10)

    delays = []
    for attempt in range(1, 5):
        failed_at = clock.now()
        assert relay.run_once().retried == 1
        record = only_record(outbox)
        assert record.attempts == attempt
        delays.append((record.next_attempt_at - failed_at).total_seconds())
        clock.current = record.next_attempt_at

    assert delays == [10, 20, 40, 80]
    assert relay.run_once().published == 1
    assert only_record(outbox).status is OutboxStatus.PUBLISHED


def test_retry_delay_is_capped():
    policy = RetryPolicy(max_attempts=20, backoff_seconds=1, max_backoff_seconds=30)
    assert [policy.delay(n).total_seconds() for n in (1, 2, 5, 6, 15)] == [1, 2, 16, 30, 30]


def test_event_becomes_failed_after_max_attempts_and_is_counted_in_kpi(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    relay = make_relay(FlakyPublisher(times=99), max_attempts=3, backoff_seconds=1)

    reports = []
    for _ in range(3):
        reports.append(relay.run_once())
        clock.advance(3600)

    record = only_record(outbox)
    assert [(r.retried, r.failed) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    assert (record.status, record.attempts) == (OutboxStatus.FAILED, 3)
    assert record.last_error == "ConnectionError: broker down"
    kpi = app.kpi()
    assert (kpi.outbox_failed, kpi.outbox_pending, kpi.outbox_published) == (1, 0, 0)
    assert relay.run_once().claimed == 0  # FAILED is never retried on its own


# --- admin replay --------------------------------------------------------------------------------


def fail_permanently(app, origin, make_relay, clock) -> EventEnvelope:
    app.create_supplier("A", FUTURE, origin)
    relay = make_relay(FlakyPublisher(times=99), max_attempts=2, backoff_seconds=1)
    relay.run_once()
    clock.advance(10)
    relay.run_once()
    return app.outbox.list(OutboxFilter(OutboxStatus.FAILED), PageRequest()).items[0].envelope


def test_replay_puts_a_failed_event_back_to_pending_and_it_is_then_published(app, origin, outbox, make_relay, clock):
    envelope = fail_permanently(app, origin, make_relay, clock)
    clock.advance(100)

    replayed = app.replay(envelope.event_id, actor="admin", reason="fixed")

    record = only_record(outbox)
    assert (replayed.before, replayed.after) == ("FAILED", "PENDING")
    assert (record.status, record.attempts, record.next_attempt_at) == (OutboxStatus.PENDING, 0, clock.now())
    assert app.kpi().outbox_failed == 0
    publisher = FlakyPublisher()
    assert make_relay(publisher).run_once().published == 1
    assert [e.event_id for e in publisher.delivered] == [envelope.event_id]
    assert only_record(outbox).status is OutboxStatus.PUBLISHED


def test_replayed_event_gets_the_full_number_of_attempts_again(app, origin, outbox, make_relay, clock):
    envelope = fail_permanently(app, origin, make_relay, clock)
    app.replay(envelope.event_id, actor="admin", reason="fixed")

    make_relay(FlakyPublisher(times=99), max_attempts=2).run_once()

    assert (only_record(outbox).status, only_record(outbox).attempts) == (OutboxStatus.PENDING, 1)


def test_replaying_a_pending_event_is_a_conflict(app, origin, outbox):
    app.create_supplier("A", FUTURE, origin)
    with pytest.raises(Conflict):
        app.replay(only_record(outbox).envelope.event_id, actor="admin", reason="fixed")
    assert only_record(outbox).status is OutboxStatus.PENDING


def test_replaying_a_published_event_is_a_conflict(app, origin, outbox, make_relay):
    app.create_supplier("A", FUTURE, origin)
    make_relay(FlakyPublisher()).run_once()
    with pytest.raises(Conflict):
        app.replay(only_record(outbox).envelope.event_id, actor="admin", reason="fixed")
    assert only_record(outbox).status is OutboxStatus.PUBLISHED


def test_replaying_an_unknown_event_is_not_found(app):
    with pytest.raises(NotFound):
        app.replay(uuid4(), actor="admin", reason="fixed")


# --- per-aggregate ordering ----------------------------------------------------------------------


def test_later_event_of_an_aggregate_waits_for_the_failed_earlier_one(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)  # supplier 1: SUPPLIER_CREATED
    app.create_supplier("B", FUTURE, origin)  # supplier 2: SUPPLIER_CREATED
    app.update_certification(1, date(2028, 1, 1), origin)  # supplier 1: SUPPLIER_CERT_UPDATED
    first_of_1 = outbox()[0].envelope
    publisher = FlakyPublisher(times=1, selected=lambda e: e.event_id == first_of_1.event_id)
    relay = make_relay(publisher, backoff_seconds=10)

    report = relay.run_once()

    assert (report.claimed, report.published, report.retried, report.deferred) == (3, 1, 1, 1)
    created_1, created_2, updated_1 = outbox()
    assert (created_1.status, created_1.attempts) == (OutboxStatus.PENDING, 1)
    assert created_2.status is OutboxStatus.PUBLISHED
    assert (updated_1.status, updated_1.attempts, updated_1.last_error) == (OutboxStatus.PENDING, 0, None)

    clock.advance(5)  # the deferred event is due, but its aggregate's first event is not
    assert relay.run_once().claimed == 0

    clock.advance(5)
    assert relay.run_once().published == 2
    assert [e.event_id for e in publisher.delivered[-2:]] == [created_1.envelope.event_id, updated_1.envelope.event_id]
    assert {r.status for r in outbox()} == {OutboxStatus.PUBLISHED}


def test_publisher_failing_the_whole_batch_records_the_error_on_every_event(app, origin, outbox, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", FUTURE, origin)

    report = make_relay(UnreachablePublisher(), backoff_seconds=10).run_once()

    assert (report.claimed, report.retried) == (2, 2)
    assert [(r.status, r.attempts, r.last_error) for r in outbox()] == [
        (OutboxStatus.PENDING, 1, "RuntimeError: broker unreachable")
    ] * 2
    assert all(r.next_attempt_at == clock.now() + timedelta(seconds=10) for r in outbox())


# --- leases --------------------------------------------------------------------------------------


def claim(uow, at, lease_seconds: float = LEASE):
    with uow() as tx:
        claimed = tx.outbox.claim(10, at, at + timedelta(seconds=lease_seconds)).records
        tx.commit()
    return [r.envelope.event_id for r in claimed]


def test_leased_event_is_not_claimed_again_before_the_lease_expires(app, origin, uow, clock):
    app.create_supplier("A", FUTURE, origin)
    start = clock.now()

    first = claim(uow, start)

    assert len(first) == 1
    assert claim(uow, start) == []
    assert claim(uow, start + timedelta(seconds=LEASE - 1)) == []
    assert claim(uow, start + timedelta(seconds=LEASE)) == first


def test_lease_holds_back_later_events_of_the_same_aggregate_only(app, origin, uow, outbox, clock):
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", FUTURE, origin)
    app.update_certification(1, date(2028, 1, 1), origin)
    created_1, created_2, updated_1 = (r.envelope.event_id for r in outbox())

    with uow() as tx:  # a relay leases supplier 1's first event only
        tx.outbox.claim(1, clock.now(), clock.now() + timedelta(seconds=LEASE))
        tx.commit()

    assert claim(uow, clock.now()) == [created_2]
    assert claim(uow, clock.now() + timedelta(seconds=LEASE)) == [created_1, created_2, updated_1]


def test_event_of_a_relay_that_died_is_published_after_its_lease(app, origin, outbox, uow, make_relay, clock):
    app.create_supplier("A", FUTURE, origin)
    claim(uow, clock.now())  # claimed by a relay that never reported back
    relay = make_relay(FlakyPublisher())

    assert relay.run_once().claimed == 0
    clock.advance(LEASE)
    assert relay.run_once().published == 1
    assert only_record(outbox).attempts == 0


def test_held_back_events_of_one_aggregate_do_not_starve_other_aggregates(app, origin, uow, outbox, clock):
    app.create_supplier("A", FUTURE, origin)  # supplier 1, first event: will wait for its retry
    app.update_certification(1, date(2028, 1, 1), origin)  # held back behind it
    app.update_certification(1, date(2029, 1, 1), origin)  # held back behind it
    app.create_supplier("B", FUTURE, origin)  # supplier 2: independent, due
    first, *_, other = outbox()
    with uow() as tx:
        tx.outbox.record_failure(first, 1, "ConnectionError: broker down",
                                 OutboxStatus.PENDING, clock.now() + timedelta(seconds=300), clock.now())
        tx.commit()

    with uow() as tx:
        claimed = tx.outbox.claim(2, clock.now(), clock.now() + timedelta(seconds=LEASE)).records
        tx.commit()

    assert [r.envelope.event_id for r in claimed] == [other.envelope.event_id]


# --- polling mode: LocalDelivery, one transaction per batch ----------------------------------------


class Recording(EventHandler):
    name = "recording"
    subscribes_to = frozenset({ALL_EVENTS})

    def __init__(self, clock, fails_on: str | None = None) -> None:
        super().__init__(clock)
        self.fails_on = fails_on
        self.seen: list[str] = []

    def apply(self, uow, delivery) -> None:
        if delivery.envelope.aggregate_id == self.fails_on:
            raise RuntimeError("bad event")
        self.seen.append(delivery.envelope.event_type)


class StoreGoesAway(EventHandler):
    """The database stops answering while the handlers work on the batch."""

    name = "store_goes_away"
    subscribes_to = frozenset({ALL_EVENTS})

    def apply(self, uow, delivery) -> None:
        raise StoreUnavailable("database unavailable: connection reset")


@pytest.fixture
def local(uow, clock):
    def make(*handlers, max_attempts: int = 5, backoff_seconds: float = 10.0, batch_size: int = 100):
        apply = ApplyEvents(REGISTRY.events, handlers, clock)
        return LocalDelivery(uow, apply, clock, RetryPolicy(max_attempts, backoff_seconds), batch_size=batch_size)

    return make


def three_events(app, origin) -> None:
    app.create_supplier("A", FUTURE, origin)
    app.create_supplier("B", FUTURE, origin)
    app.update_certification(1, date(2028, 1, 1), origin)


def test_local_delivery_handles_a_batch_and_archives_it_as_handled_in_process(app, origin, local, outbox, clock, db):
    three_events(app, origin)
    audit, recording = AuditTrailHandler(clock), Recording(clock)

    report = local(audit, recording).run_once()

    assert (report.claimed, report.published, report.retried, report.deferred) == (3, 3, 0, 0)
    assert recording.seen == ["SUPPLIER_CREATED", "SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"]
    assert len(db.state.audit) == 3 and len(db.state.processed) == 6
    assert [(r.status, r.published_at, r.handled_at, r.handled_by) for r in outbox()] == [
        (OutboxStatus.PUBLISHED, clock.now(), clock.now(), "in-process")] * 3


def test_handled_events_leave_the_hot_outbox_but_are_still_read(app, origin, local, uow, outbox, clock):
    three_events(app, origin)
    local(AuditTrailHandler(clock)).drain()
    ids = [r.envelope.event_id for r in outbox()]

    with uow() as tx:
        assert tx.outbox.claim(100, clock.now() + timedelta(days=1)).records == []  # nothing left to deliver
        assert tx.outbox.unhandled(clock.now() + timedelta(days=1), 100) == []  # nothing to re-drive
        records = [tx.outbox.get(event_id) for event_id in ids]
        published = tx.outbox.list(OutboxFilter(OutboxStatus.PUBLISHED), PageRequest(limit=100)).items
        counts = tx.outbox.count_by_status()
    assert [(r.status, r.handled_by) for r in records] == [(OutboxStatus.PUBLISHED, "in-process")] * 3
    assert all(r.handled_at == clock.now() for r in records)
    assert [r.envelope.event_id for r in published] == ids
    assert counts == {**dict.fromkeys(OutboxStatus, 0), OutboxStatus.PUBLISHED: 3}
    assert app.kpi().events_unhandled == 0


def test_local_delivery_is_one_transaction_a_store_outage_leaves_nothing_written(app, origin, local, outbox, db,
                                                                                 clock):
    three_events(app, origin)
    relay = local(AuditTrailHandler(clock), StoreGoesAway(clock))

    report = relay.run_once()

    assert (report.claimed, report.unavailable, report.published, report.retried) == (3, 3, 0, 0)
    assert db.state.processed == {} and db.state.audit == []  # the audit handler's part is gone too
    assert [(r.status, r.attempts, r.last_error) for r in outbox()] == [(OutboxStatus.PENDING, 0, None)] * 3
    assert relay.drain().unavailable == 3  # drain stops at the outage instead of spinning
    assert local(AuditTrailHandler(clock)).drain().published == 3  # the store is back: delivered once
    assert len(db.state.audit) == 3


def test_a_crash_while_settling_rolls_the_whole_batch_back(app, origin, uow, outbox, db, clock):
    class CrashingPolicy(RetryPolicy):
        def record_failure(self, *args, **kwargs):
            raise RuntimeError("worker killed")

    three_events(app, origin)
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), Recording(clock, fails_on="2")], clock)

    with pytest.raises(RuntimeError, match="worker killed"):
        LocalDelivery(uow, apply, clock, CrashingPolicy()).run_once()

    assert db.state.processed == {} and db.state.audit == []
    assert [(r.status, r.attempts) for r in outbox()] == [(OutboxStatus.PENDING, 0)] * 3


def test_local_delivery_counts_a_failure_and_defers_the_rest_of_its_aggregate(app, origin, local, outbox, clock, db):
    three_events(app, origin)  # supplier 1 created, supplier 2 created, supplier 1 updated
    relay = local(AuditTrailHandler(clock), Recording(clock, fails_on="1"), backoff_seconds=10)

    report = relay.run_once()

    assert (report.claimed, report.published, report.retried, report.deferred) == (3, 1, 1, 1)
    assert report.errors == ["HandlerFailures: recording: RuntimeError: bad event"]
    created_1, created_2, updated_1 = outbox()
    assert (created_1.status, created_1.attempts, created_1.next_attempt_at) == (
        OutboxStatus.PENDING, 1, clock.now() + timedelta(seconds=10))
    assert created_1.last_error == "HandlerFailures: recording: RuntimeError: bad event"
    assert (created_2.status, created_2.handled_by) == (OutboxStatus.PUBLISHED, "in-process")
    assert (updated_1.status, updated_1.attempts, updated_1.last_error) == (OutboxStatus.PENDING, 0, None)
    # the audit handler kept its part of the failed event: its key says so, it is not applied twice
    assert {e.entity_id for e in db.state.audit} == {"1", "2"} and len(db.state.audit) == 2


def test_local_delivery_parks_the_later_events_of_a_failed_event_until_its_replay(app, origin, local, outbox, clock):
    three_events(app, origin)
    recording = Recording(clock, fails_on="1")
    relay = local(recording, max_attempts=2, backoff_seconds=1)
    relay.run_once()
    clock.advance(10)
    report = relay.run_once()
    assert (report.failed, report.deferred) == (1, 1)
    assert [r.status for r in outbox()] == [OutboxStatus.FAILED, OutboxStatus.PUBLISHED, OutboxStatus.PARKED]

    recording.fails_on = None
    assert relay.drain().published == 0  # parked: the aggregate waits for its FAILED event
    app.replay(outbox()[0].envelope.event_id, actor="admin", reason="fixed")
    assert relay.drain().published == 2
    assert recording.seen == ["SUPPLIER_CREATED", "SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"]
    assert {r.status for r in outbox()} == {OutboxStatus.PUBLISHED}


def test_local_delivery_takes_batches_of_its_size_and_keeps_aggregate_order(app, origin, local, clock):
    for n in range(5):
        app.create_supplier(f"S{n}", FUTURE, origin)
        app.update_certification(n + 1, date(2028, 1, 1 + n), origin)
    recording = Recording(clock)
    relay = local(recording, batch_size=3)

    reports = [relay.run_once() for _ in range(5)]

    assert [r.claimed for r in reports] == [3, 3, 3, 1, 0]
    assert recording.seen == ["SUPPLIER_CREATED", "SUPPLIER_CERT_UPDATED"] * 5
