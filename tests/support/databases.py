"""Test databases: a fresh SQLite file or a truncated PostgreSQL database per test.

PostgreSQL comes from SUPPLYTRACE_TEST_POSTGRES_URL (default: the local `test` database). Each test
session works in its own database created next to it and dropped at the end. A missing PostgreSQL
fails the run: these tests are never skipped.

As in production, the tests run the application as a runtime role of their own (roles are
cluster-wide: the name is unique, the role dropped at the end) with the grants of `db grant`; the
database's owner (the URL above) migrates and truncates it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.outbound.sqlalchemy import migrate, runtime_role
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import metadata

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("SUPPLYTRACE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


class PostgresUnavailable(RuntimeError):
    pass


class ScratchPostgres:
    """A database of its own for this test session, migrated once, truncated per test.

    `url` connects as the runtime role, `owner_url` as the owner of the tables (migrations, truncation,
    tests that alter the schema to simulate a failure).
    """

    def __init__(self) -> None:
        base = make_url(postgres_admin_url())
        suffix = uuid.uuid4().hex[:10]
        self.name, self.role = f"supplytrace_test_{suffix}", f"supplytrace_rt_{suffix}"
        self.admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        except sa.exc.OperationalError as error:
            raise PostgresUnavailable(
                f"PostgreSQL is required for these tests ({base.render_as_string(hide_password=True)}): {error}. "
                "Start it (pg_ctlcluster ... main start) or set SUPPLYTRACE_TEST_POSTGRES_URL."
            ) from error
        owner = base.set(database=self.name)
        self.owner_url = owner.render_as_string(hide_password=False)
        password = uuid.uuid4().hex  # for clusters that ask for one; trust auth ignores it
        try:
            self._migrate_and_grant(password)
        except BaseException:
            self.drop()
            raise
        self.url = owner.set(username=self.role, password=password).render_as_string(hide_password=False)

    def _migrate_and_grant(self, password: str) -> None:
        engine = create_engine(self.owner_url)
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                runtime_role.ensure_role(conn, self.role, login=True, password=password)
                report = runtime_role.apply_grants(conn, self.role)
                if report.problems:
                    raise RuntimeError(f"the runtime role's grants: {report.problems}")
        finally:
            engine.dispose()

    def truncate(self) -> None:
        engine = sa.create_engine(self.owner_url, poolclass=sa.pool.NullPool)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            # its privileges went with the database: nothing else refers to the role
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{self.role}"'))
        self.admin.dispose()


class SqliteTemplate:
    """One migrated SQLite file, copied for each test (migrating every time costs more)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "template.db"
        engine = create_engine(f"sqlite:///{self.path}")
        migrate.upgrade(engine)
        engine.dispose()  # the last connection to close checkpoints the WAL into the file

    def fresh(self, folder: Path) -> str:
        target = folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.path, target)
        return f"sqlite:///{target}"


def scratch_postgres() -> Iterator[ScratchPostgres]:
    database = ScratchPostgres()
    try:
        yield database
    finally:
        database.drop()
