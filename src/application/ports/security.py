"""Ports for identities: where users live, how passwords are checked, how tokens are made."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

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
    """Missing, malformed, tampered or expired."""


class TokenService(ABC):
    @abstractmethod
    def issue(self, principal: Principal) -> tuple[str, int]:
        """A signed token and its lifetime in seconds."""

    @abstractmethod
    def verify(self, token: str) -> Principal:
        """The principal the token names; raises InvalidToken."""
