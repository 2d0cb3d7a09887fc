"""Request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginJson(Body):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class SupplierIn(Body):
    name: str = Field(min_length=1, max_length=200, examples=["Beta Metals"])
    certification_expiry: date = Field(examples=["2026-06-30"])


class CertificationIn(Body):
    certification_expiry: date = Field(examples=["2020-01-01"])


class SupplierOut(BaseModel):
    id: int
    name: str
    certification_expiry: date
    at_risk: bool
    created_at: datetime


class NcIn(Body):
    supplier_id: int = Field(ge=1)
    severity: Literal["low", "medium", "high"]
    description: str = Field(min_length=1, max_length=2000)


class NcOut(BaseModel):
    id: int
    supplier_id: int
    severity: str
    description: str
    status: str
    opened_at: datetime
    closed_at: datetime | None


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class AuditEntryOut(BaseModel):
    id: int
    event_id: UUID
    event_type: str
    action: str
    entity_type: str
    entity_id: str
    actor: str
    correlation_id: str
    occurred_at: datetime
    recorded_at: datetime
    details: dict[str, Any]


class OutboxEventOut(BaseModel):
    event_id: UUID
    event_type: str
    aggregate_type: str
    aggregate_id: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    published_at: datetime | None
    actor: str
    correlation_id: str
    occurred_at: datetime
    payload: dict[str, Any]
