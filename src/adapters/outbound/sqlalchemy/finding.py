"""`Finding` (application/listing.py) in SQL: ILIKE search, creation range, ORDER BY with the tie-breaker.

PostgreSQL: `ILIKE '%…%'`, served by the pg_trgm GIN indexes of migration 0013 (case-insensitive for
every script). SQLite: SQLAlchemy's `ilike` is `lower(x) LIKE lower(y)`, case-insensitive for ASCII
letters only (SQLite's lower() leaves other letters as they are). Nulls sort last ascending and first
descending on both databases (PostgreSQL's default, so its indexes still serve the order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from application.listing import Finding, ListSpec, like_pattern

ESCAPE = "\\"


def find(query: sa.Select, finding: Finding, spec: ListSpec, columns: Mapping[str, Any],
         search: Sequence[Any], created: Any | None) -> tuple[sa.Select, list[Any]]:
    """The query narrowed by the search and the date range, and its ORDER BY clauses."""
    if finding.q is not None and search:
        pattern = like_pattern(finding.q, ESCAPE)
        query = query.where(sa.or_(*(column.ilike(pattern, escape=ESCAPE) for column in search)))
    if created is not None and finding.created_from is not None:
        query = query.where(created >= finding.created_from)
    if created is not None and finding.created_until is not None:
        query = query.where(created < finding.created_until)
    order = [columns[key.field].desc().nulls_first() if key.descending else columns[key.field].asc().nulls_last()
             for key in finding.order(spec)]
    return query, order
