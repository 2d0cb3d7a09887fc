"""The inventory projection against its write model, on memory, SQLite and PostgreSQL.

Property: after any sequence of creates, line additions, deletes, partial worker runs and rebuilds,
once the events are drained the projection equals both a recomputation from the write model and an
independent model of what happened. Then: rebuild repairs SQL tampering, and rebuild stays right
while events (or writers, or the handler) are in flight.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.outbound.clock import FixedClock
from adapters.outbound.inprocess import InProcessPublisher
from adapters.outbound.memory.database import MemoryDatabase
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.delivery import RetryPolicy
from application.catalog import REGISTRY
from application.dispatch import ApplyEvents
from application.envelope import EventEnvelope, Origin
from application.inventories import (
    AddInventoryLine,
    CreateInventory,
    DeleteInventory,
    InventoryProjectionHandler,
    RebuildInventoryProjection,
)
from application.kpi import KpiQuery
from application.pagination import PageRequest
from application.ports.inventories import InventorySummary
from application.ports.outbox import OutboxFilter, OutboxStatus
from application.ports.unit_of_work import UowFactory
from application.relay import LocalDelivery
from domain.errors import NotFound

BASE_DAY = date(2026, 6, 1)
ORIGIN = Origin("logistics", "corr-inventory")


class System:
    """The inventory part of SupplyTrace on one store, with a worker that can run one batch at a time."""

    def __init__(self, uow: UowFactory, clock: FixedClock, engine: sa.Engine | None = None) -> None:
        self.uow, self.clock, self.engine = uow, clock, engine
        self.create = CreateInventory(uow, clock)
        self.add_line = AddInventoryLine(uow, clock)
        self.delete = DeleteInventory(uow, clock)
        self.rebuild = RebuildInventoryProjection(uow, clock)
        self.apply = ApplyEvents(REGISTRY.events, [InventoryProjectionHandler(clock)], clock)
        self.publisher = InProcessPublisher(self.apply, uow)
        self.kpi = KpiQuery(uow, clock)

    def work(self, batch_size: int) -> None:
        """One worker poll: claim up to `batch_size` due events and hand them to the handler."""
        LocalDelivery(self.uow, self.apply, self.clock, RetryPolicy(), batch_size=batch_size).run_once()

    def drain(self) -> None:
        LocalDelivery(self.uow, self.apply, self.clock, RetryPolicy()).drain()

    def handle(self, envelope: EventEnvelope) -> Exception | None:
        """Hand one event to the projection in a transaction of its own (a re-delivery)."""
        [outcome] = self.publisher.publish([envelope])
        return outcome

    def projection(self) -> list[InventorySummary]:
        with self.uow() as uow:
            return uow.inventory_summary.all()

    def recomputed(self) -> list[InventorySummary]:
        with self.uow() as uow:
            return uow.inventories.summaries()

    def lag(self) -> int:
        return self.kpi().projection_lag_events

    def pending(self, event_type: str) -> list[EventEnvelope]:
        with self.uow() as uow:
            records = uow.outbox.list(OutboxFilter(OutboxStatus.PENDING), PageRequest(limit=500)).items
        return [r.envelope for r in records if r.envelope.event_type == event_type]


class Stores:
    """A fresh store of each kind, as often as a property test needs one."""

    def __init__(self, sqlite_template, postgres_database, folder) -> None:
        self.sqlite_template, self.postgres_database, self.folder = sqlite_template, postgres_database, folder
        self._postgres: sa.Engine | None = None

    @contextmanager
    def fresh(self, kind: str) -> Iterator[System]:
        clock = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
        if kind == "memory":
            database = MemoryDatabase()
            yield System(lambda: MemoryUnitOfWork(database, clock), clock)
        elif kind == "sqlite":
            engine = create_engine(self.sqlite_template.fresh(self.folder))
            try:
                yield System(lambda: SqlUnitOfWork(engine, clock), clock, engine)
            finally:
                engine.dispose()
        else:
            self.postgres_database.truncate()
            engine = self._postgres = self._postgres or create_engine(self.postgres_database.url, pool_size=5)
            yield System(lambda: SqlUnitOfWork(engine, clock), clock, engine)

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.dispose()


@pytest.fixture(scope="module")
def stores(sqlite_template, postgres_database, tmp_path_factory) -> Iterator[Stores]:
    stores = Stores(sqlite_template, postgres_database, tmp_path_factory.mktemp("projection"))
    yield stores
    stores.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def system(request: pytest.FixtureRequest, stores: Stores) -> Iterator[System]:
    with stores.fresh(request.param) as system:
        yield system


# --- the property -------------------------------------------------------------------------------

@dataclass
class Expected:
    """An independent model of the live inventories: customer, expiry, total, lines."""

    live: dict[int, list]

    def rows(self) -> list[tuple]:
        return [(i, *values) for i, values in sorted(self.live.items())]


targets = st.integers(min_value=1, max_value=6)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["ACME", "Beta", "Gamma"]), st.integers(0, 900)),
        st.tuples(st.just("add"), targets, st.integers(1, 1_000_000)),
        st.tuples(st.just("delete"), targets),
        st.tuples(st.just("work"), st.integers(1, 4)),
        st.tuples(st.just("rebuild")),
    ),
    max_size=25,
)


def run(system: System, steps: list[tuple]) -> Expected:
    expected = Expected({})
    for step in steps:
        system.clock.advance(7)
        kind, *args = step
        if kind == "create":
            inventory = system.create(args[0], BASE_DAY + timedelta(days=args[1]), ORIGIN)
            expected.live[inventory.id] = [args[0], BASE_DAY + timedelta(days=args[1]), 0, 0]
        elif kind in ("add", "delete"):
            target = args[0]
            try:
                if kind == "add":
                    system.add_line(target, "bolts", args[1], ORIGIN)
                else:
                    system.delete(target, ORIGIN)
            except NotFound:
                assert target not in expected.live
                continue
            if kind == "add":
                expected.live[target][2] += args[1]
                expected.live[target][3] += 1
            else:
                del expected.live[target]
        elif kind == "work":
            system.work(args[0])
        else:
            system.rebuild()
    return expected


def check_converges(system: System, steps: list[tuple]) -> None:
    expected = run(system, steps)
    system.drain()
    projection = system.projection()
    assert projection == system.recomputed()
    assert [(s.inventory_id, s.customer, s.expiry_date, s.total_items, s.line_count)
            for s in projection] == expected.rows()
    assert system.lag() == 0
    assert system.rebuild().rows_changed == 0


PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@settings(PROPERTY, max_examples=100)
@given(steps=operations)
def test_memory_projection_converges_to_the_write_model(stores: Stores, steps: list[tuple]) -> None:
    with stores.fresh("memory") as system:
        check_converges(system, steps)


@settings(PROPERTY, max_examples=40)
@given(steps=operations)
def test_sqlite_projection_converges_to_the_write_model(stores: Stores, steps: list[tuple]) -> None:
    with stores.fresh("sqlite") as system:
        check_converges(system, steps)


@settings(PROPERTY, max_examples=30)
@given(steps=operations)
def test_postgres_projection_converges_to_the_write_model(stores: Stores, steps: list[tuple]) -> None:
    with stores.fresh("postgres") as system:
        check_converges(system, steps)


# --- rebuild ------------------------------------------------------------------------------------

def seed(system: System) -> None:
    """Three inventories, two with lines, all applied: the projection is right."""
    for customer in ("ACME", "Beta", "Gamma"):
        system.create(customer, BASE_DAY, ORIGIN)
    system.add_line(1, "bolts", 5, ORIGIN)
    system.add_line(1, "nuts", 7, ORIGIN)
    system.add_line(2, "rivets", 3, ORIGIN)
    system.drain()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_rebuild_repairs_a_projection_tampered_with_in_sql(stores: Stores, kind: str) -> None:
    with stores.fresh(kind) as system:
        seed(system)
        right = system.projection()
        with system.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE inventory_summary SET total_items = 99, customer = 'x' WHERE inventory_id = 1")
            conn.exec_driver_sql("UPDATE inventory_summary SET line_count = 0 WHERE inventory_id = 2")
            conn.exec_driver_sql("DELETE FROM inventory_summary WHERE inventory_id = 3")
            conn.exec_driver_sql("INSERT INTO inventory_summary VALUES (42, 'ghost', 1, 1, '2026-01-01', "
                                 "'2026-01-01 00:00:00', '2026-01-01 00:00:00')")

        report = system.rebuild()

        assert (report.inserted, report.updated, report.deleted, report.events_marked) == (1, 2, 1, 0)
        assert system.projection() == right
        assert system.rebuild().rows_changed == 0


def test_rebuild_with_events_pending_then_draining_counts_nothing_twice(system: System) -> None:
    seed(system)
    system.add_line(1, "washers", 10, ORIGIN)
    system.add_line(3, "bolts", 4, ORIGIN)
    system.delete(2, ORIGIN)
    system.create("Delta", BASE_DAY, ORIGIN)
    assert system.lag() == 4

    report = system.rebuild()

    assert (report.inserted, report.updated, report.deleted, report.events_marked) == (1, 2, 1, 4)
    assert system.lag() == 0
    rebuilt = system.projection()
    system.drain()
    assert system.projection() == rebuilt == system.recomputed()
    assert [(s.inventory_id, s.total_items, s.line_count) for s in rebuilt] == [(1, 22, 3), (3, 4, 1), (4, 0, 0)]


def test_the_lag_counts_the_events_not_yet_applied(system: System) -> None:
    system.create("ACME", BASE_DAY, ORIGIN)
    system.add_line(1, "bolts", 5, ORIGIN)
    system.add_line(1, "nuts", 5, ORIGIN)
    assert system.lag() == 3
    system.work(1)
    assert system.lag() == 2
    system.drain()
    assert system.lag() == 0


# --- rebuild on PostgreSQL while others are in the middle of a transaction ----------------------

class PausingUow(SqlUnitOfWork):
    """A unit of work that stops just before its commit, holding its locks, until told to go on."""

    def __init__(self, engine: sa.Engine, clock: FixedClock, reached: threading.Event, go: threading.Event) -> None:
        super().__init__(engine, clock)
        self.reached, self.go = reached, go

    def _commit(self) -> None:
        self.reached.set()
        assert self.go.wait(10)
        super()._commit()


def in_thread(target) -> tuple[threading.Thread, list]:
    results: list = []
    thread = threading.Thread(target=lambda: results.append(target()), daemon=True)
    thread.start()
    return thread, results


def blocked(thread: threading.Thread) -> bool:
    time.sleep(0.3)
    return thread.is_alive()


@pytest.fixture
def postgres(stores: Stores) -> Iterator[System]:
    with stores.fresh("postgres") as system:
        yield system


def test_rebuild_waits_for_a_writer_in_flight_and_marks_its_event(postgres: System) -> None:
    seed(postgres)
    engine, reached, go = postgres.engine, threading.Event(), threading.Event()
    writer = AddInventoryLine(lambda: PausingUow(engine, postgres.clock, reached, go), postgres.clock)
    writing, _ = in_thread(lambda: writer(3, "bolts", 6, ORIGIN))
    assert reached.wait(5)

    rebuilding, report = in_thread(postgres.rebuild)
    assert blocked(rebuilding)  # LOCK TABLE waits for the writer's transaction
    go.set()
    writing.join(5)
    rebuilding.join(5)

    assert report[0].events_marked == 1 and report[0].updated == 1
    postgres.drain()
    assert postgres.projection() == postgres.recomputed()
    assert [s.total_items for s in postgres.projection()] == [12, 3, 6]


@pytest.mark.parametrize("event_type, expected", [
    ("INVENTORY_LINE_ADDED", [(1, 12), (2, 7), (3, 0)]),
    ("INVENTORY_CREATED", [(1, 12), (2, 3), (3, 0), (4, 0)]),
])
def test_a_handler_arriving_during_a_rebuild_rolls_back(postgres: System, event_type: str, expected: list) -> None:
    seed(postgres)
    if event_type == "INVENTORY_CREATED":
        postgres.create("Delta", BASE_DAY, ORIGIN)
    else:
        postgres.add_line(2, "rivets", 4, ORIGIN)
    [pending] = postgres.pending(event_type)
    reached, go = threading.Event(), threading.Event()
    rebuild = RebuildInventoryProjection(lambda: PausingUow(postgres.engine, postgres.clock, reached, go),
                                         postgres.clock)
    rebuilding, report = in_thread(rebuild)
    assert reached.wait(5)

    handling, outcome = in_thread(lambda: postgres.handle(pending))
    assert blocked(handling)  # the summary table is locked by the rebuild
    go.set()
    rebuilding.join(5)
    handling.join(5)

    assert report[0].events_marked == 1
    # its event was marked applied by the rebuild: its key was not new, the handler did nothing, no error
    assert outcome == [None]
    assert [(s.inventory_id, s.total_items) for s in postgres.projection()] == expected


def test_rebuild_reads_the_projection_only_after_the_handlers_in_flight(postgres: System) -> None:
    seed(postgres)
    postgres.add_line(2, "rivets", 4, ORIGIN)
    [pending] = postgres.pending("INVENTORY_LINE_ADDED")
    with postgres.engine.begin() as conn:  # a projection that already looks right, by accident
        conn.exec_driver_sql("UPDATE inventory_summary SET total_items = 7, line_count = 2 WHERE inventory_id = 2")
    reached, go = threading.Event(), threading.Event()
    publisher = InProcessPublisher(postgres.apply, lambda: PausingUow(postgres.engine, postgres.clock, reached, go))
    handling, outcomes = in_thread(lambda: publisher.publish([pending]))
    assert reached.wait(5)

    rebuilding, report = in_thread(postgres.rebuild)
    assert blocked(rebuilding)  # it must not read row 2 before the handler's +4 is committed
    go.set()
    handling.join(5)
    rebuilding.join(5)

    assert outcomes == [[None]]
    assert (report[0].updated, report[0].events_marked) == (1, 0)
    assert postgres.projection() == postgres.recomputed()
