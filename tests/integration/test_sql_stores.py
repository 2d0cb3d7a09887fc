"""SQL stores: a duplicate delivery is recognised as such, any other integrity error is not swallowed;
handled events move to the archive; concurrent deliveries of one event never both get its key."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from adapters.outbound.clock import FixedClock, SystemClock
from adapters.outbound.inprocess import InProcessPublisher
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_archive, outbox_events, processed_events
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit import AuditTrailHandler
from application.catalog import REGISTRY
from application.consumption import DeliverReceivedEvents
from application.delivery import RetryPolicy
from application.dispatch import ALL_EVENTS, ApplyEvents, EventHandler, HandlerFailures
from application.envelope import EventEnvelope, Origin
from application.pagination import PageRequest
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.ports.unit_of_work import StoreUnavailable
from application.relay import LocalDelivery
from application.suppliers import CreateSupplier
from domain.suppliers import SupplierCreated


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest):
    engine = create_engine(request.getfixturevalue(f"{request.param}_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def owner(engine: sa.Engine, request: pytest.FixtureRequest):
    """Who may alter the schema: on PostgreSQL the owner, not the application's runtime role."""
    if engine.dialect.name == "sqlite":
        yield engine
        return
    owner = create_engine(request.getfixturevalue("postgres_owner_url"))
    yield owner
    owner.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))


def _envelope(supplier_id: int = 1, actor: str = "a") -> EventEnvelope:
    event = SupplierCreated(occurred_at=datetime.now(UTC), supplier_id=supplier_id, name="Beta",
                            certification_expiry=date(2027, 1, 1))
    return EventEnvelope.wrap(event, Origin(actor, "c"))


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_record_new_returns_only_the_new_keys_and_a_second_recording_is_not_new(engine: sa.Engine) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    with SqlUnitOfWork(engine, SystemClock()) as uow:
        assert uow.processed.record_new([("h", a), ("h", b)], now) == {("h", a), ("h", b)}
        uow.commit()
    with SqlUnitOfWork(engine, SystemClock()) as uow:
        assert uow.processed.record_new([("h", a), ("g", a), ("h", c), ("h", b)], now) == {("g", a), ("h", c)}
        assert uow.processed.record_new([("h", c)], now) == set()  # recorded earlier in this transaction
        assert uow.processed.record_new([], now) == set()
        uow.commit()
    assert _count(engine, processed_events) == 4


def test_the_audit_handler_applies_once_and_a_second_delivery_writes_nothing(engine: sa.Engine) -> None:
    clock = SystemClock()
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
    publisher = InProcessPublisher(apply, lambda: SqlUnitOfWork(engine, clock))
    envelope = _envelope()

    assert publisher.publish([envelope]) == [None]
    assert publisher.publish([envelope]) == [None]

    assert (_count(engine, audit_log), _count(engine, processed_events)) == (1, 1)


def test_an_integrity_error_that_is_no_duplicate_is_the_events_failure(engine: sa.Engine, owner: sa.Engine) -> None:
    with owner.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                                 "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log ADD CONSTRAINT refuse CHECK (actor <> 'a')")
    clock = SystemClock()
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock)
    try:
        [failed, other] = InProcessPublisher(apply, lambda: SqlUnitOfWork(engine, clock)).publish(
            [_envelope(1, actor="a"), _envelope(2, actor="b")])
    finally:
        with owner.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER refuse")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_log DROP CONSTRAINT refuse")
    assert isinstance(failed, HandlerFailures)
    assert isinstance(failed.failures["audit_trail"], sa.exc.IntegrityError)
    if engine.dialect.name == "postgresql":  # the check refuses actor 'a' only: the other event passed
        assert other is None and _count(engine, audit_log) == 1 and _count(engine, processed_events) == 1
    else:  # the trigger refuses every row
        assert isinstance(other, HandlerFailures) and _count(engine, processed_events) == 0


