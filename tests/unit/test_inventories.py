"""Inventories on the in-memory adapters: the aggregate, the commands, the projection, its rebuild."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from types import SimpleNamespace

import pytest

from adapters.outbound.inprocess import InProcessPublisher
from application.catalog import REGISTRY
from application.dispatch import ApplyEvents, HandlerFailures
from application.envelope import Origin
from application.inventories import (
    AddInventoryLine,
    CreateInventory,
    DeleteInventory,
    InventoryProjectionHandler,
    InventoryQueries,
    ProjectionOutOfSync,
    RebuildInventoryProjection,
)
from application.kpi import KpiQuery
from application.pagination import PageRequest
from application.ports.inventories import InventoryFilter, InventorySummary
from domain.errors import Conflict, NotFound, ValidationError
from domain.inventories import QUANTITY_MAX, Inventory, InventoryLine

EXPIRY = date(2027, 1, 31)


@pytest.fixture
def inv(uow, clock) -> SimpleNamespace:
    return SimpleNamespace(
        create=CreateInventory(uow, clock),
        add_line=AddInventoryLine(uow, clock),
        delete=DeleteInventory(uow, clock),
        queries=InventoryQueries(uow),
        handle=InProcessPublisher(ApplyEvents(REGISTRY.events, [InventoryProjectionHandler(clock)], clock),
                                  uow).publish,
        rebuild=RebuildInventoryProjection(uow, clock),
        kpi=KpiQuery(uow, clock),
    )


def drain(inv: SimpleNamespace, outbox) -> None:
    """Hand every event, in order, to the handler, one transaction each (a worker's batches may be smaller)."""
    for record in outbox():
        assert inv.handle([record.envelope]) == [None]


def summaries(inv: SimpleNamespace, **criteria) -> list[InventorySummary]:
    return inv.queries.list(InventoryFilter(**criteria), PageRequest(limit=500)).items


def set_summary(uow, inventory_id: int, **changes) -> None:
    """Tamper with the projection behind the handler's back."""
    with uow() as tx:
        row = tx.inventory_summary.get(inventory_id)
        tx.inventory_summary.replace(dataclasses.replace(row, **changes))
        tx.commit()


# --- the aggregate ------------------------------------------------------------------------------


def test_create_strips_the_customer(clock):
    assert Inventory.create("  ACME  ", EXPIRY, clock.now()).customer == "ACME"


@pytest.mark.parametrize("customer", ["", "   ", None, 42, "x" * 201])
def test_create_refuses_a_bad_customer(customer, clock):
    with pytest.raises(ValidationError) as error:
        Inventory.create(customer, EXPIRY, clock.now())
    assert error.value.field == "customer"


@pytest.mark.parametrize("expiry", ["2027-01-31", None, datetime(2027, 1, 31)])
def test_create_refuses_an_expiry_that_is_not_a_date(expiry, clock):
    with pytest.raises(ValidationError) as error:
        Inventory.create("ACME", expiry, clock.now())
    assert error.value.field == "expiry_date"


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "abc", "5", True, None, QUANTITY_MAX + 1])
def test_a_line_refuses_a_quantity_that_is_not_a_positive_integer(quantity, clock):
    with pytest.raises(ValidationError) as error:
        InventoryLine.new("bolts", quantity, clock.now())
    assert error.value.field == "quantity"


@pytest.mark.parametrize("product", ["", "  ", None, "p" * 201])
def test_a_line_refuses_a_bad_product(product, clock):
    with pytest.raises(ValidationError) as error:
        InventoryLine.new(product, 3, clock.now())
    assert error.value.field == "product"


@pytest.mark.parametrize("quantity", [1, QUANTITY_MAX])
def test_a_line_accepts_the_bounds(quantity, clock):
    assert InventoryLine.new(" bolts ", quantity, clock.now()).quantity == quantity


def test_a_deleted_inventory_refuses_lines_and_a_second_deletion(clock):
    inventory = Inventory.create("ACME", EXPIRY, clock.now())
    inventory.id = 7
    inventory.delete(clock.now())
    with pytest.raises(Conflict):
        inventory.add_line(InventoryLine.new("bolts", 1, clock.now()))
    with pytest.raises(Conflict):
        inventory.delete(clock.now())
    assert [e.event_type for e in inventory.events] == ["INVENTORY_DELETED"]


def test_events_need_an_identity(clock):
    inventory = Inventory.create("ACME", EXPIRY, clock.now())
    with pytest.raises(RuntimeError):
        inventory.record_creation()


def test_total_and_last_change_follow_the_lines(clock):
    inventory = Inventory.create("ACME", EXPIRY, clock.now())
    assert (inventory.total_items, inventory.last_change) == (0, clock.now())
    inventory.add_line(InventoryLine(product="a", quantity=5, added_at=clock.now() + timedelta(hours=1), id=1))
    inventory.add_line(InventoryLine(product="b", quantity=7, added_at=clock.now() + timedelta(hours=2), id=2))
    assert (inventory.total_items, inventory.last_change) == (12, clock.now() + timedelta(hours=2))


