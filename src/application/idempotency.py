"""Idempotency keys (ADR 0020): a POST sent again with the same key gets the first answer, and writes nothing.

The API sets a `Claim` for the request (`claiming`); the first unit of work of that request that
commits writes the key's row in its own transaction (`UnitOfWork.commit`), so the key exists if and
only if the write does. Once the request has answered, `IdempotencyKeys.complete` stores the response
with the key. A second request with the key finds the row: the same fingerprint gets the stored
response, another one a 422; a second request racing the first one is refused by the key's primary
key when it commits (`KeyInUse`, 409), so it writes nothing either.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from domain.errors import ValidationError

from application.ports.clock import Clock
from application.ports.idempotency import Claim, KeyInUse, StoredResponse, claiming, current_claim
from application.ports.unit_of_work import UowFactory

HEADER = "Idempotency-Key"
__all__ = ["Claim", "IdempotencyKeys", "KeyInUse", "KeyReused", "StoredResponse", "claiming", "current_claim"]
KEY_MAX_LENGTH = 255
DEFAULT_WINDOW = timedelta(seconds=86400)


class KeyReused(ValidationError):
    """The key was used for another request (another body, method or path)."""

    def __init__(self) -> None:
        super().__init__(HEADER, "this key was used for a different request (another body, method or path) "
                                 "within the idempotency window; use a new key")


def check_key(value: str) -> str:
    """1 to 255 printable ASCII characters."""
    if not 1 <= len(value) <= KEY_MAX_LENGTH or not all(" " <= c <= "~" for c in value):
        raise ValidationError(HEADER, f"must be 1 to {KEY_MAX_LENGTH} printable ASCII characters")
    return value


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request as asked: method, path (with its query) and the body, canonical when it is JSON
    (key order and spacing do not count)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


class IdempotencyKeys:
    def __init__(self, uow: UowFactory, clock: Clock, window: timedelta = DEFAULT_WINDOW) -> None:
        self.uow, self.clock, self.window = uow, clock, window

    def begin(self, user: str, key: str, method: str, path: str, body: bytes) -> Claim | StoredResponse:
        """The stored response to replay, or the claim to run the request with.

        Raises KeyReused for the key of another request, KeyInUse for the key of a request that wrote
        but has not answered yet (still running, or it died between its commit and its answer)."""
        claim = Claim(user, check_key(key), fingerprint(method, path, body), method.upper(), path,
                      self.clock.now() - self.window)
        with self.uow().reading() as uow:
            found = uow.idempotency.get(user, key)
        if found is None or found.created_at < claim.expired_before:
            return claim
        if found.fingerprint != claim.fingerprint:
            raise KeyReused()
        if found.response is None:
            raise KeyInUse(f"a request with this {HEADER} wrote and has not answered yet; retry in a moment")
        return found.response

    def complete(self, claim: Claim, response: StoredResponse) -> None:
        """Store the answer of a request whose claim was committed."""
        if not claim.committed:
            return
        with self.uow() as uow:
            uow.idempotency.complete(claim.user, claim.key, response)
            uow.commit()