def test_handled_events_move_to_the_archive_and_are_still_read(engine: sa.Engine, clock: FixedClock) -> None:
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    for name in ("A", "B", "C"):
        CreateSupplier(uow, clock)(name, date(2027, 1, 1), Origin("alice", "corr"))
    relay = LocalDelivery(uow, ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock), clock,
                          RetryPolicy())

    assert relay.drain().published == 3

    assert (_count(engine, outbox_events), _count(engine, outbox_archive)) == (0, 3)  # the hot table is empty
    with engine.connect() as conn:
        archived = conn.execute(sa.select(outbox_archive).order_by(outbox_archive.c.position)).all()
    assert {(r.status, r.handled_by, r.handled_at) for r in archived} == {("PUBLISHED", "in-process", clock.now())}
    with uow() as tx:
        assert tx.outbox.claim(10, clock.now()).records == []
        records = [tx.outbox.get(r.event_id) for r in archived]
        listed = tx.outbox.list(OutboxFilter(OutboxStatus.PUBLISHED), PageRequest(limit=10)).items
        everything = tx.outbox.list(OutboxFilter(), PageRequest(limit=10)).items
        counts = tx.outbox.count_by_status()
    assert [(r.status, r.handled_by) for r in records] == [(OutboxStatus.PUBLISHED, "in-process")] * 3
    assert [r.envelope.event_id for r in listed] == [r.envelope.event_id for r in everything] == [
        r.event_id for r in archived]
    assert counts == {**dict.fromkeys(OutboxStatus, 0), OutboxStatus.PUBLISHED: 3}

    CreateSupplier(uow, clock)("D", date(2027, 1, 1), Origin("alice", "corr"))  # positions are never reused
    with engine.connect() as conn:
        [position] = conn.execute(sa.select(outbox_events.c.position)).scalars().all()
    assert position > max(r.position for r in archived)


def test_a_consumer_group_archives_what_it_handled(engine: sa.Engine, clock: FixedClock) -> None:
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    CreateSupplier(uow, clock)("A", date(2027, 1, 1), Origin("alice", "corr"))
    with uow() as tx:
        [record] = tx.outbox.claim(10, clock.now(), clock.now()).records
        tx.outbox.mark_published([record], clock.now())  # published to a broker, not handled yet
        tx.commit()
    deliver = DeliverReceivedEvents(ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock)], clock), uow, clock,
                                    RetryPolicy(), group="handlers")

    assert deliver([record.envelope]) == [None]

    with uow() as tx:
        archived = tx.outbox.get(record.envelope.event_id)
    assert (archived.status, archived.handled_by, archived.handled_at) == (OutboxStatus.PUBLISHED, "handlers",
                                                                           clock.now())
    assert (_count(engine, outbox_events), _count(engine, outbox_archive), _count(engine, audit_log)) == (0, 1, 1)


def test_a_store_outage_during_local_delivery_writes_nothing(engine: sa.Engine, clock: FixedClock) -> None:
    class StoreGoesAway(EventHandler):
        name = "store_goes_away"
        subscribes_to = frozenset({ALL_EVENTS})

        def apply(self, uow, delivery) -> None:
            raise StoreUnavailable("database unavailable")

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    for name in ("A", "B"):
        CreateSupplier(uow, clock)(name, date(2027, 1, 1), Origin("alice", "corr"))
    apply = ApplyEvents(REGISTRY.events, [AuditTrailHandler(clock), StoreGoesAway(clock)], clock)

    report = LocalDelivery(uow, apply, clock, RetryPolicy()).run_once()

    assert (report.claimed, report.unavailable, report.published) == (2, 2, 0)
    assert (_count(engine, audit_log), _count(engine, processed_events), _count(engine, outbox_archive)) == (0, 0, 0)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox_events.c.status, outbox_events.c.attempts)).all()
    assert [tuple(r) for r in rows] == [("PENDING", 0)] * 2


