"""Domain errors: every illegal move is one of these, never a bare exception."""


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


class Conflict(DomainError):
    """The request contradicts the current state of an entity."""


class InvalidTransition(Conflict):
    """A state machine refused a move."""
