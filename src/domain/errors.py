"""Domain errors: every illegal move is one of these, never a bare exception."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class DomainError(Exception):
    """Base class of every business rule violation."""


class ValidationError(DomainError):
    """A value breaks an invariant; `field` names the offending attribute."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """The referenced entity does not exist."""

    def __init__(self, entity: str, identifier: object) -> None:
        super().__init__(f"{entity} {identifier} not found")
        self.entity = entity
        self.identifier = identifier


class NotPermitted(DomainError):
    """The caller may not take this step on this entity (a rule about who, not about the role: 403)."""


class Conflict(DomainError):
    """The request contradicts the current state of an entity."""


class InvalidTransition(Conflict):
    """A state machine refused a move."""


class TransitionRefused(InvalidTransition):
    """An illegal move; `allowed` names the states that could come next."""

    def __init__(self, what: str, current: StrEnum, wanted: StrEnum, allowed: Sequence[StrEnum],
                 why: str = "") -> None:
        options = ", ".join(allowed) or "none"
        reason = f" ({why})" if why else ""
        super().__init__(f"{what} cannot move from {current} to {wanted}{reason}; allowed next states: {options}")
        self.allowed = [str(s) for s in allowed]
