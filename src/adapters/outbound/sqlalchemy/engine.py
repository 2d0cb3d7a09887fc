"""Engines for SQLite (WAL, immediate write transactions) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

READ_ONLY = "supplytrace_read_only"  # execution option of a reading unit of work's connection


def create_engine(url: str, pool_size: int = 40, echo: bool = False) -> sa.Engine:
    """An engine ready for concurrent use by the API threads and the workers."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine, in_memory=":memory:" in url or url.rstrip("/") == "sqlite:")
        return engine
    # the pool must cover the real concurrency: past pool_size connections are reopened
    return sa.create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: sa.Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event emit BEGIN itself (see _on_begin)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # a writer takes the write lock up front: a deferred transaction that reads, then writes
        # after another writer committed, fails with SQLITE_BUSY instead of waiting. A reader
        # stays deferred: in WAL mode it reads its snapshot and never waits for the writers.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")
