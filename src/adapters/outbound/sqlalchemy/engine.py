"""Engines for SQLite (WAL, immediate write transactions) and PostgreSQL (psycopg 3), with bounded waits.

Every wait is bounded (connect, pool checkout, statement, SQLite lock) and an outage is raised as the
core's `StoreUnavailable`, never as a driver error: the API answers 503 and the workers retry.
Bound parameters never appear in error messages (`hide_parameters`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from application.ports.unit_of_work import StoreUnavailable

READ_ONLY = "supplytrace_read_only"  # execution option of a reading unit of work's connection

# SQLSTATE classes of a server that is down, restarting, overloaded or cancelled the statement
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58", "40")
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "disk i/o error", "unable to open")


def create_engine(url: str, pool_size: int = 40, echo: bool = False, statement_timeout: float = 15.0,
                  connect_timeout: float = 5.0, pool_timeout: float = 5.0, read_only: bool = False) -> sa.Engine:
    """An engine ready for concurrent use by the API threads and the workers (`read_only`: PostgreSQL
    sessions that refuse writes, for a read replica's URL that might point at a primary)."""
    kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": statement_timeout},
                                  **kwargs)
        _configure_sqlite(engine, in_memory=":memory:" in url or url.rstrip("/") == "sqlite:",
                          busy_ms=int(statement_timeout * 1000))
    else:
        # the pool must cover the real concurrency: past pool_size connections are reopened
        options = f"-c statement_timeout={int(statement_timeout * 1000)}"
        if read_only:
            options += " -c default_transaction_read_only=on"
        engine = sa.create_engine(
            url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, pool_timeout=pool_timeout,
            connect_args={"connect_timeout": max(1, round(connect_timeout)), "options": options}, **kwargs)
        event.listen(engine, "connect", _binary_arrays)
    event.listen(engine, "handle_error", _unavailable)
    return engine


def _binary_arrays(dbapi_connection: Any, _record: Any) -> None:
    """Send list parameters (the columns of a multi-row insert, see bulk.py) in binary: psycopg's text
    format escapes every element with regular expressions, 5.7 times the CPU for 100 rows."""
    from psycopg.types.array import ListBinaryDumper

    dbapi_connection.adapters.register_dumper(list, ListBinaryDumper)


def unavailable(error: BaseException) -> bool:
    """Whether a driver error means "the database is not there right now" rather than a bug."""
    if isinstance(error, sa.exc.TimeoutError):  # no pooled connection freed in time
        return True
    original = getattr(error, "orig", error)
    if getattr(error, "connection_invalidated", False) or isinstance(error, sa.exc.InterfaceError):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate[:2] in _UNAVAILABLE_CLASSES
    message = str(original).lower()
    if type(original).__module__.startswith("sqlite3"):
        return any(text in message for text in _SQLITE_UNAVAILABLE)
    return True  # psycopg without SQLSTATE: the connection itself failed


def _unavailable(context: sa.engine.ExceptionContext) -> BaseException | None:
    error = context.sqlalchemy_exception
    if context.is_disconnect or (error is not None and unavailable(error)):
        # the connection is still invalidated (SQLAlchemy does it after the handlers)
        return StoreUnavailable(f"database unavailable: {type(context.original_exception).__name__}")
    return None


def _configure_sqlite(engine: sa.Engine, in_memory: bool, busy_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event emit BEGIN itself (see _on_begin)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # a writer takes the write lock up front: a deferred transaction that reads, then writes
        # after another writer committed, fails with SQLITE_BUSY instead of waiting. A reader
        # stays deferred: in WAL mode it reads its snapshot and never waits for the writers.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")
