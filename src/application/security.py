"""Authentication and the role matrix."""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from domain.roles import Role

from application.ports.clock import Clock
from application.ports.security import (
    InvalidToken,
    PasswordHasher,
    Principal,
    RateLimiter,
    TokenClaims,
    TokenService,
    UserAccount,
    UserDirectory,
)
from application.ports.unit_of_work import UowFactory


class Permission(StrEnum):
    READ = "read"
    WRITE_SUPPLIERS = "write_suppliers"
    WRITE_NCS = "write_ncs"
    WRITE_ORDERS = "write_orders"
    WRITE_INVENTORIES = "write_inventories"
    READ_KPI = "read_kpi"
    READ_AUDIT = "read_audit"
    READ_OUTBOX = "read_outbox"
    REPLAY_EVENTS = "replay_events"
    WRITE_CERTIFICATES = "write_certificates"
    APPROVE_SUPPLIERS = "approve_suppliers"
    REQUEST_SUPPLIER_STATUS = "request_supplier_status"
    RUN_REMINDERS = "run_reminders"
    WRITE_RECEIPTS = "write_receipts"


R = Role
ROLE_MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.READ: frozenset(Role),
    Permission.WRITE_SUPPLIERS: frozenset({R.PROCUREMENT, R.ADMIN}),
    Permission.WRITE_NCS: frozenset({R.QUALITY, R.ADMIN}),
    Permission.WRITE_ORDERS: frozenset({R.LOGISTICS, R.ADMIN}),
    Permission.WRITE_INVENTORIES: frozenset({R.LOGISTICS, R.ADMIN}),
    Permission.READ_KPI: frozenset({R.AUDITOR, R.QUALITY, R.ADMIN}),
    Permission.READ_AUDIT: frozenset({R.AUDITOR, R.ADMIN}),
    Permission.READ_OUTBOX: frozenset({R.AUDITOR, R.ADMIN}),
    Permission.REPLAY_EVENTS: frozenset({R.ADMIN}),
    # ADR 0025: procurement and quality both record certificates; quality owns the qualification,
    # procurement may only ask for a change of it
    Permission.WRITE_CERTIFICATES: frozenset({R.PROCUREMENT, R.QUALITY, R.ADMIN}),
    Permission.APPROVE_SUPPLIERS: frozenset({R.QUALITY, R.ADMIN}),
    Permission.REQUEST_SUPPLIER_STATUS: frozenset({R.PROCUREMENT, R.ADMIN}),
    # ADR 0027: the reminder job for today, as the workers run it (idempotent: a stage is sent once)
    Permission.RUN_REMINDERS: frozenset({R.QUALITY, R.ADMIN}),
    # ADR 0028: logistics receives the goods, quality inspects them (the rejected quantity)
    Permission.WRITE_RECEIPTS: frozenset({R.LOGISTICS, R.QUALITY, R.ADMIN}),
}


class AuthenticationFailed(Exception):
    pass


class TooManyAttempts(Exception):
    """Too many login attempts for this user or from this client: wait `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many login attempts; retry in {retry_after} s")
        self.retry_after = retry_after


class Forbidden(Exception):
    def __init__(self, principal: Principal, permission: Permission) -> None:
        super().__init__(f"role {principal.role.value} may not {permission.value}")


def authorize(principal: Principal, permission: Permission) -> None:
    if principal.role not in ROLE_MATRIX[permission]:
        raise Forbidden(principal, permission)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    principal: Principal


# rate-limit buckets of the login: every attempt from a client; failed attempts for a username
LOGIN_CLIENT, LOGIN_FAILURES = "login_client", "login_failures"


def credential_of(account: UserAccount) -> str:
    """A fingerprint of the account's password hash: a changed password ends its older tokens."""
    return _fingerprint(account.password_hash)


@functools.lru_cache(maxsize=1024)
def _fingerprint(password_hash: str) -> str:  # once per password hash, not once per request
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