# --- commands write the write model and exactly the expected outbox rows -----------------------


def test_create_writes_an_inventory_created_row_with_the_origin(inv, outbox, origin, clock):
    inventory = inv.create(" ACME ", EXPIRY, origin)

    assert (inventory.id, inventory.customer, inventory.total_items) == (1, "ACME", 0)
    [record] = outbox()
    envelope = record.envelope
    assert (envelope.event_type, envelope.aggregate_type, envelope.aggregate_id) == ("INVENTORY_CREATED",
                                                                                     "inventory", "1")
    assert (envelope.actor, envelope.correlation_id, envelope.occurred_at) == ("alice", "corr-42", clock.now())
    assert envelope.payload == {"inventory_id": 1, "customer": "ACME", "expiry_date": "2027-01-31",
                                "changes": [["customer", None, "ACME"], ["expiry_date", None, "2027-01-31"]]}


def test_add_line_writes_a_line_added_row(inv, outbox, origin, clock):
    inv.create("ACME", EXPIRY, origin)
    clock.advance(60)
    line = inv.add_line(1, " bolts ", 5, origin)

    assert (line.id, line.product, line.quantity, line.added_at) == (1, "bolts", 5, clock.now())
    envelope = outbox()[-1].envelope
    assert envelope.event_type == "INVENTORY_LINE_ADDED"
    assert envelope.payload == {"inventory_id": 1, "line_id": 1, "product": "bolts", "quantity": 5,
                                "changes": [["lines[1]", None, {"product": "bolts", "quantity": 5}]]}
    assert envelope.occurred_at == clock.now()


@pytest.mark.parametrize("product, quantity, field", [("bolts", 0, "quantity"), ("", 3, "product")])
def test_bad_lines_are_refused_before_any_lookup_and_write_nothing(inv, outbox, origin, product, quantity, field):
    inv.create("ACME", EXPIRY, origin)
    for inventory_id in (1, 999):
        with pytest.raises(ValidationError) as error:
            inv.add_line(inventory_id, product, quantity, origin)
        assert error.value.field == field
    assert [r.envelope.event_type for r in outbox()] == ["INVENTORY_CREATED"]


def test_unknown_inventory_is_not_found_and_nothing_is_written(inv, outbox, origin):
    with pytest.raises(NotFound):
        inv.add_line(42, "bolts", 1, origin)
    with pytest.raises(NotFound):
        inv.delete(42, origin)
    assert outbox() == []