def test_an_order_update_replaces_its_items_in_the_database(engine: sa.Engine, clock: FixedClock) -> None:
    """PUT /orders/{id}: a new item list (other skus, another count, a sku moved) is stored as sent."""
    from application.orders import NewOrder, OrderQueries, PlaceOrder, UpdateOrder
    from domain.orders import ItemSpec, OrderChanges

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock)

    origin = Origin("alice", "corr")
    PlaceOrder(uow, clock)(NewOrder(reference="ORD-1", customer_id="C", items=[
        ItemSpec("A", 1, "1", "1"), ItemSpec("B", 1, "1", "1")]), origin)
    update = UpdateOrder(uow, clock)
    for skus in (["B", "C", "A"], ["C"], ["C", "D"]):
        update("ORD-1", OrderChanges(items=[ItemSpec(sku, 2, "1", "1.50") for sku in skus]), origin)
        order = OrderQueries(uow).get("ORD-1")
        assert ([i.sku for i in order.items], str(order.total_amount)) == (skus, f"{3 * len(skus)}.00")
    with engine.connect() as conn:
        types = conn.execute(sa.select(outbox_events.c.event_type).order_by(outbox_events.c.position)).scalars().all()
    assert types == ["ORDER_RECEIVED"] + ["ORDER_UPDATED"] * 3


# --- PostgreSQL: two transactions recording one key -----------------------------------------------


@pytest.mark.parametrize("first_commits", [True, False])
def test_concurrent_record_new_gives_each_key_to_exactly_one_transaction(postgres_url: str,
                                                                         first_commits: bool) -> None:
    engine = create_engine(postgres_url, pool_size=4)
    clock = SystemClock()
    shared, only_first, only_second = (("h", uuid.uuid4()) for _ in range(3))
    second_got: list[set] = []
    try:
        with SqlUnitOfWork(engine, clock) as first:
            first_got = first.processed.record_new([only_first, shared], clock.now())

            def second() -> None:
                with SqlUnitOfWork(engine, clock) as tx:
                    second_got.append(tx.processed.record_new([shared, only_second], clock.now()))
                    tx.commit()

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.5)
            assert thread.is_alive(), "the second transaction did not wait for the first one's key"
            if first_commits:
                first.commit()
            else:
                first.rollback()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        engine.dispose()

    assert first_got == {only_first, shared}
    if first_commits:
        assert second_got == [{only_second}]  # the shared key went to the first transaction only
    else:
        assert second_got == [{shared, only_second}]  # the first gave it up: the second has it


def test_archiving_never_scans_the_whole_archive_even_without_statistics(postgres_url: str,
                                                                         postgres_owner_url: str) -> None:
    """The guard that lets an event leave the outbox only into the archive (a trigger) looks each event up by
    the archive's index. Its earlier anti-join was planned once per connection, as a sequential scan while
    the archive had no statistics (no autovacuum here, no ANALYZE yet): every batch read the whole archive."""
    clock = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    engine = create_engine(postgres_url)
    owner = sa.create_engine(postgres_owner_url, poolclass=sa.pool.NullPool)
    try:
        with owner.begin() as conn:  # as a new archive is: never analysed
            conn.execute(sa.text("SELECT pg_stat_reset_single_table_counters('outbox_archive'::regclass)"))
            assert conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'outbox_archive'")
                                ).scalar_one() <= 0

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(engine, clock)

        for n in range(3):
            CreateSupplier(uow, clock)(f"S{n}", date(2027, 1, 1), Origin("alice", "corr"))
        with uow() as tx:
            records = tx.outbox.claim(10, clock.now(), clock.now()).records
            tx.outbox.mark_published(records, clock.now(), handled_by="in-process")
            scans = tx.conn.execute(sa.text("SELECT seq_scan, idx_scan FROM pg_stat_xact_user_tables "
                                            "WHERE relname = 'outbox_archive'")).one()
            tx.commit()
        assert len(records) == 3 and _count(engine, outbox_archive) == 3
        assert scans.seq_scan == 0 and scans.idx_scan >= 3, scans
    finally:
        engine.dispose()
        owner.dispose()
