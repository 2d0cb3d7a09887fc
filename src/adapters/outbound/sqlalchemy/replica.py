"""Reads from a PostgreSQL streaming replica, with read-your-writes by consistency token (ADR 0023).

A reading unit of work connects to the replica, unless
- the request already wrote (its own reads then come from the primary, which has the write), or
- the request carries a consistency token (the LSN a write returned in `X-Consistency-Token`) that the
  replica has not replayed yet: `pg_last_wal_replay_lsn() >= token` is checked on the replica's
  connection before any query, and replay only moves forward, so every later statement of that
  connection sees the write. Otherwise the primary serves the read (never a wait, never a stale read).
A writing unit of work records, after its commit, the primary's WAL insert position: it is at or past
the commit record, so a replica that replayed it shows the write.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa

from application.ports.clock import Clock

from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork

TOKEN_HEADER = "X-Consistency-Token"
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(text: str) -> int:
    """`16/B374D848` as a number; ValueError if it is not an LSN."""
    match = _LSN.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a consistency token (an LSN such as 0/3000148): {text[:40]!r}")
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass
class Consistency:
    """What one request knows: the token it sent, the position of its last write."""

    after: int | None = None  # read only from a replica that replayed this LSN
    written: int | None = None  # the primary's WAL position after this request's last commit


# set per request by the API (a mutable box: a sync endpoint's thread works on a copy of the context,
# but on the same box); none outside a request (workers, CLI): reads go to the replica, no bookkeeping
CONSISTENCY: ContextVar[Consistency | None] = ContextVar("supplytrace_consistency", default=None)


class TrackedUnitOfWork(SqlUnitOfWork):
    """The primary's unit of work when a replica serves the reads: notes the WAL position of each commit."""

    def _commit(self) -> None:
        super()._commit()
        box = CONSISTENCY.get()
        if box is not None and self.conn is not None:
            position = parse_lsn(self.conn.scalar(sa.text("SELECT pg_current_wal_insert_lsn()::text")))
            box.written = max(box.written or 0, position)


class ReplicaUnitOfWork(SqlUnitOfWork):
    """A reading unit of work on the replica, falling back to the primary as the module says."""

    def __init__(self, engine: sa.Engine, primary: sa.Engine, clock: Clock, timeline: bool = True) -> None:
        super().__init__(engine, clock, timeline=timeline)
        self.primary = primary
        self.served_by: str | None = None  # "replica" or "primary", once begun

    def _connect(self) -> sa.Connection:
        box = CONSISTENCY.get()
        if not self.read_only or (box is not None and box.written is not None):
            return self._connect_to(self.primary, "primary")
        conn = self._connect_to(self.engine, "replica")
        if box is not None and box.after is not None:
            caught_up = conn.scalar(sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                                    {"lsn": format_lsn(box.after)})
            conn.rollback()  # the unit of work begins its own transaction
            if not caught_up:  # behind the client's write (or not a standby: NULL)
                conn.close()
                return self._connect_to(self.primary, "primary")
        return conn

    def _connect_to(self, engine: sa.Engine, name: str) -> sa.Connection:
        conn = self._open(engine)
        self.served_by = name
        return conn
