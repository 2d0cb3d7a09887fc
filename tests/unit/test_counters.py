"""The counters behind /kpi and the list totals: kept by the writers' transactions, exact, forgotten on rollback."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.outbound.memory.database import MemoryDatabase
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from application.pagination import COUNT_CAP, PageRequest, page_of
from application.ports import counters as names
from bootstrap.container import build_container
from bootstrap.settings import Settings
from tests.support.counting import memory_counts, mixed_workload, nonzero
from tests.support.harness import SwitchableFailure


def test_counters_match_the_rows_after_a_mixed_workload() -> None:
    container = build_container(Settings(_env_file=None, database_url="memory://", outbox_max_attempts=1,
                                         outbox_backoff_seconds=0, fulfilment_auto=True, fulfilment_step_seconds=0))
    failing = SwitchableFailure(container.clock())
    container.extra_handlers.add_args(failing)
    mixed_workload(container, writers=2, rounds=2, failing=failing)
    state = container.memory_database().state
    assert nonzero(state.counters) == memory_counts(state)
    kpi = container.kpi()()
    assert kpi.outbox_failed + kpi.outbox_pending + kpi.outbox_published + kpi.outbox_parked == len(state.outbox)
    assert kpi.audit_events_total == len(state.audit)


def test_a_rolled_back_transaction_counts_nothing(clock) -> None:
    db = MemoryDatabase()
    with MemoryUnitOfWork(db, clock) as uow:
        uow.counters.add(names.SUPPLIERS, 5)
        uow.counters.transfer(names.outbox("PENDING"), names.outbox("PUBLISHED"), 2)
        assert uow.counters.read([names.SUPPLIERS]) == {names.SUPPLIERS: 5}
    with MemoryUnitOfWork(db, clock).reading() as uow:
        assert uow.counters.read() == {}


def test_the_kpis_come_from_the_counters(app, origin) -> None:
    supplier = app.create_supplier("Beta", date(2030, 1, 1), origin).supplier
    first = app.raise_nc(supplier.id, "high", "d", origin)
    app.raise_nc(supplier.id, "low", "d", origin)
    app.close_nc(first.id, origin)
    kpi = app.kpi()
    assert (kpi.nc_open, kpi.nc_open_high, kpi.nc_closed, kpi.outbox_pending) == (1, 0, 1, 4)


@pytest.mark.parametrize(("items", "offset", "limit", "counted", "expected"), [
    (3, 0, 50, None, (3, True)),  # the first page is the last: no count
    (0, 0, 50, None, (0, True)),
    (2, 100, 50, None, (102, True)),  # the last page, further on
    (50, 0, 50, 120, (120, True)),  # a full page: counted
    (0, 500, 50, 120, (120, True)),  # past the end: counted
    (50, 0, 50, COUNT_CAP + 1, (COUNT_CAP, False)),  # too many to count: a lower bound
    (50, 20_000, 50, COUNT_CAP + 1, (20_050, False)),
])
def test_totals_are_counted_only_as_far_as_needed(items, offset, limit, counted, expected) -> None:
    asked: list[int] = []

    def count_upto(cap: int) -> int:
        asked.append(cap)
        assert counted is not None, "no count was needed"
        return min(counted, cap)

    page = page_of(list(range(items)), PageRequest(limit, offset), None, count_upto)
    assert (page.total, page.total_exact) == expected
    assert asked in ([], [COUNT_CAP + 1])


def test_a_counter_total_is_taken_as_it_is() -> None:
    page = page_of([1, 2], PageRequest(2, 0), 7, lambda cap: pytest.fail("counted"))
    assert (page.total, page.total_exact) == (7, True)
