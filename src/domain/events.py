"""Domain events: immutable, past tense, recorded by aggregates and never published by them."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar
from uuid import UUID, uuid4

E = TypeVar("E", bound="DomainEvent")


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    event_type: ClassVar[str]
    aggregate_type: ClassVar[str]

    occurred_at: datetime
    event_id: UUID = field(default_factory=uuid4)

    @property
    def aggregate_id(self) -> str:
        raise NotImplementedError

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        """What the event changed on its aggregate, as (field, old, new); a creation gives its initial
        values as (field, None, value). Goes to the payload as `changes` (ADR 0026)."""
        return []

    def initial(self, *names: str) -> list[tuple[str, Any, Any]]:
        """(name, None, value) for each named field that has a value: the changes of a creation."""
        return [(name, None, getattr(self, name)) for name in names if getattr(self, name) is not None]

    def payload(self) -> dict[str, Any]:
        """The business fields as JSON-ready values (dates as ISO strings), and `changes`: [[field, old,
        new]] (an event that declares a `changes` field of its own gives that one, unless it left it empty)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in ("occurred_at", "event_id"):
                continue
            out[f.name] = _plain(getattr(self, f.name))
        if not out.get("changes"):
            out["changes"] = [[name, _plain(old), _plain(new)] for name, old, new in self.field_changes()]
        return out

    @classmethod
    def rebuild(cls: type[E], payload: dict[str, Any], event_id: UUID, occurred_at: datetime) -> E:
        """The event again, from `payload()`'s output; raises ValueError/TypeError/KeyError if it does not fit."""
        values = {name: _typed(kind, payload[name]) for name, kind in _fields(cls) if name in payload}
        return cls(event_id=event_id, occurred_at=occurred_at, **values)


@functools.cache
def _fields(cls: type[DomainEvent]) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls)
                 if f.init and f.name not in ("occurred_at", "event_id"))


def _typed(kind: Any, value: Any) -> Any:
    """The inverse of `_plain` for one declared field type."""
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
        return _typed(kind, value)
    if origin is tuple:
        return tuple(_typed(typing.get_args(kind)[0], v) for v in value)
    if origin in (dict, list) or kind is Any:
        return value
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind in (UUID, Decimal) or (isinstance(kind, type) and issubclass(kind, Enum)):
        return kind(value)
    if kind in (int, str, bool, float):
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value
    raise TypeError(f"no rule to rebuild a {kind!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
