"""Ports for identities: where users live, how passwords are checked, how tokens are made."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from domain.roles import Role


@dataclass(frozen=True)
class Principal:
    username: str
    role: Role


@dataclass(frozen=True)
class UserAccount:
    username: str
    password_hash: str
    role: Role


class UserDirectory(ABC):
    @abstractmethod
    def find(self, username: str) -> UserAccount | None: ...


class PasswordHasher(ABC):
    @abstractmethod
    def hash(self, password: str) -> str: ...

    @abstractmethod
    def verify(self, password: str, password_hash: str) -> bool: ...


class InvalidToken(Exception):
    """Missing, malformed, tampered, expired, revoked, or naming a user or role that no longer holds.

    The message is the same whatever the cause (a client learns nothing); `reason` is for the logs."""

    def __init__(self, reason: str = "invalid") -> None:
        super().__init__("invalid or expired token")
        self.reason = reason


@dataclass(frozen=True)
class TokenClaims:
    principal: Principal
    token_id: str
    issued_at: datetime
    expires_at: datetime
    credential: str  # a fingerprint of the credentials it was issued for: a new password revokes it


class TokenService(ABC):
    @abstractmethod
    def issue(self, principal: Principal, credential: str) -> tuple[str, int]:
        """A signed token with a unique id, and its lifetime in seconds."""

    @abstractmethod
    def decode(self, token: str) -> TokenClaims:
        """Check signature, issuer, expiry and the claims' form; raises InvalidToken."""


class RevokedTokens(ABC):
    """Tokens ended before they expire (logout). A unit-of-work store: shared by every process."""

    @abstractmethod
    def revoke(self, token_id: str, username: str, expires_at: datetime, now: datetime) -> None: ...

    @abstractmethod
    def is_revoked(self, token_id: str) -> bool: ...

    @abstractmethod
    def purge(self, expired_before: datetime) -> int:
        """Forget revocations of tokens that have expired anyway; returns how many."""


class RateLimiter(ABC):
    """Counts attempts per bucket (a named limit) and key (a username, a client address)."""

    @abstractmethod
    def hit(self, bucket: str, key: str) -> int | None:
        """Count one attempt: None if within the limit, else the seconds until one is allowed again."""

    @abstractmethod
    def retry_after(self, bucket: str, key: str) -> int | None:
        """Like `hit`, without counting."""

    @abstractmethod
    def clear(self, bucket: str, key: str) -> None: ...
