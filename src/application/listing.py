"""Finding things in a list (ADR 0021): sort keys, a search text and a creation-date range, as plain data.

Every list query takes a `Finding` next to its own exact filters. The API parses the client's text
with `Finding.parse` against the list's `ListSpec` (its sortable fields, its default order, its
tie-breaker); the adapters only translate field names into columns or attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from domain.errors import ValidationError

Q_MAX_LENGTH = 200
SORT_MAX_KEYS = 5


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


@dataclass(frozen=True)
class ListSpec:
    """A list's sortable fields, its default order and the unique field appended to every order."""

    sortable: tuple[str, ...]
    default: tuple[SortKey, ...]
    tie_breaker: SortKey

    def parse_sort(self, text: str | None) -> tuple[SortKey, ...]:
        """`-created_at,name` → keys; unknown, repeated or empty fields are a ValidationError naming `sort`."""
        if text is None or not text.strip():
            keys = list(self.default)
        else:
            keys = []
            for part in text.split(","):
                part = part.strip()
                descending = part.startswith("-")
                name = part[1:] if descending or part.startswith("+") else part
                if name not in self.sortable:
                    shown = name[:40] or "(empty)"
                    raise ValidationError("sort", f"unknown sort field {shown!r}; allowed: {', '.join(self.sortable)} "
                                                  "(prefix - for descending)")
                if any(k.field == name for k in keys):
                    raise ValidationError("sort", f"field {name!r} given twice")
                keys.append(SortKey(name, descending))
            if len(keys) > SORT_MAX_KEYS:
                raise ValidationError("sort", f"at most {SORT_MAX_KEYS} fields")
        if not any(k.field == self.tie_breaker.field for k in keys):
            # the tie-breaker follows the direction of the first key, so that one index serves both
            keys.append(SortKey(self.tie_breaker.field, keys[0].descending if keys else self.tie_breaker.descending))
        return tuple(keys)


def parse_instant(text: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time; a date alone is its whole day (`end`: up to the next midnight,
    excluded); a date-time without an offset is UTC."""
    if text is None or text == "":
        return None
    value = text.strip()
    if len(value) > 19:  # an unencoded `+` of an offset arrives as a space
        value = value[:19] + value[19:].replace(" ", "+")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        instant = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValidationError(name, "must be an ISO 8601 date (2026-12-31) or date-time "
                                    "(2026-12-31T08:00:00Z)") from None
    instant = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    instant = instant.astimezone(UTC)
    return instant + timedelta(microseconds=1) if end else instant


@dataclass(frozen=True)
class Finding:
    """`q`: a case-insensitive substring of the list's text fields; `created_from` ≤ creation <
    `created_until`; `sort`: the order, tie-breaker included (empty: the adapter's default order)."""

    q: str | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    sort: tuple[SortKey, ...] = field(default=())

    @classmethod
    def parse(cls, spec: ListSpec, q: str | None = None, sort: str | None = None, created_from: str | None = None,
              created_to: str | None = None) -> Finding:
        if q is not None and len(q) > Q_MAX_LENGTH:
            raise ValidationError("q", f"at most {Q_MAX_LENGTH} characters")
        start = parse_instant(created_from, "created_from")
        until = parse_instant(created_to, "created_to", end=True)
        if start is not None and until is not None and start >= until:
            raise ValidationError("created_from", "must not be after created_to")
        return cls(q=q or None, created_from=start, created_until=until, sort=spec.parse_sort(sort))

    @property
    def narrows(self) -> bool:
        """True when it selects rows (a search or a date range): a counter of the whole list no longer applies."""
        return self.q is not None or self.created_from is not None or self.created_until is not None

    def order(self, spec: ListSpec) -> tuple[SortKey, ...]:
        return self.sort or spec.parse_sort(None)


def like_pattern(text: str, escape: str = "\\") -> str:
    """`%text%` for LIKE/ILIKE with the user's `%`, `_` and the escape character taken literally."""
    quoted = text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")
    return f"%{quoted}%"


# the lists: their sortable fields, default order (unchanged from before sort= existed) and tie-breaker
SUPPLIERS = ListSpec(("id", "name", "certification_expiry", "created_at", "updated_at"),
                     (SortKey("id"),), SortKey("id"))
NCS = ListSpec(("id", "supplier_id", "severity", "status", "created_at", "updated_at"),
               (SortKey("id"),), SortKey("id"))
ORDERS = ListSpec(("created_at", "updated_at", "status", "customer_id", "customer_name", "order_id"),
                  (SortKey("created_at", True),), SortKey("id", True))
INVENTORIES = ListSpec(("inventory_id", "customer", "expiry_date", "total_items", "created_at", "updated_at"),
                       (SortKey("expiry_date", True),), SortKey("inventory_id", True))
AUDIT = ListSpec(("id", "occurred_at", "event_type", "entity_type"), (SortKey("id", True),), SortKey("id", True))
