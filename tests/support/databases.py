"""Test databases: a fresh SQLite file or a truncated PostgreSQL database per test.

PostgreSQL comes from SUPPLYTRACE_TEST_POSTGRES_URL (default: the local `test` database). Each test
session works in its own database created next to it and dropped at the end. A missing PostgreSQL
fails the run: these tests are never skipped.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import metadata

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_admin_url() -> str:
    return os.environ.get("SUPPLYTRACE_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


class PostgresUnavailable(RuntimeError):
    pass


class ScratchPostgres:
    """A database of its own for this test session, migrated once, truncated per test."""

    def __init__(self) -> None:
        base = make_url(postgres_admin_url())
        self.name = f"supplytrace_test_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
        except sa.exc.OperationalError as error:
            raise PostgresUnavailable(
                f"PostgreSQL is required for these tests ({base.render_as_string(hide_password=True)}): {error}. "
                "Start it (pg_ctlcluster ... main start) or set SUPPLYTRACE_TEST_POSTGRES_URL."
            ) from error
        self.url = base.set(database=self.name).render_as_string(hide_password=False)
        engine = create_engine(self.url)
        migrate.upgrade(engine)
        engine.dispose()

    def truncate(self) -> None:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        tables = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
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
