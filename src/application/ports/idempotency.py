"""Idempotency keys: a POST's key, the fingerprint of what it asked, and the response it got (ADR 0020)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import Conflict


class KeyInUse(Conflict):
    """Another request with the same key wrote first (or is writing): this one wrote nothing."""

    retry_after = 1


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # the few worth replaying: content-type, etag, location
    body: str = ""


@dataclass(frozen=True)
class IdempotencyRecord:
    user: str
    key: str
    fingerprint: str  # sha-256 of method, path and the canonical body
    method: str
    path: str
    created_at: datetime
    response: StoredResponse | None = None  # None until the request that wrote has answered


class IdempotencyStore(ABC):
    """One row per (user, key), written in the transaction of the request's write."""

    @abstractmethod
    def get(self, user: str, key: str) -> IdempotencyRecord | None: ...

    @abstractmethod
    def insert(self, record: IdempotencyRecord, expired_before: datetime) -> None:
        """Claim the key for this transaction (a row of the same key older than `expired_before` is
        replaced); raise KeyInUse when another transaction holds or committed it."""

    @abstractmethod
    def complete(self, user: str, key: str, response: StoredResponse) -> None:
        """Store the response of the request that claimed the key."""

    @abstractmethod
    def purge(self, before: datetime, limit: int) -> int:
        """Remove up to `limit` keys created before `before`, oldest first; how many."""

    @abstractmethod
    def count(self, before: datetime) -> int: ...


@dataclass
class Claim:
    """The key of the request in progress; `committed` once a transaction wrote it."""

    user: str
    key: str
    fingerprint: str
    method: str
    path: str
    expired_before: datetime  # a row of the key older than this is expired: it may be replaced
    committed: bool = False

    def record(self, now: datetime) -> IdempotencyRecord:
        return IdempotencyRecord(self.user, self.key, self.fingerprint, self.method, self.path, now)


_current: ContextVar[Claim | None] = ContextVar("idempotency_claim", default=None)


def current_claim() -> Claim | None:
    """The claim of this request that no transaction has written yet."""
    claim = _current.get()
    return claim if claim is not None and not claim.committed else None


@contextmanager
def claiming(claim: Claim) -> Iterator[Claim]:
    token = _current.set(claim)
    try:
        yield claim
    finally:
        _current.reset(token)
