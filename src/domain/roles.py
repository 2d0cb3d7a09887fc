"""The roles users act in."""

from enum import StrEnum


class Role(StrEnum):
    QUALITY = "quality"
    PROCUREMENT = "procurement"
    LOGISTICS = "logistics"
    AUDITOR = "auditor"
    ADMIN = "admin"
