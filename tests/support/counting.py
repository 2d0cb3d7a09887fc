"""A mixed workload for the counters' exactness tests, and the real counts to compare them with."""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from datetime import date

from adapters.outbound.memory.database import MemoryState
from application.envelope import Origin
from application.inventories import AGGREGATE_TYPE as INVENTORY, PROJECTION_HANDLER
from application.orders import NewOrder
from application.ports import counters as names
from application.pagination import PageRequest
from application.ports.outbox import OutboxFilter, OutboxStatus
from domain.errors import DomainError
from domain.orders import ItemSpec
from domain.roles import Role
from bootstrap.container import Container

ORIGIN = Origin(actor="load", correlation_id="counters")


def memory_counts(state: MemoryState) -> dict[str, int]:
    """What every counter should hold, counted from the in-memory rows; zeros left out."""
    counted: Counter[str] = Counter()
    counted.update(names.nc(nc.status.value, nc.severity.value) for nc in state.ncs.values())
    counted[names.NC_HIGH_CLOSED_WITHOUT_CAPA] = sum(
        nc.status.value == "CLOSED" and nc.closed_without_capa for nc in state.ncs.values())
    counted.update(names.nc_root_cause(nc.root_cause_category.value) for nc in state.ncs.values()
                   if nc.root_cause_category)
    counted.update(names.nc_action(a.status.value) for nc in state.ncs.values() for a in nc.actions)
    for nc in state.ncs.values():
        if nc.status.value == "CLOSED" and nc.closed_at is not None:
            day = nc.closed_at.date().isoformat()
            counted[names.nc_closed_on(day)] += 1
            counted[names.nc_close_seconds_on(day)] += int(nc.closed_at.timestamp()) - int(nc.opened_at.timestamp())
    counted.update(names.outbox(row.record.status.value) for row in state.outbox.values())
    counted.update(names.order(o.status.value) for o in state.orders.values())
    counted.update(names.audit(e.entity_type, e.event_type) for e in state.audit)
    counted[names.SUPPLIERS] = len(state.suppliers)
    counted[names.FULFILMENT_PLANNED] = len(state.fulfilment)
    counted[names.unapplied(PROJECTION_HANDLER)] = sum(
        1 for row in state.outbox.values() if row.record.envelope.aggregate_type == INVENTORY
        and (PROJECTION_HANDLER, row.record.envelope.event_id) not in state.processed)
    return {name: n for name, n in counted.items() if n}


def nonzero(values: dict[str, int]) -> dict[str, int]:
    return {name: n for name, n in values.items() if n}


def writer(container: Container, rounds: int, seed: int) -> None:
    """Suppliers, NCs raised and closed, certifications expired, orders moved and cancelled,
    inventories with lines, deleted; every path that changes a counted row."""
    rng = random.Random(seed)
    ncs: list[int] = []
    for i in range(rounds):
        supplier = container.create_supplier()(f"S{seed}-{i}", date(2030, 1, 1), ORIGIN).supplier
        for _ in range(2):
            nc = container.raise_nc()(supplier.id, rng.choice(["low", "medium", "high"]), "d", ORIGIN)
            ncs.append(nc.id)
        if rng.random() < 0.5:
            container.close_nc()(ncs.pop(rng.randrange(len(ncs))), ORIGIN)
        if rng.random() < 0.5:
            investigate(container, ncs.pop(), rng)  # its own end: no later close of it
        if rng.random() < 0.2:
            container.update_certification()(supplier.id, date(2020, 1, 1), ORIGIN)
        order = container.place_order()(NewOrder(customer_id=f"C{seed}", items=[ItemSpec("A", 1, "2.00", "2.00")]), ORIGIN)
        step = rng.random()
        try:
            if step < 0.3:
                container.cancel_order()(str(order.id), "no", ORIGIN)
            elif step < 0.7:
                container.change_order_status()(str(order.id), "PICKING", None, ORIGIN)
        except DomainError:
            pass  # the fulfilment process moved it first
        inventory = container.create_inventory()(f"C{seed}", date(2030, 1, 1), ORIGIN)
        container.add_inventory_line()(inventory.id, "P", rng.randint(1, 9), ORIGIN)
        if rng.random() < 0.3:
            container.delete_inventory()(inventory.id, ORIGIN)


def investigate(container: Container, nc_id: int, rng: random.Random) -> None:
    """The CAPA path (ADR 0024): investigation, root cause, a corrective action checked effective or
    not, then a close, a quick close or a cancel."""
    container.move_nc()(nc_id, "INVESTIGATING", ORIGIN, {"owner": "quality"})
    container.update_nc()(nc_id, {"root_cause_category": rng.choice(["MATERIAL", "METHOD"]),
                                  "root_cause_analysis": "why"}, ORIGIN)
    _, action = container.plan_nc_action()(nc_id, "CORRECTIVE", "fix", "procurement", date(2030, 1, 1), ORIGIN,
                                           "criteria")
    container.move_nc()(nc_id, "ACTION_PLANNED", ORIGIN)
    act = container.move_nc_action()
    by_owner = Origin(actor="procurement", correlation_id="counters")
    act(nc_id, action.id, "IN_PROGRESS", by_owner, Role.PROCUREMENT)
    act(nc_id, action.id, "DONE", by_owner, Role.PROCUREMENT, note="done")
    outcome = rng.choice(["VERIFIED", "INEFFECTIVE"])
    act(nc_id, action.id, outcome, ORIGIN, Role.QUALITY, result="measured")
    end = rng.random()
    if end < 0.4:
        container.close_nc()(nc_id, ORIGIN)
    elif end < 0.6:
        container.move_nc()(nc_id, "CANCELLED", ORIGIN, reason="unfounded")


def mixed_workload(container: Container, writers: int, rounds: int, failing: object | None = None) -> None:
    """`writers` threads of `writer`, while a relay drains, the fulfilment scheduler fires and (with
    `failing`, a SwitchableFailure handler) some events fail until FAILED and are replayed."""
    done = threading.Event()
    errors: list[BaseException] = []

    def relay() -> None:
        rng = random.Random(7)
        try:
            for iteration in itertools.count():
                if done.is_set():
                    break
                if failing is not None:
                    failing.failing = iteration % 3 == 0
                container.relay().run_once()
                container.fulfilment_scheduler().run_once()
                if failing is not None and rng.random() < 0.3:
                    failed = container.outbox_queries().list(
                        OutboxFilter(OutboxStatus.FAILED), PageRequest(limit=500)).items
                    for record in failed[:3]:
                        container.replay_events()(record.envelope.event_id, "admin", "counting test")
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    def write(seed: int) -> None:
        try:
            writer(container, rounds, seed)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=write, args=(seed,)) for seed in range(writers)]
    background = threading.Thread(target=relay)
    background.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    background.join()
    if failing is not None:  # at least one round of failures, FAILED events and replays, whatever the timing
        failing.failing = True
        writer(container, 1, writers)
        container.relay().run_once()
        failing.failing = False
        failed = container.outbox_queries().list(
                        OutboxFilter(OutboxStatus.FAILED), PageRequest(limit=500)).items
        assert failed, "no event failed"
        for record in failed[: len(failed) // 2]:
            container.replay_events()(record.envelope.event_id, "admin", "counting test")
    container.relay().drain()
    assert not errors, errors

