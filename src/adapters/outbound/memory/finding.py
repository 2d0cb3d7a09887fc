"""`Finding` (application/listing.py) over Python objects: casefold search, creation range, stable sort."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from application.listing import Finding, ListSpec

T = TypeVar("T")


def find(items: Iterable[T], finding: Finding, spec: ListSpec, fields: Mapping[str, Callable[[T], Any]],
         search: Sequence[Callable[[T], str | None]], created: Callable[[T], Any] | None) -> list[T]:
    rows = list(items)
    if finding.q is not None and search:
        needle = finding.q.casefold()
        rows = [r for r in rows if any(needle in (get(r) or "").casefold() for get in search)]
    if created is not None and finding.created_from is not None:
        rows = [r for r in rows if created(r) >= finding.created_from]
    if created is not None and finding.created_until is not None:
        rows = [r for r in rows if created(r) < finding.created_until]
    for key in reversed(finding.order(spec)):  # stable sorts, last key first; nulls as the databases sort them
        get = fields[key.field]
        rows.sort(key=lambda r: (get(r) is None, get(r) if get(r) is not None else 0), reverse=key.descending)
    return rows
