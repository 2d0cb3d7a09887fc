"""Pagination shared by every list query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import ValidationError

T = TypeVar("T")
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1  # far past any page, well inside the OFFSET both databases take


@dataclass(frozen=True)
class PageRequest:
    limit: int = 50
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValidationError("limit", f"must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError("offset", f"must be between 0 and {MAX_OFFSET}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
