"""Counting aggregates by state for the `Counters` port, the same way on every store."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from datetime import UTC
from typing import Generic, TypeVar

from application.ports import counters as names
from application.ports.counters import Counters
from domain.nonconformities import ACTION_OPEN, NcAction, NcStatus, NonConformity
from domain.orders import Order
from domain.suppliers import Supplier

E = TypeVar("E")


_UNKNOWN = object()


class StateTally(Generic[E]):
    """Remembers the counted state of each entity a transaction inserted or loaded; `flush` moves
    the count of those whose state changed (call it once the entities are written). A state of None
    is not counted. With `count_new`, an entity `flush` meets for the first time is counted as inserted
    (the actions of a non-conformity: added inside the aggregate)."""

    def __init__(self, counters: Counters, key: Callable[[E], str | None], identity: Callable[[E], Hashable],
                 count_new: bool = False) -> None:
        self.counters, self.key, self.identity, self.count_new = counters, key, identity, count_new
        self.known: dict[Hashable, str | None] = {}

    def inserted(self, entity: E) -> None:
        state = self.key(entity)
        if state is not None:
            self.counters.add(state)
        self.known[self.identity(entity)] = state

    def loaded(self, entity: E) -> None:
        self.known.setdefault(self.identity(entity), self.key(entity))

    def flush(self, entities: Iterable[E]) -> None:
        for entity in entities:
            identity, state = self.identity(entity), self.key(entity)
            before = self.known.get(identity, _UNKNOWN)
            if before is _UNKNOWN:
                if self.count_new and state is not None:
                    self.counters.add(state)
            elif before != state:
                if before is not None:
                    self.counters.add(before, -1)  # type: ignore[arg-type]
                if state is not None:
                    self.counters.add(state, 1)
            self.known[identity] = state


class ClosingTally:
    """The day-bucket counters of the closed NCs: one closing on its UTC day and its seconds from opening."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.known: dict[Hashable, tuple[str, int] | None] = {}

    @staticmethod
    def key(nc: NonConformity) -> tuple[str, int] | None:
        if nc.status is not NcStatus.CLOSED or nc.closed_at is None:
            return None
        # whole seconds of each timestamp, as the recount takes them (floor of the epoch)
        return (nc.closed_at.astimezone(UTC).date().isoformat(),
                int(nc.closed_at.timestamp()) - int(nc.opened_at.timestamp()))

    def _count(self, state: tuple[str, int] | None, sign: int) -> None:
        if state is not None:
            day, seconds = state
            self.counters.add(names.nc_closed_on(day), sign)
            self.counters.add(names.nc_close_seconds_on(day), sign * seconds)

    def inserted(self, nc: NonConformity) -> None:
        self.known[nc.id] = state = self.key(nc)
        self._count(state, 1)

    def loaded(self, nc: NonConformity) -> None:
        self.known.setdefault(nc.id, self.key(nc))

    def flush(self, ncs: Iterable[NonConformity]) -> None:
        for nc in ncs:
            state, before = self.key(nc), self.known.get(nc.id, _UNKNOWN)
            if before is not _UNKNOWN and before != state:
                self._count(before, -1)  # type: ignore[arg-type]
                self._count(state, 1)
            self.known[nc.id] = state


class NcTally:
    """The counters of non-conformities: by status and severity, the high ones closed without CAPA, by
    root cause; and of their actions by status, and the open ones by due date."""

    def __init__(self, counters: Counters) -> None:
        self.ncs: list[StateTally[NonConformity]] = [
            StateTally(counters, lambda nc: names.nc(nc.status.value, nc.severity.value), lambda nc: nc.id),
            StateTally(counters, _without_capa, lambda nc: nc.id),
            StateTally(counters, lambda nc: names.nc_root_cause(nc.root_cause_category.value)
                       if nc.root_cause_category else None, lambda nc: nc.id),
        ]
        self.closings = ClosingTally(counters)
        self.actions: list[StateTally[tuple[int, NcAction]]] = [
            StateTally(counters, key, lambda pair: (pair[0], pair[1].id), count_new=True)
            for key in (lambda pair: names.nc_action(pair[1].status.value), _open_due)]

    def inserted(self, nc: NonConformity) -> None:
        for tally in (*self.ncs, self.closings):
            tally.inserted(nc)
        for action in nc.actions:
            for actions in self.actions:
                actions.inserted((nc.id, action))

    def loaded(self, nc: NonConformity) -> None:
        for tally in (*self.ncs, self.closings):
            tally.loaded(nc)
        for action in nc.actions:
            for actions in self.actions:
                actions.loaded((nc.id, action))

    def flush(self, ncs: Iterable[NonConformity]) -> None:
        ncs = list(ncs)
        for tally in (*self.ncs, self.closings):
            tally.flush(ncs)
        pairs = [(nc.id, action) for nc in ncs for action in nc.actions]
        for actions in self.actions:
            actions.flush(pairs)


def _open_due(pair: tuple[int, NcAction]) -> str | None:
    action = pair[1]
    return names.nc_action_open_due(action.due_date.isoformat()) if action.status in ACTION_OPEN else None


def _without_capa(nc: NonConformity) -> str | None:
    closed = nc.status is NcStatus.CLOSED and nc.closed_without_capa
    return names.NC_HIGH_CLOSED_WITHOUT_CAPA if closed else None


def supplier_tally(counters: Counters) -> StateTally[Supplier]:
    return StateTally(counters, lambda s: names.SUPPLIERS, lambda s: s.id)


def nc_tally(counters: Counters) -> NcTally:
    return NcTally(counters)


def order_tally(counters: Counters) -> StateTally[Order]:
    return StateTally(counters, lambda o: names.order(o.status.value), lambda o: o.id)
