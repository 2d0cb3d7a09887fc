"""Authentication and the role matrix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.roles import Role

from application.ports.security import PasswordHasher, Principal, TokenService, UserDirectory


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


class Authenticate:
    # verified against when the user is unknown, so both failures cost the same time
    _DUMMY_HASH: str | None = None

    def __init__(self, users: UserDirectory, hasher: PasswordHasher, tokens: TokenService) -> None:
        self.users, self.hasher, self.tokens = users, hasher, tokens

    def __call__(self, username: str, password: str) -> IssuedToken:
        account = self.users.find(username)
        if account is None:
            if Authenticate._DUMMY_HASH is None:
                Authenticate._DUMMY_HASH = self.hasher.hash("not-a-password")
            self.hasher.verify(password, Authenticate._DUMMY_HASH)
            raise AuthenticationFailed("incorrect username or password")
        if not self.hasher.verify(password, account.password_hash):
            raise AuthenticationFailed("incorrect username or password")
        principal = Principal(account.username, account.role)
        token, lifetime = self.tokens.issue(principal)
        return IssuedToken(token, lifetime, principal)
