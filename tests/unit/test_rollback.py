"""One transaction: a failure anywhere leaves neither the business change nor its event."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.outbound.memory.repositories import MemoryOutboxRepository, MemorySupplierRepository
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from application.envelope import Origin
from application.nonconformities import RaiseNonConformity
from application.pagination import PageRequest
from application.suppliers import CreateSupplier, SupplierQueries, UpdateCertification
from domain.suppliers import Supplier

FUTURE = date(2027, 6, 30)


class Boom(Exception):
    pass


class ExplodingSupplierRepository(MemorySupplierRepository):
    """Stores the supplier (it gets its id) and then fails, inside the use case."""

    def _add(self, supplier: Supplier) -> None:
        super()._add(supplier)
        raise Boom("disk full")


class UowWithExplodingSuppliers(MemoryUnitOfWork):
    def _begin(self) -> None:
        super()._begin()
        self.suppliers = ExplodingSupplierRepository(self._state)


class UowFailingAtCommit(MemoryUnitOfWork):
    """Events were collected into the outbox, then the commit itself fails."""

    def _commit(self) -> None:
        self.collected = [row.record.envelope.event_type for row in self._state.outbox.values()]
        raise Boom("connection lost during COMMIT")


def break_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, appending to the outbox fails (as an INSERT would)."""

    def failing_add(self, envelope, now):
        raise Boom("outbox insert failed")

    monkeypatch.setattr(MemoryOutboxRepository, "add", failing_add)


def committed_state(db):
    return len(db.state.suppliers), len(db.state.ncs), len(db.state.outbox)


def test_failure_after_the_supplier_was_added_leaves_no_supplier_and_no_event(db, clock, origin):
    create = CreateSupplier(lambda: UowWithExplodingSuppliers(db, clock), clock)
    with pytest.raises(Boom):
        create("Beta Metals", FUTURE, origin)
    assert committed_state(db) == (0, 0, 0)


def test_failure_while_writing_the_outbox_leaves_no_supplier(db, clock, uow, origin, monkeypatch):
    break_outbox(monkeypatch)
    with pytest.raises(Boom):
        CreateSupplier(uow, clock)("Beta Metals", FUTURE, origin)

    assert committed_state(db) == (0, 0, 0)
    assert SupplierQueries(uow, clock).list(PageRequest()).total == 0


def test_failure_at_commit_after_events_were_collected_leaves_nothing(db, clock, origin):
    attempts: list[UowFailingAtCommit] = []

    def factory() -> UowFailingAtCommit:
        attempts.append(UowFailingAtCommit(db, clock))
        return attempts[-1]

    with pytest.raises(Boom):
        CreateSupplier(factory, clock)("Beta Metals", FUTURE, origin)

    assert attempts[0].collected == ["SUPPLIER_CREATED"]  # the event did reach the outbox of the transaction
    assert committed_state(db) == (0, 0, 0)


def test_failed_update_keeps_the_previous_certification_and_writes_no_event(db, clock, uow, origin, monkeypatch):
    CreateSupplier(uow, clock)("Beta Metals", FUTURE, origin)

    break_outbox(monkeypatch)
    with pytest.raises(Boom):
        UpdateCertification(uow, clock)(1, date(2030, 1, 1), origin)

    assert db.state.suppliers[1].certification_expiry == FUTURE
    assert [row.record.envelope.event_type for row in db.state.outbox.values()] == ["SUPPLIER_CREATED"]


def test_failed_nc_raise_leaves_no_nc(db, clock, uow, origin, monkeypatch):
    CreateSupplier(uow, clock)("Beta Metals", FUTURE, origin)

    break_outbox(monkeypatch)
    with pytest.raises(Boom):
        RaiseNonConformity(uow, clock)(1, "high", "weld porosity", origin)

    assert committed_state(db) == (1, 0, 1)


def test_unit_of_work_left_without_commit_writes_nothing(db, clock):
    with MemoryUnitOfWork(db, clock).acting_as(Origin("alice")) as uow:
        supplier = Supplier.register("Beta Metals", FUTURE, clock.now())
        uow.suppliers.add(supplier)
        supplier.record_registration()
        # no uow.commit()
    assert committed_state(db) == (0, 0, 0)


def test_unit_of_work_is_usable_again_after_a_rollback(db, clock, uow, origin):
    """The failed transaction released the database: the next one commits normally."""
    with pytest.raises(Boom):
        CreateSupplier(lambda: UowWithExplodingSuppliers(db, clock), clock)("Beta Metals", FUTURE, origin)

    view = CreateSupplier(uow, clock)("Beta Metals", FUTURE, origin)

    assert view.supplier.id == 1  # the rolled-back id was not consumed either
    assert committed_state(db) == (1, 0, 1)
