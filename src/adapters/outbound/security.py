"""Password hashing (pwdlib, Argon2), JWT (PyJWT, HS256) and the static demo users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from uuid import uuid4

import jwt
from pwdlib import PasswordHash

from application.ports.security import (
    InvalidToken,
    PasswordHasher,
    Principal,
    TokenClaims,
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
    """HS256 tokens with a unique id (`jti`) and the credential fingerprint (`crd`) they were issued for."""

    ALGORITHM = "HS256"
    REQUIRED = ["sub", "role", "exp", "iat", "iss", "jti", "crd"]

    def __init__(self, secret: str, lifetime_seconds: int, issuer: str = "supplytrace") -> None:
        self.secret, self.lifetime, self.issuer = secret, lifetime_seconds, issuer

    def issue(self, principal: Principal, credential: str) -> tuple[str, int]:
        now = datetime.now(UTC)
        claims = {"sub": principal.username, "role": principal.role.value, "iss": self.issuer,
                  "iat": now, "exp": now + timedelta(seconds=self.lifetime), "jti": uuid4().hex, "crd": credential}
        return jwt.encode(claims, self.secret, algorithm=self.ALGORITHM), self.lifetime

    def decode(self, token: str) -> TokenClaims:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[self.ALGORITHM], issuer=self.issuer,
                                options={"require": self.REQUIRED})
        except jwt.PyJWTError as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from error
        subject, token_id, credential = claims["sub"], claims["jti"], claims["crd"]
        if not all(isinstance(v, str) and 0 < len(v) <= 100 for v in (subject, token_id, credential)):
            raise InvalidToken("sub, jti and crd must be strings of 1 to 100 characters")
        try:
            role = Role(claims["role"])
            issued_at = datetime.fromtimestamp(claims["iat"], UTC)
            expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        except (ValueError, TypeError, OverflowError) as error:
            raise InvalidToken(f"malformed claims: {error}") from error
        return TokenClaims(Principal(subject, role), token_id, issued_at, expires_at, credential)


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
