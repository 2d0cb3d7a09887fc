"""Conditional updates (ADR 0020): a change applies only to the version the client has seen.

The version is read with the aggregate and checked here (412 when it is not one the client named);
the repository's UPDATE is guarded by the same version, so a concurrent change that slips in between
fails the write (ConcurrentUpdate) instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Collection

Expected = Collection[int] | None  # the versions an If-Match names; None: no condition (or `*`)


class PreconditionFailed(Exception):
    """The resource is no longer at a version the request named."""

    def __init__(self, what: str, current: int) -> None:
        super().__init__(f"{what} is at version {current}, not one If-Match names; read it again "
                         "and resend with its current ETag")
        self.current = current


def check_version(what: str, current: int, expected: Expected) -> None:
    if expected is not None and current not in expected:
        raise PreconditionFailed(what, current)
