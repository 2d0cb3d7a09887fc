"""The runtime role on PostgreSQL: create it, apply its grants, then read back what it can really do.

Run as the owner of the tables (the role migrations run as). Reading back goes through PostgreSQL's
`has_*_privilege` functions, which count PUBLIC and inherited privileges too: what is reported is
what the role can do, not what this module meant to grant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa

from adapters.outbound.sqlalchemy.grants import (
    SCHEMA_PRIVILEGES,
    SEQUENCE_PRIVILEGES,
    TABLE_PRIVILEGE_TYPES,
    describe,
    grant_statements,
    runtime_grants,
)
from adapters.outbound.sqlalchemy.tables import metadata

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_VERIFIER = re.compile(r"[A-Za-z0-9+/=$:-]+")  # a SCRAM-SHA-256 or md5 password verifier

Privileges = dict[str, frozenset[str]]  # "table audit_log" → {"SELECT", "INSERT", "UPDATE (status)", …}


class RoleRefused(ValueError):
    pass


@dataclass
class GrantReport:
    role: str
    before: Privileges
    after: Privileges
    problems: list[str] = field(default_factory=list)

    def revoked(self) -> Privileges:
        return {name: lost for name, held in self.before.items() if (lost := held - self.after.get(name, set()))}

    def lines(self) -> list[str]:
        """What the role may do now, what it lost, and the check; or why nothing was changed."""
        if self.problems:
            return [f"refused, nothing changed: {problem}" for problem in self.problems]
        shown = [f"  {name}: {describe(held)}" for name, held in sorted(self.after.items())
                 if not name.startswith("sequence ")]
        sequences = sum(name.startswith("sequence ") for name in self.after)  # all alike, or a problem
        revoked = "; ".join(f"{name} {describe(lost)}" for name, lost in sorted(self.revoked().items()))
        return [f"grants of {self.role}:", *shown, f"  every sequence ({sequences}): {describe(SEQUENCE_PRIVILEGES)}",
                f"revoked: {revoked or 'nothing'}",
                f"checked: {self.role} owns nothing and holds exactly these privileges"]


def role_exists(conn: sa.Connection, role: str) -> bool:
    return conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first() is not None


def ensure_role(conn: sa.Connection, role: str, login: bool, password: str | None) -> str:
    """Create the role if it is missing; set its password if one is given. Says what it did."""
    _check_name(conn, role)
    quoted = conn.dialect.identifier_preparer.quote(role)
    secret = f" PASSWORD '{_verifier(conn, role, password)}'" if password is not None else ""
    if role_exists(conn, role):
        if secret:
            conn.exec_driver_sql(f"ALTER ROLE {quoted}{secret}")
        return f"role {role} exists" + (", password set" if secret else ", kept as it is")
    kind = "LOGIN" if login else "NOLOGIN"
    conn.exec_driver_sql(f"CREATE ROLE {quoted} {kind} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                         f"NOBYPASSRLS{secret}")
    return f"role {role} created ({kind})"


def apply_grants(conn: sa.Connection, role: str) -> GrantReport:
    """Revoke what the role holds in the schema, grant the rules, and check the outcome (one transaction)."""
    _check_name(conn, role)
    schema, database = conn.execute(sa.text("SELECT current_schema(), current_database()")).one()
    before = held_privileges(conn, role, schema)
    grants = runtime_grants(metadata)
    for statement in grant_statements(role, schema, database, grants, conn.dialect.identifier_preparer.quote):
        conn.exec_driver_sql(statement)
    after = held_privileges(conn, role, schema)
    expected: Privileges = {f"table {grant.table}": grant.held() for grant in grants}
    expected |= {name: frozenset(SEQUENCE_PRIVILEGES) for name in after if name.startswith("sequence ")}
    expected[f"schema {schema}"] = frozenset(SCHEMA_PRIVILEGES)
    problems = _ownership_problems(conn, role, schema) or [  # an owner's privileges say nothing
        f"{name}: holds {describe(after.get(name, ()))}; the rules give {describe(want)}"
        for name in sorted(expected.keys() | after.keys())
        if (want := expected.get(name, frozenset())) != after.get(name, frozenset())]
    return GrantReport(role, before, after, problems)


def held_privileges(conn: sa.Connection, role: str, schema: str) -> Privileges:
    params = {"role": role, "schema": schema, "tables": list(TABLE_PRIVILEGE_TYPES),
              "sequences": list(SEQUENCE_PRIVILEGES) + ["UPDATE"], "schemas": list(SCHEMA_PRIVILEGES) + ["CREATE"]}
    held: Privileges = {}
    for name, privileges, columns in conn.execute(sa.text(_HELD), params):
        held[name] = frozenset(privileges) | {f"UPDATE ({column})" for column in columns}
    return {name: privileges for name, privileges in held.items() if privileges}


_HELD = """
SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' ELSE 'table ' END || c.relname,
       ARRAY(SELECT p FROM unnest(CAST(CASE c.relkind WHEN 'S' THEN :sequences ELSE :tables END AS text[])) AS p
             WHERE CASE c.relkind WHEN 'S' THEN has_sequence_privilege(CAST(:role AS name), c.oid, p)
                   ELSE has_table_privilege(CAST(:role AS name), c.oid, p) END),
       ARRAY(SELECT a.attname::text FROM pg_attribute AS a
             WHERE c.relkind <> 'S' AND a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
               AND has_column_privilege(CAST(:role AS name), c.oid, a.attnum, 'UPDATE')
               AND NOT has_table_privilege(CAST(:role AS name), c.oid, 'UPDATE') ORDER BY a.attnum)
