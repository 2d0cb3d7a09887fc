"""The Counters port in memory: the transaction's private copy holds them, commit publishes them."""

from __future__ import annotations

from collections.abc import Iterable

from application.ports.counters import Counters

from adapters.outbound.memory.database import MemoryState


class MemoryCounters(Counters):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def add(self, name: str, delta: int = 1) -> None:
        if delta:
            self.state.counters[name] = self.state.counters.get(name, 0) + delta

    def read(self, names: Iterable[str] | None = None) -> dict[str, int]:
        values = self.state.counters
        return dict(values) if names is None else {n: values.get(n, 0) for n in names}
