"""Counting aggregates by state for the `Counters` port, the same way on every store."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from application.ports import counters as names
from application.ports.counters import Counters
from domain.nonconformities import NonConformity
from domain.orders import Order
from domain.suppliers import Supplier

E = TypeVar("E")


class StateTally(Generic[E]):
    """Remembers the counted state of each entity a transaction inserted or loaded; `flush` moves
    the count of those whose state changed (call it once the entities are written)."""

    def __init__(self, counters: Counters, key: Callable[[E], str], identity: Callable[[E], Hashable]) -> None:
        self.counters, self.key, self.identity = counters, key, identity
        self.known: dict[Hashable, str] = {}

    def inserted(self, entity: E) -> None:
        state = self.key(entity)
        self.counters.add(state)
        self.known[self.identity(entity)] = state

    def loaded(self, entity: E) -> None:
        self.known.setdefault(self.identity(entity), self.key(entity))

    def flush(self, entities: Iterable[E]) -> None:
        for entity in entities:
            identity, state = self.identity(entity), self.key(entity)
            before = self.known.get(identity)
            if before is not None and before != state:
                self.counters.transfer(before, state, 1)
            self.known[identity] = state


def supplier_tally(counters: Counters) -> StateTally[Supplier]:
    return StateTally(counters, lambda s: names.SUPPLIERS, lambda s: s.id)


def nc_tally(counters: Counters) -> StateTally[NonConformity]:
    return StateTally(counters, lambda nc: names.nc(nc.status.value, nc.severity.value), lambda nc: nc.id)


def order_tally(counters: Counters) -> StateTally[Order]:
    return StateTally(counters, lambda o: names.order(o.status.value), lambda o: o.id)
