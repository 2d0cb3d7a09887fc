"""The IdempotencyStore port in memory: one transaction at a time, so a key is claimed or not."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from application.ports.idempotency import IdempotencyRecord, IdempotencyStore, KeyInUse, StoredResponse

from adapters.outbound.memory.database import MemoryState


class MemoryIdempotencyStore(IdempotencyStore):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def get(self, user: str, key: str) -> IdempotencyRecord | None:
        return self.state.idempotency.get((user, key))

    def insert(self, record: IdempotencyRecord, expired_before: datetime) -> None:
        found = self.state.idempotency.get((record.user, record.key))
        if found is not None and found.created_at >= expired_before:
            raise KeyInUse("another request with this Idempotency-Key wrote first; retry to get its answer")
        self.state.idempotency[(record.user, record.key)] = record

    def complete(self, user: str, key: str, response: StoredResponse) -> None:
        found = self.state.idempotency.get((user, key))
        if found is not None:
            self.state.idempotency[(user, key)] = dataclasses.replace(found, response=response)

    def _old(self, before: datetime) -> list[tuple[str, str]]:
        old = sorted((r.created_at, k) for k, r in self.state.idempotency.items() if r.created_at < before)
        return [k for _, k in old]

    def purge(self, before: datetime, limit: int) -> int:
        old = self._old(before)[:limit]
        for key in old:
            del self.state.idempotency[key]
        return len(old)

    def count(self, before: datetime) -> int:
        return len(self._old(before))
