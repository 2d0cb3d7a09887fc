"""Request and response bodies, and the input types every route uses.

The types publish the limits of the columns and of the domain's text rule in the OpenAPI schema
(minimum/maximum, maxLength, pattern), so a client or a fuzzer sees them, and both databases get
only what they can store: out-of-range or mistyped input is a 422 that names the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints, WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from application.pagination import MAX_LIMIT, MAX_OFFSET
from domain.nonconformities import DESCRIPTION_MAX_LENGTH
from domain.orders import MAX_AMOUNT
from domain.suppliers import NAME_MAX_LENGTH
from domain.text import MULTI_LINE_FORBIDDEN, SINGLE_LINE_FORBIDDEN, text_problem

T = TypeVar("T")

# --- input types ------------------------------------------------------------------------------

MAX_ID = 2**31 - 1  # the integer id columns (PostgreSQL `integer`)

Id = Annotated[int, Field(ge=1, le=MAX_ID)]  # in a path or a query: digits
JsonId = Annotated[Id, Strict()]  # in a body: a JSON integer (not a bool, a string or a float)
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
_AMOUNT_TEXT = r"[0-9]{1,10}(\.[0-9]{1,2})?"
AMOUNT_PATTERN = f"^{_AMOUNT_TEXT}$"  # as published; checked with fullmatch (Python's `$` allows a final newline)


def _storable(multiline: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = text_problem(value, multiline)
        if problem is not None:
            raise PydanticCustomError("text_unstorable", problem)
        return value

    return check


def text(max_length: int, *, min_length: int = 1, multiline: bool = False) -> Any:
    """A string the domain's text rule accepts: no NUL, lone surrogate or control character (a
    multi-line text keeps tab, line feed and carriage return)."""
    forbidden = MULTI_LINE_FORBIDDEN if multiline else SINGLE_LINE_FORBIDDEN
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=f"^[^{forbidden}]*$"), AfterValidator(_storable(multiline))]


def _iso(kind: str, shape: str, example: str) -> Callable[[Any], Any]:
    """Only an ISO 8601 string; a number (`0` would be 1970-01-01) or a bool is refused."""
    pattern = re.compile(shape)

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.match(value):
            raise PydanticCustomError(f"{kind}_type", f"Input should be an ISO 8601 {kind} string such as {example}")
        return value

    return check


def _amount_text(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(_AMOUNT_TEXT, value):
        raise PydanticCustomError("decimal_parsing", "Input should be a decimal such as 49.99 (at most 2 decimals)")
    return value


# numeric(12,2): a JSON number or a decimal string, from 0 to MAX_AMOUNT, at most 2 decimals
Amount = Annotated[Decimal, BeforeValidator(_amount_text), Field(ge=0, le=MAX_AMOUNT, max_digits=12, decimal_places=2),
                   WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": float(MAX_AMOUNT)},
                                             {"type": "string", "pattern": AMOUNT_PATTERN}],
                                   "description": f"0 to {MAX_AMOUNT}, at most 2 decimals"})]
IsoDate = Annotated[date, BeforeValidator(_iso("date", r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z", "2026-06-30"))]
IsoDateTime = Annotated[datetime, BeforeValidator(
    _iso("datetime", r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}", "2026-06-30T15:00:00Z")),
    AfterValidator(lambda v: v if v.tzinfo else v.replace(tzinfo=UTC))]  # no offset: UTC (as the earlier systems sent)
Username = text(100)


def example_date(days_ahead: int) -> str:
    """An example date `days_ahead` days after the day the app started: an example expiry date stays in
    the future whenever the docs are read (a fixed one was already in the past; ADR 0022)."""
    return (date.today() + timedelta(days=days_ahead)).isoformat()


def example_datetime(days_ahead: int) -> str:
    return f"{example_date(days_ahead)}T15:00:00Z"


Name = text(NAME_MAX_LENGTH)
Description = text(DESCRIPTION_MAX_LENGTH, multiline=True)


# --- bodies -----------------------------------------------------------------------------------

class _NotJson:
    """Stands for NaN or Infinity, which Python's JSON parser reads but JSON does not have: no field accepts
    it, so the field that got one is named in the 422, and the value (not JSON) is never echoed."""

    def __repr__(self) -> str:
        return "not a JSON number"


def _json_numbers_only(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return _NotJson()
    if isinstance(value, dict):
        return {key: _json_numbers_only(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_numbers_only(item) for item in value]
    return value


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _refuse_nan_and_infinity(cls, data: Any) -> Any:
        return _json_numbers_only(data)


class LoginJson(Body):
    username: Username
    password: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


class SupplierIn(Body):
    name: Name = Field(examples=["Beta Metals"])
    certification_expiry: IsoDate = Field(examples=[example_date(365)])


class CertificationIn(Body):
    certification_expiry: IsoDate = Field(description="A date before today puts the supplier at risk. Only "
                                          "for a supplier without required certificate records (409 otherwise)",
                                          examples=[example_date(730)])
    reason: text(500, multiline=True) | None = None


ApprovalStatusName = Literal["PENDING", "APPROVED", "CONDITIONAL", "BLOCKED", "REJECTED"]


class SupplierOut(BaseModel):
    id: int
    name: str
    certification_expiry: date
    at_risk: bool
    created_at: datetime
    updated_at: datetime
    approval_status: ApprovalStatusName = Field(description="Set by quality (PATCH /suppliers/{id}/approval); "
                                                "a new supplier is PENDING")
    status_reason: str | None = None
    status_changed_by: str | None = None
    status_changed_at: datetime | None = None
    hold_until: date | None = None
    next_evaluation_due: date | None = None


CertificateTypeName = Literal["ISO_9001", "ISO_14001", "ISO_45001", "OTHER"]


class CertificateIn(Body):
    type: CertificateTypeName
    number: text(100) = Field(examples=["Q-2026-0042"])
    issuer: text(200) = Field(examples=["TÜV Rheinland"])
    issued_on: IsoDate
    expires_on: IsoDate = Field(description="Not before issued_on", examples=[example_date(1065)])
    required: Annotated[bool, Strict()] = Field(True, description="A required certificate defines the supplier's "
                                                 "certification_expiry (the earliest of them)")


class CertificatePatchIn(Body):
    type: CertificateTypeName | None = None
    number: text(100) | None = None
    issuer: text(200) | None = None
    issued_on: IsoDate | None = None
    expires_on: IsoDate | None = None
    required: Annotated[bool, Strict()] | None = None
    reason: text(500, multiline=True) | None = None


class CertificateOut(BaseModel):
    id: int
    supplier_id: int
    type: str
    number: str
    issuer: str
    issued_on: date
    expires_on: date
    required: bool
    status: Literal["VALID", "EXPIRING", "EXPIRED"] = Field(description="From today: EXPIRED after expires_on, "
                                                            "EXPIRING within the warn window (30 days by default)")
    created_at: datetime
    updated_at: datetime
    withdrawn_at: datetime | None = None


class CertificateListOut(BaseModel):
    items: list[CertificateOut]


class ApprovalIn(Body):
    status: ApprovalStatusName
    reason: text(500, multiline=True) = Field(examples=["audit of 2026-11 passed"])
    hold_until: IsoDate | None = Field(None, description="BLOCKED only: when to look again")
    next_evaluation_due: IsoDate | None = Field(None, description="The next evaluation; required for a "
                                                "conditional approval of a PENDING supplier")


class ApprovalRequestIn(Body):
    status: ApprovalStatusName
    reason: text(500, multiline=True) = Field(examples=["two late deliveries with defects this month"])


class NcIn(Body):
    supplier_id: JsonId
    severity: Literal["low", "medium", "high"]
    description: Description


class NcOut(BaseModel):
    id: int
    supplier_id: int
    severity: str
    description: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # the investigation (ADR 0024); an NC of the seed has them empty
    owner: str | None = None
    due_date: date | None = None
    containment_note: str | None = None
    root_cause_category: str | None = None
    root_cause_analysis: str | None = None
    rca_method: str | None = None
    disposition: str | None = None
    disposition_authorized_by: str | None = None
    qty_checked: int | None = None
    qty_nonconforming: int | None = None
    source_type: str | None = None
    source_id: str | None = None
    closure_note: str | None = None
    closed_by: str | None = None
    closed_without_capa: bool = Field(False, description="A high NC closed without a verified CORRECTIVE action")
    reopen_count: int = 0
    cancel_reason: str | None = None
    days_to_close: float | None = None
    allowed_next: list[str] = Field(default_factory=list, description="The statuses PATCH /ncs/{id}/status may "
                                    "move it to")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="Rows matching; exact unless total_exact is false, then a lower bound")
    total_exact: bool = Field(True, description="False when a filter without a counter matched more than "
                              "10,000 rows and this page is not the last: at least `total` rows match")
    limit: int
    offset: int

    @classmethod
    def of(cls, page: Any, items: list[Any]) -> PageOut:
        """The answer for an application `Page` whose items are already converted."""
        return cls(items=items, total=page.total, total_exact=page.total_exact, limit=page.limit, offset=page.offset)


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
    changes: list[list[Any]] | None = Field(description=(
        "What changed, as [field, old, new] with JSON values (Frappe's Version format); a creation lists the "
        "initial values with old null; null on records written before changes were recorded (ADR 0026)"),
        examples=[[["certification_expiry", example_date(200), example_date(565)]]])
    reason: str | None = Field(description="Why, when the caller said it (an order move's or cancel's reason, an "
                                           "operator's replay reason …)")


class AuditBreakOut(BaseModel):
    id: int
    event_id: UUID
    reason: str = Field(description="`hash mismatch` (the record was changed), `prev_hash does not link` "
                        "(a record before it was changed, removed or reordered) or `unknown hash rule`")


class AuditVerifyOut(BaseModel):
    ok: bool
    records: int = Field(description="Records verified: all of them when ok, else those before the broken one")
    head: str | None = Field(None, description="When ok: the hash of the last record (64 zeros for an empty log), "
                             "to keep outside the database and compare later (ADR 0014)")
    broken: AuditBreakOut | None = Field(None, description="When not ok: the first record that does not hold")


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
    handled_at: datetime | None  # when its handlers confirmed it
    handled_by: str | None  # "in-process" (polling mode) or the consumer group that handled it
    actor: str
    correlation_id: str
    occurred_at: datetime
    payload: dict[str, Any]


# --- operating delivery ------------------------------------------------------------------------

Reason = text(500)


class ReasonIn(Body):
    reason: Reason = Field(description="Why: goes to the audit log and the event's timeline",
                           examples=["handler fixed in release 1.4.2"])


class ReplayFilterIn(Body):
    event_type: text(100) | None = None
    aggregate_type: text(50) | None = None
    aggregate_id: text(100) | None = None
    failed_since: IsoDateTime | None = None
    failed_until: IsoDateTime | None = None


class BulkReplayIn(Body):
    filter: ReplayFilterIn = Field(default_factory=ReplayFilterIn)
    limit: Annotated[int, Strict(), Field(ge=1, le=1000)] = 100
    dry_run: Annotated[bool, Strict()] = False
    reason: Reason


class EventIn(Body):
    event_id: UUID
    event_type: text(100)
    aggregate_type: text(50)
    aggregate_id: text(100)
    occurred_at: IsoDateTime
    actor: text(100)
    correlation_id: text(100)
    payload: dict[str, Any]


class DeadLetterReplayIn(Body):
    reason: Reason
    event: EventIn | None = Field(None, description="The corrected event, when the dead letter's stored bytes "
                                  "cannot be read as one (its event id must stay the dead letter's)")


class ReplayedOut(BaseModel):
    event_id: UUID
    before: str
    after: str
    released: list[UUID] = Field(description="Parked events of its aggregate released, in their order")


class RemindersRunOut(BaseModel):
    day: date
    examined: int = Field(description="Certificates and CAPA actions looked at")
    sent: dict[str, int] = Field(description="Events outboxed, by type (a stage already sent is not counted)")


class BulkReplayOut(BaseModel):
    dry_run: bool
    count: int
    events: list[ReplayedOut]


class TimelineStepOut(BaseModel):
    at: datetime
    step: str
    worker: str | None
    lease_token: str | None
    detail: dict[str, Any]


class DeadLetterOut(BaseModel):
    id: int
    key: str
    source: str
    status: str
    event_id: UUID | None
    event_type: str | None
    aggregate_type: str | None
    aggregate_id: str | None
    payload: str
    payload_encoding: str
    headers: dict[str, str]
    topic: str | None
    partition: int | None
    offset: int | None
    error: str
    first_seen: datetime
    last_seen: datetime
    occurrences: int
    replayed_at: datetime | None
    replayed_by: str | None


class EventTimelineOut(BaseModel):
    event: OutboxEventOut
    steps: list[TimelineStepOut]
    dead_letter: DeadLetterOut | None
