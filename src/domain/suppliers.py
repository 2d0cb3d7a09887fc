"""Supplier aggregate and its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.errors import TransitionRefused, ValidationError
from domain.events import DomainEvent
from domain.text import optional_text, required_text

NAME_MAX_LENGTH = 200
REASON_MAX_LENGTH = 500
ACTOR_MAX_LENGTH = 100


class ApprovalStatus(StrEnum):
    """The supplier's qualification (QHSE-MODEL C4): decided by quality, never automatically."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    CONDITIONAL = "CONDITIONAL"
    BLOCKED = "BLOCKED"
    REJECTED = "REJECTED"

    @classmethod
    def parse(cls, value: str) -> ApprovalStatus:
        try:
            return cls(value)
        except ValueError:
            raise ValidationError("status", f"must be one of {', '.join(cls)}") from None


A = ApprovalStatus
APPROVAL_FLOW: dict[ApprovalStatus, tuple[ApprovalStatus, ...]] = {
    A.PENDING: (A.APPROVED, A.CONDITIONAL, A.REJECTED),
    A.APPROVED: (A.CONDITIONAL, A.BLOCKED),
    A.CONDITIONAL: (A.APPROVED, A.BLOCKED),
    A.BLOCKED: (A.CONDITIONAL, A.APPROVED),
    A.REJECTED: (A.PENDING,),
}
INITIAL_APPROVAL = A.PENDING  # a new supplier awaits its evaluation (ADR 0025)
IN_USE = (A.APPROVED, A.CONDITIONAL)  # qualified for supply: reviews and scorecards are for these


class ReviewTrigger(StrEnum):
    HIGH_NC_OPENED = "HIGH_NC_OPENED"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    SCORE_WORST_BAND = "SCORE_WORST_BAND"  # a stored month of the scorecard (C6) in the worst band


@dataclass(frozen=True)
class ApprovalFacts:
    """What the guards of the approval moves look at, gathered by the use case in the same transaction."""

    today: date
    has_required_certificates: bool  # records exist: they, not the direct date, define the certification
    required_certificate_in_force: bool  # a required record not EXPIRED (VALID or EXPIRING)
    required_certificate_expired: bool
    open_high_ncs: int


@dataclass(frozen=True, kw_only=True)
class SupplierEvent(DomainEvent):
    """An event of one supplier (its certificates' included): keyed, ordered and audited by the supplier."""

    aggregate_type = "supplier"
    supplier_id: int

    @property
    def aggregate_id(self) -> str:
        return str(self.supplier_id)


@dataclass(frozen=True, kw_only=True)
class SupplierCreated(SupplierEvent):
    event_type = "SUPPLIER_CREATED"
    name: str
    certification_expiry: date
    approval_status: ApprovalStatus = INITIAL_APPROVAL

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return self.initial("name", "certification_expiry", "approval_status")


@dataclass(frozen=True, kw_only=True)
class SupplierCertificationUpdated(SupplierEvent):
    event_type = "SUPPLIER_CERT_UPDATED"
    previous_expiry: date
    certification_expiry: date
    changes: list[Any] = field(default_factory=list)
    reason: str | None = None
    certificate_id: int | None = None  # the certificate whose change moved the date; None: set directly

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [("certification_expiry", self.previous_expiry, self.certification_expiry)]


@dataclass(frozen=True, kw_only=True)
class SupplierStatusChanged(SupplierEvent):
    event_type = "SUPPLIER_STATUS_CHANGED"
    from_status: ApprovalStatus
    to_status: ApprovalStatus
    reason: str | None = None
    changes: list[Any] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SupplierStatusChangeRequested(SupplierEvent):
    """Procurement asks quality for a move; nothing changes until quality (or an admin) applies it."""

    event_type = "SUPPLIER_STATUS_CHANGE_REQUESTED"
    current_status: ApprovalStatus
    requested_status: ApprovalStatus
    reason: str | None = None
    changes: list[Any] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SupplierReviewRequired(SupplierEvent):
    """Something happened that quality must look at; the approval status is left as it is."""

    event_type = "SUPPLIER_REVIEW_REQUIRED"
    trigger: ReviewTrigger
    approval_status: ApprovalStatus
    reference: str | None = None  # what raised it: "nc:12", "certificate:3"
    reason: str | None = None
    changes: list[Any] = field(default_factory=list)


