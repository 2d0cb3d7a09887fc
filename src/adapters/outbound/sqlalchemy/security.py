"""Revoked tokens on SQLAlchemy Core: one row per token ended before its expiry."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from application.ports.security import RevokedTokens

from adapters.outbound.sqlalchemy.integrity import duplicate_key
from adapters.outbound.sqlalchemy.tables import revoked_tokens

r = revoked_tokens.c


class SqlRevokedTokens(RevokedTokens):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def revoke(self, token_id: str, username: str, expires_at: datetime, now: datetime) -> None:
        try:
            with self.conn.begin_nested():
                self.conn.execute(sa.insert(revoked_tokens).values(jti=token_id, username=username,
                                                                   expires_at=expires_at, revoked_at=now))
        except sa.exc.IntegrityError as error:
            if not duplicate_key(error, "revoked_tokens"):  # revoked twice: once is enough
                raise

    def is_revoked(self, token_id: str) -> bool:
        return self.conn.execute(sa.select(sa.literal(1)).where(r.jti == token_id)).first() is not None

    def purge(self, expired_before: datetime) -> int:
        return self.conn.execute(sa.delete(revoked_tokens).where(r.expires_at < expired_before)).rowcount