def test_a_deleted_inventory_is_unknown_to_every_command(inv, outbox, origin):
    inv.create("ACME", EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    inv.delete(1, origin)
    with pytest.raises(NotFound):
        inv.add_line(1, "nuts", 1, origin)
    with pytest.raises(NotFound):
        inv.delete(1, origin)
    assert [r.envelope.event_type for r in outbox()] == ["INVENTORY_CREATED", "INVENTORY_LINE_ADDED",
                                                         "INVENTORY_DELETED"]


# --- the projection handler ---------------------------------------------------------------------


def test_the_list_shows_totals_only_once_the_events_are_handled(inv, outbox, origin, clock):
    inv.create("ACME", EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    clock.advance(60)
    inv.add_line(1, "nuts", 7, origin)
    assert summaries(inv) == []
    assert inv.kpi().projection_lag_events == 3

    drain(inv, outbox)

    created = clock.now() - timedelta(seconds=60)
    assert summaries(inv) == [InventorySummary(1, "ACME", 12, 2, EXPIRY, clock.now(), created)]
    assert inv.kpi().projection_lag_events == 0


def test_every_event_counts_once_however_often_it_is_delivered(inv, outbox, origin, db):
    inv.create("ACME", EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    drain(inv, outbox)
    keys = dict(db.state.processed)
    drain(inv, outbox)
    assert inv.handle([r.envelope for r in outbox()]) == [None, None]
    assert db.state.processed == keys and len(keys) == 2
    assert (summaries(inv)[0].total_items, summaries(inv)[0].line_count) == (5, 1)


def test_deletion_removes_the_row(inv, outbox, origin):
    inv.create("ACME", EXPIRY, origin)
    inv.create("Beta", EXPIRY, origin)
    inv.delete(1, origin)
    drain(inv, outbox)
    assert [s.inventory_id for s in summaries(inv)] == [2]


def test_a_line_for_a_missing_row_fails_and_stays_unapplied(inv, outbox, origin, uow):
    inv.create("ACME", EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    created, added = outbox()
    inv.handle([created.envelope])
    with uow() as tx:
        tx.inventory_summary.delete(1)
        tx.commit()
    [outcome] = inv.handle([added.envelope])
    assert isinstance(outcome, HandlerFailures)
    assert isinstance(outcome.failures["inventory_projection"], ProjectionOutOfSync)
    assert inv.kpi().projection_lag_events == 1


# --- queries ------------------------------------------------------------------------------------


def test_detail_shows_the_lines_the_projection_accounts_for(inv, outbox, origin):
    inv.create("ACME", EXPIRY, origin)
    with pytest.raises(NotFound):  # not projected yet
        inv.queries.get(1)
    inv.add_line(1, "bolts", 5, origin)
    drain(inv, outbox)
    inv.add_line(1, "nuts", 7, origin)

    detail = inv.queries.get(1)
    assert (detail.summary.total_items, [(line.product, line.quantity) for line in detail.lines]) == (5, [("bolts", 5)])
    drain(inv, outbox)
    detail = inv.queries.get(1)
    assert [(line.id, line.product, line.quantity) for line in detail.lines] == [(1, "bolts", 5), (2, "nuts", 7)]
    assert detail.summary.total_items == sum(line.quantity for line in detail.lines)


def test_detail_is_not_found_as_soon_as_the_inventory_is_deleted(inv, outbox, origin):
    inv.create("ACME", EXPIRY, origin)
    drain(inv, outbox)
    inv.delete(1, origin)
    with pytest.raises(NotFound):
        inv.queries.get(1)
    assert len(summaries(inv)) == 1  # the list catches up when the event is handled
    drain(inv, outbox)
    assert summaries(inv) == []


def test_list_filters_orders_by_expiry_newest_first_and_pages(inv, outbox, origin):
    for customer, expiry in [("ACME", date(2027, 1, 31)), ("Beta", date(2026, 6, 30)), ("ACME", date(2028, 3, 1)),
                             ("Gamma", date(2026, 6, 30))]:
        inv.create(customer, expiry, origin)
    drain(inv, outbox)

    assert [s.inventory_id for s in summaries(inv)] == [3, 1, 4, 2]
    assert [s.inventory_id for s in summaries(inv, customer="ACME")] == [3, 1]
    assert [s.inventory_id for s in summaries(inv, expiring_before=date(2027, 1, 31))] == [4, 2]
    assert [s.inventory_id for s in summaries(inv, customer="ACME", expiring_before=date(2028, 3, 2))] == [3, 1]
    page = inv.queries.list(InventoryFilter(), PageRequest(limit=2, offset=2))
    assert ([s.inventory_id for s in page.items], page.total, page.limit, page.offset) == ([4, 2], 4, 2, 2)


# --- rebuild ------------------------------------------------------------------------------------


def test_rebuild_fixes_a_tampered_projection_and_reports_the_rows_changed(inv, outbox, origin, uow, clock):
    for customer in ("ACME", "Beta", "Gamma"):
        inv.create(customer, EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    drain(inv, outbox)
    expected = summaries(inv)
    set_summary(uow, 1, total_items=999)
    with uow() as tx:
        tx.inventory_summary.delete(2)
        tx.inventory_summary.insert(InventorySummary(77, "ghost", 1, 1, EXPIRY, clock.now(), clock.now()))
        tx.commit()

    report = inv.rebuild()

    assert (report.inserted, report.updated, report.deleted, report.events_marked) == (1, 1, 1, 0)
    assert report.rows_changed == 3
    assert str(report) == "inventory_summary: 1 inserted, 1 updated, 1 deleted; 0 pending events marked applied"
    assert summaries(inv) == expected
    assert inv.rebuild().rows_changed == 0


def test_rebuild_with_events_in_flight_then_draining_counts_nothing_twice(inv, outbox, origin, clock):
    inv.create("ACME", EXPIRY, origin)
    inv.add_line(1, "bolts", 5, origin)
    drain(inv, outbox)
    inv.add_line(1, "nuts", 7, origin)
    inv.create("Beta", EXPIRY, origin)
    inv.delete(1, origin)
    inv.create("Gamma", EXPIRY, origin)
    assert inv.kpi().projection_lag_events == 4

    report = inv.rebuild()

    assert (report.inserted, report.updated, report.deleted, report.events_marked) == (2, 0, 1, 4)
    assert inv.kpi().projection_lag_events == 0
    rebuilt = summaries(inv)
    drain(inv, outbox)
    assert summaries(inv) == rebuilt == [InventorySummary(3, "Gamma", 0, 0, EXPIRY, clock.now(), clock.now()),
                                         InventorySummary(2, "Beta", 0, 0, EXPIRY, clock.now(), clock.now())]
    inv.create("Delta", EXPIRY, Origin())
    drain(inv, outbox)  # events after the rebuild are applied as usual
    assert [s.customer for s in summaries(inv)] == ["Delta", "Gamma", "Beta"]
