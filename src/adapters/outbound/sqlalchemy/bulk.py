"""Multi-row inserts as one statement with a fixed text, whatever the number of rows.

On PostgreSQL the rows travel as one array per column (`INSERT … SELECT … FROM unnest(…)`): one
round trip, one cached plan, no per-row parsing or binding on the server (psycopg's executemany would
send one INSERT per row). Elsewhere SQLAlchemy's executemany does the work.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def bulk_insert(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]], skip_existing: bool = False,
                returning: Sequence[str] = ()) -> list[sa.Row]:
    """Insert the rows (all with the same keys); with `skip_existing`, a row whose unique key exists is
    skipped (ON CONFLICT DO NOTHING). Returns the `returning` columns of the rows inserted."""
    if not rows:
        return []
    names = tuple(rows[0])
    if conn.dialect.name != "postgresql":
        statement: Any = sqlite.insert(table) if skip_existing else sa.insert(table)
        if skip_existing:
            statement = statement.on_conflict_do_nothing()
        if returning:
            return list(conn.execute(statement.returning(*(table.c[n] for n in returning)), list(rows)))
        conn.execute(statement, list(rows))
        return []
    sql, json_columns = _unnest_insert(table, names, skip_existing, tuple(returning))
    params = {f"p{i}": [_plain(row[name], name in json_columns) for row in rows] for i, name in enumerate(names)}
    result = conn.exec_driver_sql(sql, params)
    return list(result) if returning else []


def _plain(value: Any, as_json: bool) -> Any:
    return json.dumps(value, separators=(",", ":")) if as_json and value is not None else value


@functools.cache
def _unnest_insert(table: sa.Table, names: tuple[str, ...], skip_existing: bool,
                   returning: tuple[str, ...]) -> tuple[str, frozenset[str]]:
    dialect = postgresql.dialect()
    json_columns = {n for n in names if isinstance(table.c[n].type.dialect_impl(dialect), postgresql.JSONB)}
    arrays = []
    for i, name in enumerate(names):
        kind = "text" if name in json_columns else table.c[name].type.dialect_impl(dialect).compile(dialect=dialect)
        arrays.append(f"%(p{i})s::{kind}[]")
    columns = ", ".join(f'"{n}"' for n in names)
    selected = ", ".join(f'u."{n}"::jsonb' if n in json_columns else f'u."{n}"' for n in names)
    sql = (f'INSERT INTO "{table.name}" ({columns}) SELECT {selected} FROM unnest({", ".join(arrays)}) '
           f"AS u({columns})")
    if skip_existing:
        sql += " ON CONFLICT DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{n}"' for n in returning)
    return sql, frozenset(json_columns)