FROM pg_class AS c
WHERE c.relnamespace = CAST(CAST(:schema AS text) AS regnamespace) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
UNION ALL
SELECT 'schema ' || CAST(:schema AS text),
       ARRAY(SELECT p FROM unnest(CAST(:schemas AS text[])) AS p
             WHERE has_schema_privilege(CAST(:role AS name), CAST(:schema AS text), p)),
       ARRAY[]::text[]
"""

_OWNERSHIP = """
SELECT r.rolsuper, r.rolcreaterole, r.rolname = current_user,
       pg_has_role(r.oid, d.datdba, 'MEMBER'), has_database_privilege(r.oid, d.oid, 'CREATE'),
       pg_has_role(r.oid, n.nspowner, 'MEMBER'),
       ARRAY(SELECT c.relname::text FROM pg_class AS c
             WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
               AND pg_has_role(r.oid, c.relowner, 'MEMBER') ORDER BY 1)
FROM pg_roles AS r, pg_database AS d, pg_namespace AS n
WHERE r.rolname = :role AND d.datname = current_database() AND n.nspname = :schema
"""


def _ownership_problems(conn: sa.Connection, role: str, schema: str) -> list[str]:
    row = conn.execute(sa.text(_OWNERSHIP), {"role": role, "schema": schema}).one()
    superuser, createrole, is_owner, database_owner, create_schemas, schema_owner, owned = row
    checks = [
        (superuser, "is a superuser: no privilege applies to it"),
        (createrole, "has CREATEROLE: it may make itself a member of the owner"),
        (is_owner, "is the role running this command (the owner): the service must connect as another role"),
        (database_owner, "owns the database (or may become its owner): it may drop it"),
        (create_schemas, "may create schemas in the database"),
        (schema_owner, f"owns schema {schema} (or may become its owner): it may drop it and every table in it"),
        (bool(owned), f"owns (or may become the owner of) {_some(owned)}: it may alter, drop and truncate them"),
    ]
    return [f"{role} {text}" for failed, text in checks if failed]


def _some(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _check_name(conn: sa.Connection, role: str) -> None:
    if conn.dialect.name != "postgresql":
        raise RoleRefused(f"{conn.dialect.name} has no roles: a runtime role needs PostgreSQL")
    check_role_name(role)


def check_role_name(role: str) -> None:
    if not ROLE_NAME.fullmatch(role):
        raise RoleRefused(f"role name {role!r}: use lower-case letters, digits and _ (at most 63)")


def _verifier(conn: sa.Connection, role: str, password: str) -> str:
    """The password's verifier, computed here by libpq: the password itself never reaches the server."""
    if not password:
        raise RoleRefused("an empty password: use --no-login for a role without one")
    pgconn = conn.connection.driver_connection.pgconn  # psycopg 3
    verifier = pgconn.encrypt_password(password.encode(), role.encode()).decode()
    if not _VERIFIER.fullmatch(verifier):
        raise RoleRefused("libpq returned an unexpected password verifier")
    return verifier
