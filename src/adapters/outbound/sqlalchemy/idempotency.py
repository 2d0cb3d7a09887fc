"""The IdempotencyStore port on SQLAlchemy Core: the key's primary key settles a race (ADR 0020).

A second transaction inserting the same (user, key) waits for the first (PostgreSQL: on the unique
index; SQLite: one writer at a time), then fails if the first committed: it rolls back whole, so it
wrote nothing. A key older than the window is replaced in the same statement sequence.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from application.ports.idempotency import IdempotencyRecord, IdempotencyStore, KeyInUse, StoredResponse

from adapters.outbound.sqlalchemy.integrity import duplicate_key
from adapters.outbound.sqlalchemy.tables import idempotency_keys

k = idempotency_keys.c


def _record(row: sa.Row) -> IdempotencyRecord:
    response = None
    if row.status_code is not None:
        response = StoredResponse(row.status_code, dict(row.response_headers or {}), row.response_body or "")
    return IdempotencyRecord(row.user_name, row.key, row.fingerprint, row.method, row.path, row.created_at, response)


class SqlIdempotencyStore(IdempotencyStore):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def get(self, user: str, key: str) -> IdempotencyRecord | None:
        row = self.conn.execute(sa.select(idempotency_keys).where(k.user_name == user, k.key == key)).one_or_none()
        return _record(row) if row is not None else None

    def insert(self, record: IdempotencyRecord, expired_before: datetime) -> None:
        self.conn.execute(sa.delete(idempotency_keys).where(
            k.user_name == record.user, k.key == record.key, k.created_at < expired_before))
        try:
            self.conn.execute(sa.insert(idempotency_keys).values(
                user_name=record.user, key=record.key, fingerprint=record.fingerprint, method=record.method,
                path=record.path, created_at=record.created_at))
        except sa.exc.IntegrityError as error:
            if duplicate_key(error, "idempotency_keys"):
                raise KeyInUse("another request with this Idempotency-Key wrote first; "
                               "retry to get its answer") from error
            raise

    def complete(self, user: str, key: str, response: StoredResponse) -> None:
        self.conn.execute(sa.update(idempotency_keys).where(k.user_name == user, k.key == key).values(
            status_code=response.status, response_headers=response.headers, response_body=response.body))

    def purge(self, before: datetime, limit: int) -> int:
        oldest = (sa.select(k.user_name, k.key).where(k.created_at < before).order_by(k.created_at).limit(limit)
                  .subquery())
        statement = sa.delete(idempotency_keys).where(
            sa.tuple_(k.user_name, k.key).in_(sa.select(oldest.c.user_name, oldest.c.key)))
        return self.conn.execute(statement).rowcount

    def count(self, before: datetime) -> int:
        query = sa.select(sa.func.count()).select_from(idempotency_keys).where(k.created_at < before)
        return self.conn.execute(query).scalar_one()
