"""Inventory commands, the `inventory_summary` projection (its handler and its rebuild) and its queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import NotFound
from domain.inventories import Inventory, InventoryCreated, InventoryDeleted, InventoryLine, InventoryLineAdded

from application.dispatch import Delivery, EventHandler
from application.conditional import Expected, check_version
from application.envelope import Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.counters import unapplied
from application.ports.inventories import InventoryFilter, InventorySummary
from application.ports.unit_of_work import UnitOfWork, UowFactory

PROJECTION_HANDLER = "inventory_projection"
AGGREGATE_TYPE = InventoryCreated.aggregate_type


def _count_for_projection(uow: UnitOfWork, inventory: Inventory) -> None:
    """The events about to be staged wait for the projection (/kpi projection_lag_events) until it applies them."""
    uow.counters.add(unapplied(PROJECTION_HANDLER), len(inventory.events))


def _live(uow: UnitOfWork, inventory_id: int, expected: Expected = None) -> Inventory:
    """A deleted inventory is as unknown as one that never existed."""
    inventory = uow.inventories.get(inventory_id)
    if inventory is None or inventory.deleted:
        raise NotFound("inventory", inventory_id)
    check_version(f"inventory {inventory_id}", inventory.version, expected)
    return inventory


class CreateInventory:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, customer: str, expiry_date: date, origin: Origin) -> Inventory:
        with self.uow().acting_as(origin) as uow:
            inventory = Inventory.create(customer, expiry_date, self.clock.now())
            uow.inventories.add(inventory)
            inventory.record_creation()
            _count_for_projection(uow, inventory)
            uow.commit()
        return inventory


class AddInventoryLine:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, inventory_id: int, product: str, quantity: int, origin: Origin) -> InventoryLine:
        line = InventoryLine.new(product, quantity, self.clock.now())  # bad input is refused before any lookup
        with self.uow().acting_as(origin) as uow:
            inventory = _live(uow, inventory_id)
            inventory.add_line(line)
            uow.inventories.add_line(inventory, line)
            inventory.record_line_added(line)
            _count_for_projection(uow, inventory)
            uow.commit()
        return line


class DeleteInventory:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, inventory_id: int, origin: Origin, expected: Expected = None) -> None:
        with self.uow().acting_as(origin) as uow:
            inventory = _live(uow, inventory_id, expected)
            inventory.delete(self.clock.now())
            _count_for_projection(uow, inventory)
            uow.commit()


@dataclass(frozen=True)
class InventoryDetail:
    summary: InventorySummary
    lines: list[InventoryLine]
    version: int = 0  # of the write model (the ETag): a command's If-Match is checked against it


class InventoryQueries:
    """Reads of the projection: eventually consistent with the commands."""

    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, criteria: InventoryFilter, page: PageRequest) -> Page[InventorySummary]:
        with self.uow().reading() as uow:
            return uow.inventory_summary.list(criteria, page)

    def get(self, inventory_id: int) -> InventoryDetail:
        """The projection row with the lines it accounts for, so their quantities add up to its total.

        Unknown until the projection has the inventory; unknown again as soon as it is deleted.
        """
        with self.uow().reading() as uow:
            summary = uow.inventory_summary.get(inventory_id)
            lines = uow.inventories.live_lines(inventory_id)
            if summary is None or lines is None:
                raise NotFound("inventory", inventory_id)
            version = uow.inventories.version(inventory_id) or 0
            # lines of one inventory are added one at a time (the row is locked), so ids follow the
            # event order and the projection has applied exactly the first `line_count` of them
            return InventoryDetail(summary, lines[: summary.line_count], version)


class ProjectionOutOfSync(Exception):
    """An event refers to a projection row that is not there: rebuild the projection."""


class InventoryProjectionHandler(EventHandler):
    """Keeps `inventory_summary` up to date; its key in processed_events makes every event count once."""

    name = PROJECTION_HANDLER
    subscribes_to = frozenset({InventoryCreated, InventoryLineAdded, InventoryDeleted})

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        event, store = delivery.event, uow.inventory_summary
        uow.counters.add(unapplied(PROJECTION_HANDLER), -1)  # commits with the processed_events key
        if isinstance(event, InventoryCreated):
            # a row already there was written by a rebuild that also marked this event applied:
            # the processed_events key then keeps this delivery from applying it again
            store.insert(InventorySummary(event.inventory_id, event.customer, 0, 0, event.expiry_date,
                                          event.occurred_at, event.occurred_at))
        elif isinstance(event, InventoryLineAdded):
            if not store.add_line(event.inventory_id, event.quantity, event.occurred_at):
                raise ProjectionOutOfSync(f"inventory {event.inventory_id} has no summary row")
        else:
            assert isinstance(event, InventoryDeleted)
            store.delete(event.inventory_id)


@dataclass(frozen=True)
class RebuildReport:
    inserted: int
    updated: int
    deleted: int
    events_marked: int

    @property
    def rows_changed(self) -> int:
        return self.inserted + self.updated + self.deleted

    def __str__(self) -> str:
        return (f"inventory_summary: {self.inserted} inserted, {self.updated} updated, {self.deleted} deleted; "
                f"{self.events_marked} pending events marked applied")


class RebuildInventoryProjection:
    """Recompute `inventory_summary` from the write model in one transaction, writing only differences.

    Inventory writers are kept out until commit, so the write model, the outbox and the projection
    are read at one point in time. Every inventory event not yet applied is already in the write
    model, hence in the rebuilt rows: it is marked applied, so a later delivery cannot count it twice.
    """

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self) -> RebuildReport:
        with self.uow() as uow:
            uow.inventories.lock_writers()
            uow.inventory_summary.lock()
            wanted = {s.inventory_id: s for s in uow.inventories.summaries()}
            current = {s.inventory_id: s for s in uow.inventory_summary.all()}
            inserted = updated = 0
            for inventory_id, summary in sorted(wanted.items()):
                if inventory_id not in current:
                    uow.inventory_summary.insert(summary)
                    inserted += 1
                elif current[inventory_id] != summary:
                    uow.inventory_summary.replace(summary)
                    updated += 1
            stale = sorted(current.keys() - wanted.keys())
            for inventory_id in stale:
                uow.inventory_summary.delete(inventory_id)
            marked = uow.inventory_summary.mark_applied(PROJECTION_HANDLER, AGGREGATE_TYPE, self.clock.now())
            uow.counters.add(unapplied(PROJECTION_HANDLER), -marked)
            uow.commit()
        return RebuildReport(inserted, updated, len(stale), marked)
