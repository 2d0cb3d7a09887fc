"""Shared fakes for the unit tests: the in-memory adapters and a clock moved by hand."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from adapters.outbound.clock import FixedClock
from adapters.outbound.memory.database import MemoryDatabase
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from application.envelope import Origin
from application.kpi import KpiQuery
from application.nonconformities import CloseNonConformity, NonConformityQueries, RaiseNonConformity
from application.outbox_admin import OutboxQueries, ReplayEvents
from application.pagination import PageRequest
from application.ports.outbox import OutboxFilter, OutboxRecord
from application.suppliers import CreateSupplier, SupplierQueries, UpdateCertification

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def db() -> MemoryDatabase:
    return MemoryDatabase()


@pytest.fixture
def uow(db: MemoryDatabase, clock: FixedClock) -> Callable[[], MemoryUnitOfWork]:
    """The unit-of-work factory every use case takes."""
    return lambda: MemoryUnitOfWork(db, clock)


@pytest.fixture
def origin() -> Origin:
    return Origin(actor="alice", correlation_id="corr-42")


@pytest.fixture
def app(uow, clock) -> SimpleNamespace:
    """Every use case and query of the QHSE core, wired on the in-memory database."""
    return SimpleNamespace(
        create_supplier=CreateSupplier(uow, clock),
        update_certification=UpdateCertification(uow, clock),
        suppliers=SupplierQueries(uow, clock),
        raise_nc=RaiseNonConformity(uow, clock),
        close_nc=CloseNonConformity(uow, clock),
        ncs=NonConformityQueries(uow),
        kpi=KpiQuery(uow, clock),
        outbox=OutboxQueries(uow),
        replay=ReplayEvents(uow, clock),
    )


@pytest.fixture
def outbox(uow) -> Callable[[], list[OutboxRecord]]:
    """The committed outbox rows, oldest first."""

    def records() -> list[OutboxRecord]:
        return OutboxQueries(uow).list(OutboxFilter(), PageRequest(limit=500)).items

    return records


@pytest.fixture
def no_supplytrace_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Isolate Settings from the developer's SUPPLYTRACE_* variables."""
    for name in list(os.environ):
        if name.startswith("SUPPLYTRACE_"):
            monkeypatch.delenv(name)
