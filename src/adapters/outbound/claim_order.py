"""Per-aggregate ordering rule shared by every outbox adapter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

Key = tuple[str, str]
T = TypeVar("T")
U = TypeVar("U")


def keep_in_order(
    candidates: Sequence[tuple[Key, int, T]], pending: Iterable[tuple[Key, int]]
) -> list[T]:
    """Keep a claimed candidate only if every PENDING event of its aggregate before it was claimed too.

    `candidates`: (aggregate key, position, item) ordered by position; `pending`: (key, position)
    of all PENDING events of those aggregates (claimed or not).
    """
    claimed = {(key, pos) for key, pos, _ in candidates}
    blocked_from: dict[Key, int] = {}
    for key, pos in sorted(pending, key=lambda p: p[1]):
        if (key, pos) not in claimed and key not in blocked_from:
            blocked_from[key] = pos
    return [item for key, pos, item in candidates if key not in blocked_from or pos < blocked_from[key]]


def behind_stopped(candidates: Sequence[tuple[Key, int, T]], stopped: Iterable[tuple[Key, int, U]]) -> list[tuple[T, U]]:
    """The candidates that come after a FAILED or PARKED event of their aggregate (`stopped`: key,
    position, item), each with the first such event: they are parked behind it, not delivered."""
    first: dict[Key, tuple[int, U]] = {}
    for key, pos, item in sorted(stopped, key=lambda s: s[1]):
        first.setdefault(key, (pos, item))
    return [(item, first[key][1]) for key, pos, item in candidates if key in first and pos > first[key][0]]