SUPPLIER_APPROVAL_EVENTS = (SupplierStatusChanged, SupplierStatusChangeRequested, SupplierReviewRequired)


def _reason(value: str | None, required: bool = False) -> str | None:
    text = optional_text("reason", value, REASON_MAX_LENGTH, multiline=True)
    if required and text is None:
        raise ValidationError("reason", "must be given for this move")
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return getattr(value, "value", value)


@dataclass(eq=False)
class Supplier:
    """A supplier qualified through a certification with an expiry date."""

    name: str
    certification_expiry: date
    created_at: datetime
    updated_at: datetime | None = None  # the last change; the creation time until the first one
    approval_status: ApprovalStatus = INITIAL_APPROVAL
    status_reason: str | None = None
    status_changed_by: str | None = None
    status_changed_at: datetime | None = None
    hold_until: date | None = None  # BLOCKED only: when quality means to look again
    next_evaluation_due: date | None = None  # the re-evaluation (ISO 9001 8.4.1)
    id: int | None = None
    version: int = 0  # set by the repository: 1 once stored, +1 by every transaction that changes it
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = self.created_at

    @classmethod
    def register(cls, name: str, certification_expiry: date, now: datetime) -> Supplier:
        return cls(name=required_text("name", name, NAME_MAX_LENGTH), certification_expiry=certification_expiry,
                   created_at=now)

    def record_registration(self) -> None:
        """Record SUPPLIER_CREATED once the repository has given the supplier its id."""
        self.events.append(
            SupplierCreated(
                occurred_at=self.created_at,
                supplier_id=self._identity(),
                name=self.name,
                certification_expiry=self.certification_expiry,
                approval_status=self.approval_status,
            )
        )

    def update_certification(self, expiry: date, now: datetime, reason: str | None = None,
                             certificate_id: int | None = None) -> bool:
        """Set a new expiry; returns False (and records nothing) when it is unchanged."""
        reason = _reason(reason)
        if expiry == self.certification_expiry:
            return False
        previous, self.certification_expiry = self.certification_expiry, expiry
        self.updated_at = now
        self.events.append(
            SupplierCertificationUpdated(
                occurred_at=now,
                supplier_id=self._identity(),
                previous_expiry=previous,
                certification_expiry=expiry,
                changes=[["certification_expiry", previous.isoformat(), expiry.isoformat()]],
                reason=reason,
                certificate_id=certificate_id,
            )
        )
        return True

    # --- approval -----------------------------------------------------------------------------

    def allowed_approval_moves(self, facts: ApprovalFacts) -> list[ApprovalStatus]:
        """The states the supplier may move to now: the flow, less the moves whose guard fails."""
        return [s for s in APPROVAL_FLOW[self.approval_status] if self._guard(s, facts) is None]

    def _guard(self, target: ApprovalStatus, facts: ApprovalFacts) -> str | None:
        """Why `target` is refused now (a guard of C4), or None."""
        if target is A.APPROVED and self.approval_status is A.PENDING:
            if facts.has_required_certificates and not facts.required_certificate_in_force:
                return "no required certificate is in force"
            if not facts.has_required_certificates and self.certification_expired(facts.today):
                return "the certification has expired"
        if target is A.APPROVED and self.approval_status is A.BLOCKED:
            if facts.required_certificate_expired or (not facts.has_required_certificates
                                                      and self.certification_expired(facts.today)):
                return "a required certificate has expired"
            if facts.open_high_ncs:
                return f"{facts.open_high_ncs} high non-conformit{'y is' if facts.open_high_ncs == 1 else 'ies are'} open"
        return None

    def check_move(self, target: ApprovalStatus, facts: ApprovalFacts) -> None:
        """TransitionRefused (409, with the allowed states) unless `target` may come next."""
        if target not in APPROVAL_FLOW[self.approval_status]:
            raise TransitionRefused(f"supplier {self.id}", self.approval_status, target,
                                    self.allowed_approval_moves(facts))
        why = self._guard(target, facts)
        if why is not None:
            raise TransitionRefused(f"supplier {self.id}", self.approval_status, target,
                                    self.allowed_approval_moves(facts), why=why)

    def change_approval(self, target: ApprovalStatus, facts: ApprovalFacts, actor: str, now: datetime,
                        reason: str | None, hold_until: date | None = None,
                        next_evaluation_due: date | None = None) -> None:
        """Quality's decision: every move needs a reason; CONDITIONAL from PENDING a re-evaluation date;
        `hold_until` only for BLOCKED. Leaving BLOCKED clears `hold_until`."""
        reason = _reason(reason, required=True)
        self.check_move(target, facts)
        if hold_until is not None and target is not A.BLOCKED:
            raise ValidationError("hold_until", "is only for a move to BLOCKED")
        if hold_until is not None and hold_until <= facts.today:
            raise ValidationError("hold_until", "must be after today")
        if next_evaluation_due is not None and next_evaluation_due <= facts.today:
            raise ValidationError("next_evaluation_due", "must be after today")
        if target is A.CONDITIONAL and self.approval_status is A.PENDING and next_evaluation_due is None:
            raise ValidationError("next_evaluation_due", "must be given for a conditional approval")
        before = self._approval_state()
        previous = self.approval_status
        self.approval_status = target
        self.status_reason = reason
        self.status_changed_by = required_text("actor", actor, ACTOR_MAX_LENGTH)
        self.status_changed_at = self.updated_at = now
        self.hold_until = hold_until
        if next_evaluation_due is not None:
            self.next_evaluation_due = next_evaluation_due
        after = self._approval_state()
        changes = [[name, before[name], after[name]] for name in before if before[name] != after[name]]
        self.events.append(SupplierStatusChanged(occurred_at=now, supplier_id=self._identity(), from_status=previous,
                                                 to_status=target, reason=reason, changes=changes))

    def request_approval_change(self, target: ApprovalStatus, facts: ApprovalFacts, now: datetime,
                                reason: str | None) -> None:
        """Procurement's request: the move must be one of the flow (its guards are quality's to weigh);
        the supplier is left unchanged, the request is an event."""
        reason = _reason(reason, required=True)
        if target not in APPROVAL_FLOW[self.approval_status]:
            raise TransitionRefused(f"supplier {self.id}", self.approval_status, target,
                                    list(APPROVAL_FLOW[self.approval_status]))
        self.events.append(SupplierStatusChangeRequested(
            occurred_at=now, supplier_id=self._identity(), current_status=self.approval_status,
            requested_status=target, reason=reason, changes=[["approval_status", self.approval_status.value,
                                                              target.value]]))

    @property
    def in_use(self) -> bool:
        """Qualified for supply: APPROVED or CONDITIONAL."""
        return self.approval_status in IN_USE

    def require_review(self, trigger: ReviewTrigger, now: datetime, reference: str | None = None,
                       reason: str | None = None) -> bool:
        """SUPPLIER_REVIEW_REQUIRED, never a block: a prompt for quality, for a supplier in use only (a
        PENDING one is under evaluation anyway, a BLOCKED or REJECTED one is out). False: nothing recorded."""
        if not self.in_use:
            return False
        self.events.append(SupplierReviewRequired(occurred_at=now, supplier_id=self._identity(), trigger=trigger,
                                                  approval_status=self.approval_status, reference=reference,
                                                  reason=_reason(reason)))
        return True

    def _approval_state(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in APPROVAL_FIELDS}

    def certification_expired(self, today: date) -> bool:
        """Expired from the day after the expiry date: on the expiry day it is still valid."""
        return self.certification_expiry < today

    def _identity(self) -> int:
        if self.id is None:
            raise RuntimeError("supplier has no id yet: add it to a repository first")
        return self.id



APPROVAL_FIELDS = ("approval_status", "status_reason", "status_changed_by", "status_changed_at", "hold_until",
                   "next_evaluation_due")
