"""What the service's runtime role may do on PostgreSQL, computed from the schema of `tables.py`.

Migrations run as the role that owns the tables. The service connects as a runtime role that owns
nothing: only an owner may ALTER, DROP or TRUNCATE a table or disable its triggers, and without the
TRIGGER privilege the role cannot add one. It holds the privileges the rules below give, and no others.

The rules are data. A table they do not name gets DEFAULT, and a table with immutable columns gets
column-level UPDATE on all its other columns, so a table or column added later gets its grant here
without any edit (re-apply the grants after migrating: `supplytrace db upgrade --runtime-role NAME`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

DEFAULT = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND_ONLY = ("SELECT", "INSERT")

TABLE_PRIVILEGES: dict[str, tuple[str, ...]] = {
    "audit_log": APPEND_ONLY,  # the audit trail: appended to, never rewritten
    "order_history": APPEND_ONLY,
    "outbox_events": APPEND_ONLY + ("DELETE",),  # UPDATE of its delivery state only (IMMUTABLE_COLUMNS);
    # a DELETE passes only for events already in the archive (a trigger of migration 0005)
    # handled events, as they were delivered, and their idempotency keys (a handled event stays handled):
    # never updated; DELETE for the retention purge, which a trigger of migration 0009 refuses for any row
    # younger than the 1-day floor (handled_at, processed_at by the database's clock), so recent history stays
    "outbox_archive": APPEND_ONLY + ("DELETE",),
    "processed_events": APPEND_ONLY + ("DELETE",),
    "delivery_steps": APPEND_ONLY + ("DELETE",),
    # a POST's key: inserted with its write, its response added once (IMMUTABLE_COLUMNS), DELETE for the purge
    # certificate records are withdrawn (an UPDATE), never deleted: the qualification evidence stays (ADR 0025)
    "supplier_certificates": APPEND_ONLY + ("UPDATE",),
    "reminders_sent": APPEND_ONLY,  # a reminder sent stays sent (ADR 0027)
    # the scorecard (ADR 0028): a receipt is a record of fact, a stored month of scores is immutable
    # (inserted once with ON CONFLICT DO NOTHING): neither is ever updated or deleted
    "supplier_receipts": APPEND_ONLY,
    "supplier_score_periods": APPEND_ONLY,
    "idempotency_keys": APPEND_ONLY + ("DELETE",),  # the delivery timeline: steps are added, never rewritten;
    # DELETE for the retention purge (with their archived event)
}

# what happened, to what, when and by whom: written once by the business transaction; the relay may
# update only the other columns (status, attempts, last_error, next_attempt_at, locked_until, …)
IMMUTABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "outbox_events": ("position", "event_id", "event_type", "aggregate_type", "aggregate_id", "occurred_at",
                      "actor", "correlation_id", "payload", "created_at", "traceparent", "tracestate"),
    "idempotency_keys": ("user_name", "key", "fingerprint", "method", "path", "created_at"),
}

# tables of Alembic rather than of tables.py: the service reads the schema revision when it starts
TOOL_TABLES: dict[str, tuple[str, ...]] = {"alembic_version": ("SELECT",)}

SEQUENCE_PRIVILEGES = ("USAGE", "SELECT")  # nextval of the identity columns; no setval (UPDATE)
SCHEMA_PRIVILEGES = ("USAGE",)  # no CREATE: no table, function or trigger function of its own
TABLE_PRIVILEGE_TYPES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


@dataclass(frozen=True)
class TableGrant:
    table: str
    privileges: tuple[str, ...]
    update_columns: tuple[str, ...] = ()  # column-level UPDATE, on a table without table-level UPDATE

    def held(self) -> frozenset[str]:
        return frozenset(self.privileges) | {f"UPDATE ({column})" for column in self.update_columns}


def describe(privileges: Iterable[str]) -> str:
    """`SELECT, INSERT, UPDATE (status, attempts)`: table-level first, then the columns of each privilege."""
    order = ("USAGE", "CONNECT", "CREATE") + TABLE_PRIVILEGE_TYPES
    whole = sorted({p for p in privileges if " " not in p}, key=lambda p: (order.index(p) if p in order else 99, p))
    columns: dict[str, list[str]] = {}
    for privilege in sorted(p for p in privileges if " " in p):
        kind, column = privilege.split(" ", 1)
        columns.setdefault(kind, []).append(column.strip("()"))
    parts = whole + [f"{kind} ({', '.join(names)})" for kind, names in columns.items()]
    return ", ".join(parts) or "nothing"


def runtime_grants(schema: sa.MetaData) -> list[TableGrant]:
    """The grant of every table of the schema, and of the tools' tables."""
    columns = {table.name: [column.name for column in table.columns] for table in schema.sorted_tables}
    stale = sorted((TABLE_PRIVILEGES.keys() | IMMUTABLE_COLUMNS.keys()) - columns.keys())
    if stale:
        raise ValueError(f"grant rules name tables that are not in the schema: {', '.join(stale)}")
    grants = [_table_grant(table, names) for table, names in columns.items()]
    grants += [TableGrant(table, privileges) for table, privileges in TOOL_TABLES.items()]
    return sorted(grants, key=lambda grant: grant.table)


def _table_grant(table: str, columns: list[str]) -> TableGrant:
    privileges = TABLE_PRIVILEGES.get(table, DEFAULT)
    immutable = IMMUTABLE_COLUMNS.get(table)
    if immutable is None:
        return TableGrant(table, privileges)
    unknown = sorted(set(immutable) - set(columns))
    if unknown:
        raise ValueError(f"immutable columns not in {table}: {', '.join(unknown)}")
    if "UPDATE" in privileges:  # a table-level UPDATE would cover the immutable columns too
        raise ValueError(f"{table} has immutable columns: it cannot have table-level UPDATE")
    return TableGrant(table, privileges, tuple(name for name in columns if name not in immutable))


def grant_statements(role: str, schema: str, database: str, grants: Iterable[TableGrant],
                     quote: Callable[[str], str]) -> list[str]:
    """Revoke everything the role holds in the schema, then grant exactly the rules (one transaction)."""
    r, s = quote(role), quote(schema)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",  # column privileges go with them
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON SCHEMA {s} FROM {r}",
        f"GRANT CONNECT ON DATABASE {quote(database)} TO {r}",
        f"GRANT {', '.join(SCHEMA_PRIVILEGES)} ON SCHEMA {s} TO {r}",
    ]
    for grant in grants:
        table = f"{s}.{quote(grant.table)}"
        statements.append(f"GRANT {', '.join(grant.privileges)} ON TABLE {table} TO {r}")
        if grant.update_columns:
            columns = ", ".join(quote(column) for column in grant.update_columns)
            statements.append(f"GRANT UPDATE ({columns}) ON TABLE {table} TO {r}")
    statements.append(f"GRANT {', '.join(SEQUENCE_PRIVILEGES)} ON ALL SEQUENCES IN SCHEMA {s} TO {r}")
    return statements
