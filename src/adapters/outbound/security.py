"""Password hashing (pwdlib, Argon2), JWT (PyJWT, HS256) and the static demo users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash

from application.ports.security import (
    InvalidToken,
    PasswordHasher,
    Principal,
    TokenService,
    UserAccount,
    UserDirectory,
)
from domain.roles import Role


class Argon2Hasher(PasswordHasher):
    def __init__(self) -> None:
        self._hash = PasswordHash.recommended()

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        return self._hash.verify(password, password_hash)


class JwtTokenService(TokenService):
    ALGORITHM = "HS256"

    def __init__(self, secret: str, lifetime_seconds: int, issuer: str = "supplytrace") -> None:
        self.secret, self.lifetime, self.issuer = secret, lifetime_seconds, issuer

    def issue(self, principal: Principal) -> tuple[str, int]:
        now = datetime.now(UTC)
        claims = {"sub": principal.username, "role": principal.role.value, "iss": self.issuer,
                  "iat": now, "exp": now + timedelta(seconds=self.lifetime)}
        return jwt.encode(claims, self.secret, algorithm=self.ALGORITHM), self.lifetime

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[self.ALGORITHM], issuer=self.issuer,
                                options={"require": ["sub", "role", "exp", "iss"]})
            return Principal(str(claims["sub"]), Role(claims["role"]))
        except (jwt.PyJWTError, ValueError) as error:
            raise InvalidToken(str(error)) from error


class StaticUserDirectory(UserDirectory):
    def __init__(self, accounts: list[UserAccount]) -> None:
        self.accounts = {a.username: a for a in accounts}

    def find(self, username: str) -> UserAccount | None:
        return self.accounts.get(username)


def demo_accounts(password: str, hasher: PasswordHasher) -> list[UserAccount]:
    """One user per role, named after it (quality, procurement, logistics, auditor, admin)."""
    hashed = _hashed(password, type(hasher))
    return [UserAccount(role.value, hashed, role) for role in Role]


@lru_cache(maxsize=4)
def _hashed(password: str, hasher_type: type[PasswordHasher]) -> str:
    # hashing is deliberately slow: tests and the CLI build many containers with one password
    return hasher_type().hash(password)