class Authenticate:
    """Password login: throttled per client and per username, the same cost for unknown users."""

    # verified against when the user is unknown, so both failures cost the same time
    _DUMMY_HASH: str | None = None

    def __init__(self, users: UserDirectory, hasher: PasswordHasher, tokens: TokenService,
                 limiter: RateLimiter) -> None:
        self.users, self.hasher, self.tokens, self.limiter = users, hasher, tokens, limiter

    def __call__(self, username: str, password: str, client: str) -> IssuedToken:
        wait = self.limiter.hit(LOGIN_CLIENT, client) or self.limiter.retry_after(LOGIN_FAILURES, username)
        if wait:
            raise TooManyAttempts(wait)
        account = self.users.find(username)
        if account is None:
            if Authenticate._DUMMY_HASH is None:
                Authenticate._DUMMY_HASH = self.hasher.hash("not-a-password")
            self.hasher.verify(password, Authenticate._DUMMY_HASH)
        if account is None or not self.hasher.verify(password, account.password_hash):
            self.limiter.hit(LOGIN_FAILURES, username)
            raise AuthenticationFailed("incorrect username or password")
        self.limiter.clear(LOGIN_FAILURES, username)
        principal = Principal(account.username, account.role)
        token, lifetime = self.tokens.issue(principal, credential_of(account))
        return IssuedToken(token, lifetime, principal)


class VerifyToken:
    """Every request: a valid signature is not enough. The token must not claim a longer life than
    allowed, its user must still exist with that role and that password, and it must not be revoked.

    That a token is not revoked is remembered for `revocation_cache_seconds`: within it the check
    costs no database round trip. A logout through this process ends the token at once; another
    process sees it once its own memory of the token expires (0 turns the memory off).
    """

    MAX_REMEMBERED = 10_000

    def __init__(self, users: UserDirectory, tokens: TokenService, uow: UowFactory,
                 max_lifetime_seconds: float, revocation_cache_seconds: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.users, self.tokens, self.uow = users, tokens, uow
        self.max_lifetime = timedelta(seconds=max_lifetime_seconds)
        self.remember_for, self.monotonic = revocation_cache_seconds, monotonic
        self._not_revoked: dict[str, float] = {}  # token id → until when "not revoked" is believed
        self._revoked: set[str] = set()  # revoked through this process

    def _checked(self, token: str) -> TokenClaims:
        claims = self.tokens.decode(token)
        if claims.expires_at - claims.issued_at > self.max_lifetime:
            raise InvalidToken("lifetime over the maximum")
        account = self.users.find(claims.principal.username)
        if account is None:
            raise InvalidToken("unknown user")
        if account.role is not claims.principal.role or credential_of(account) != claims.credential:
            raise InvalidToken("role or password changed since it was issued")
        if claims.token_id in self._revoked:
            raise InvalidToken("revoked")
        return claims

    def remembered(self, token: str) -> Principal | None:
        """The principal when every check passes without the database (the token's revocation was
        looked up recently); None when the revocation must be looked up (call the instance)."""
        claims = self._checked(token)
        until = self._not_revoked.get(claims.token_id)
        return claims.principal if until is not None and until > self.monotonic() else None

    def claims(self, token: str) -> TokenClaims:
        claims = self._checked(token)
        with self.uow().reading() as uow:
            if uow.revoked_tokens.is_revoked(claims.token_id):
                raise InvalidToken("revoked")
        if self.remember_for > 0:
            if len(self._not_revoked) >= self.MAX_REMEMBERED:
                self._not_revoked.clear()
            self._not_revoked[claims.token_id] = self.monotonic() + self.remember_for
        return claims

    def forget(self, token_id: str) -> None:
        """The token was revoked through this process: refuse it from now on."""
        self._revoked.add(token_id)
        self._not_revoked.pop(token_id, None)
        if len(self._revoked) > self.MAX_REMEMBERED:  # the table stays the reference
            self._revoked.clear()

    def __call__(self, token: str) -> Principal:
        return self.claims(token).principal


class Logout:
    """Revoke the token presented (until it expires); forget revocations that have expired."""

    def __init__(self, verify: VerifyToken, uow: UowFactory, clock: Clock) -> None:
        self.verify, self.uow, self.clock = verify, uow, clock

    def __call__(self, token: str) -> None:
        claims = self.verify.claims(token)
        now = self.clock.now()
        with self.uow() as uow:
            uow.revoked_tokens.revoke(claims.token_id, claims.principal.username, claims.expires_at, now)
            uow.revoked_tokens.purge(now)
            uow.commit()
        self.verify.forget(claims.token_id)
