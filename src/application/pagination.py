"""Pagination shared by every list query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import ValidationError

T = TypeVar("T")
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1  # far past any page, well inside the OFFSET both databases take
COUNT_CAP = 10_000  # a filtered list no counter covers is counted this far, no further


@dataclass(frozen=True)
class PageRequest:
    """`counted=False`: the caller reads on until a short page (a CSV export) and needs no `total`."""

    limit: int = 50
    offset: int = 0
    counted: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError("offset", f"must be between 0 and {MAX_OFFSET}")


@dataclass(frozen=True)
class Page(Generic[T]):
    """`total` is exact unless `total_exact` is False: then at least `total` rows match (a filter
    that no counter covers matched more than COUNT_CAP rows, and this page is not the last)."""

    items: list[T]
    total: int
    limit: int
    offset: int
    total_exact: bool = True


def page_of(items: list[T], page: PageRequest, total: int | None, count_upto: Callable[[int], int]) -> Page[T]:
    """The page with its total: `total` when a counter gave it; else the end of the list when this page
    reaches it, else `count_upto(COUNT_CAP + 1)` (a count that stops there)."""
    if total is not None:
        return Page(items, total, page.limit, page.offset)
    if 0 < len(items) < page.limit or (page.offset == 0 and not items):
        return Page(items, page.offset + len(items), page.limit, page.offset)  # the last page: no count
    if not page.counted:
        return Page(items, page.offset + len(items), page.limit, page.offset, total_exact=False)
    counted = count_upto(COUNT_CAP + 1)
    if counted <= COUNT_CAP:
        return Page(items, counted, page.limit, page.offset)
    return Page(items, max(COUNT_CAP, page.offset + len(items)), page.limit, page.offset, total_exact=False)
