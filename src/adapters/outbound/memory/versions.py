"""Versions of in-memory aggregates: like the SQL adapters, +1 for each transaction that changed one."""

from __future__ import annotations

import dataclasses
from typing import Any

UNVERSIONED = ("events", "version")


def _state(aggregate: Any) -> tuple[str, ...]:
    # repr: the item and line dataclasses compare by identity, their repr shows their fields
    return tuple(repr(getattr(aggregate, f.name)) for f in dataclasses.fields(aggregate) if f.name not in UNVERSIONED)


class Versions:
    """Remembers each aggregate as the transaction read it; `flush` moves the changed ones one version up."""

    def __init__(self) -> None:
        self.read: dict[int, tuple[Any, tuple[str, ...]]] = {}

    def added(self, aggregate: Any) -> None:
        aggregate.version = 1
        self.loaded(aggregate)

    def loaded(self, aggregate: Any) -> None:
        if id(aggregate) not in self.read:
            self.read[id(aggregate)] = (aggregate, _state(aggregate))

    def touch(self, aggregate: Any) -> None:
        """Changed outside its own fields: the next flush moves it one version up all the same."""
        self.loaded(aggregate)
        self.read[id(aggregate)] = (aggregate, ("touched",))

    def flush(self) -> None:
        for key, (aggregate, before) in list(self.read.items()):
            now = _state(aggregate)
            if now != before:
                aggregate.version += 1
                self.read[key] = (aggregate, now)
