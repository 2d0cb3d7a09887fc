"""Non-conformity aggregate: raised against a supplier, investigated, acted on (CAPA) and closed.

The workflow (ADR 0024): OPEN → INVESTIGATING → ACTION_PLANNED → CLOSED, CANCELLED from any open
state, CLOSED → INVESTIGATING to reopen. The quick close of the seed (OPEN or INVESTIGATING →
CLOSED) stays for every severity; a high NC closed without a verified corrective action is marked
`closed_without_capa`. The CAPA actions belong to the aggregate: one version, one ETag, and an
INEFFECTIVE action sends the NC back to INVESTIGATING in the same change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from domain.errors import InvalidTransition, NotFound, NotPermitted, TransitionRefused, ValidationError
from domain.events import DomainEvent
from domain.text import optional_text, required_text

DESCRIPTION_MAX_LENGTH = 2000
NOTE_MAX_LENGTH = 4000
USERNAME_MAX_LENGTH = 100
SOURCE_ID_MAX_LENGTH = 100
REASON_MAX_LENGTH = 500
MAX_QUANTITY = 1_000_000_000


def _parse(kind: type[StrEnum], value: object, field_name: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValidationError(field_name, f"must be one of {', '.join(kind)}") from None


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(s.value for s in cls)
            raise ValidationError("severity", f"must be one of {allowed}") from None


class NcStatus(StrEnum):
    OPEN = "OPEN"
    INVESTIGATING = "INVESTIGATING"
    ACTION_PLANNED = "ACTION_PLANNED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


FINISHED = frozenset({NcStatus.CLOSED, NcStatus.CANCELLED})  # "open" means neither of these
NC_FLOW: dict[NcStatus, tuple[NcStatus, ...]] = {
    NcStatus.OPEN: (NcStatus.INVESTIGATING, NcStatus.CLOSED, NcStatus.CANCELLED),
    NcStatus.INVESTIGATING: (NcStatus.ACTION_PLANNED, NcStatus.CLOSED, NcStatus.CANCELLED),
    NcStatus.ACTION_PLANNED: (NcStatus.INVESTIGATING, NcStatus.CLOSED, NcStatus.CANCELLED),
    NcStatus.CLOSED: (NcStatus.INVESTIGATING,),  # the reopening
    NcStatus.CANCELLED: (),
}


class RootCause(StrEnum):  # the 6M of an Ishikawa diagram, plus the supplier's process and design
    MATERIAL = "MATERIAL"
    METHOD = "METHOD"
    MACHINE = "MACHINE"
    PEOPLE = "PEOPLE"
    MEASUREMENT = "MEASUREMENT"
    ENVIRONMENT = "ENVIRONMENT"
    DESIGN = "DESIGN"
    SUPPLIER_PROCESS = "SUPPLIER_PROCESS"
    OTHER = "OTHER"


class RcaMethod(StrEnum):
    FIVE_WHYS = "FIVE_WHYS"
    ISHIKAWA = "ISHIKAWA"
    EIGHT_D = "EIGHT_D"
    OTHER = "OTHER"


class Disposition(StrEnum):
    REWORK = "REWORK"
    RETURN_TO_SUPPLIER = "RETURN_TO_SUPPLIER"
    USE_AS_IS_CONCESSION = "USE_AS_IS_CONCESSION"
    SCRAP = "SCRAP"
    REGRADE = "REGRADE"
    NONE = "NONE"


class SourceType(StrEnum):
    ORDER = "order"
    ORDER_ITEM = "order_item"
    INVENTORY_LINE = "inventory_line"
    INSPECTION = "inspection"


class ActionType(StrEnum):
    CONTAINMENT = "CONTAINMENT"
    CORRECTIVE = "CORRECTIVE"
    PREVENTIVE = "PREVENTIVE"


class ActionStatus(StrEnum):
    PLANNED = "PLANNED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    VERIFIED = "VERIFIED"
    INEFFECTIVE = "INEFFECTIVE"
    CANCELLED = "CANCELLED"


A = ActionStatus
ACTION_FLOW: dict[ActionStatus, tuple[ActionStatus, ...]] = {
    A.PLANNED: (A.IN_PROGRESS, A.CANCELLED),
    A.IN_PROGRESS: (A.DONE, A.CANCELLED),
    A.DONE: (A.VERIFIED, A.INEFFECTIVE),
    A.VERIFIED: (),
    A.INEFFECTIVE: (),
    A.CANCELLED: (),
}
ACTION_OPEN = frozenset({A.PLANNED, A.IN_PROGRESS})  # what "overdue" and "due soon" look at
ACTION_UNFINISHED = frozenset({A.PLANNED, A.IN_PROGRESS, A.DONE})  # still to be done or checked


def _json(value: object) -> object:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def _username(field_name: str, value: object) -> str | None:
    return optional_text(field_name, value, USERNAME_MAX_LENGTH)


def _day(field_name: str, value: object) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValidationError(field_name, "must be a date (YYYY-MM-DD)")


def _quantity(field_name: str, value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_QUANTITY:
        raise ValidationError(field_name, f"must be a whole number from 0 to {MAX_QUANTITY}")
    return value


def _optional(kind: type[StrEnum]):
    return lambda name, value: None if value is None else _parse(kind, value, name)


def _note(name: str, value: object) -> str | None:
    return optional_text(name, value, NOTE_MAX_LENGTH, multiline=True)


# the fields PATCH /ncs/{id} (and a status move) may set, each with its parser
NC_FIELDS = {
    "owner": _username,
    "due_date": _day,
    "containment_note": _note,
    "root_cause_category": _optional(RootCause),
    "root_cause_analysis": _note,
    "rca_method": _optional(RcaMethod),
    "disposition": _optional(Disposition),
    "disposition_authorized_by": _username,
    "qty_checked": _quantity,
    "qty_nonconforming": _quantity,
    "source_type": _optional(SourceType),
    "source_id": lambda name, value: optional_text(name, value, SOURCE_ID_MAX_LENGTH),
    "closure_note": _note,
}
USER_FIELDS = ("owner", "disposition_authorized_by")  # usernames of the user directory


def reason_text(value: object, required_for: str | None = None) -> str | None:
    if required_for is not None:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValidationError("reason", f"is required to {required_for}")
    return optional_text("reason", value, REASON_MAX_LENGTH, multiline=True)


# --- events ---------------------------------------------------------------------------------------

def _from_to_payload(event: DomainEvent) -> dict[str, Any]:
    out = DomainEvent.payload(event)
    out["from"], out["to"] = out.pop("source"), out.pop("target")
    return out


def _from_to_rebuild(cls: Any, payload: dict[str, Any], event_id: Any, occurred_at: datetime) -> Any:
    renamed = {("source" if k == "from" else "target" if k == "to" else k): v for k, v in payload.items()}
    return DomainEvent.rebuild.__func__(cls, renamed, event_id, occurred_at)


@dataclass(frozen=True, kw_only=True)
class _NcEvent(DomainEvent):
    aggregate_type = "nc"
    nc_id: int

    @property
    def aggregate_id(self) -> str:
        return str(self.nc_id)


@dataclass(frozen=True, kw_only=True)
class NcCreated(_NcEvent):
    event_type = "NC_CREATED"
    supplier_id: int
    severity: Severity
    description: str

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [*self.initial("supplier_id", "severity", "description"), ("status", None, NcStatus.OPEN)]


@dataclass(frozen=True, kw_only=True)
class _NcMove(_NcEvent):
    """A status move: `from`/`to` in the payload, the fields it changed and the caller's reason."""

    supplier_id: int
    severity: Severity
    source: NcStatus | None = None  # payload "from"
    target: NcStatus | None = None  # payload "to"
    changes: list[Any] = field(default_factory=list)
    reason: str | None = None

    def payload(self) -> dict[str, Any]:
        return _from_to_payload(self)

    @classmethod
    def rebuild(cls, payload, event_id, occurred_at):  # type: ignore[no-untyped-def]
        return _from_to_rebuild(cls, payload, event_id, occurred_at)

    def field_changes(self) -> list[tuple[str, Any, Any]]:
        return [*self.initial("supplier_id", "severity", "description"), ("status", None, NcStatus.OPEN)]


@dataclass(frozen=True, kw_only=True)
class NcClosed(_NcMove):
    event_type = "NC_CLOSED"
    closed_without_capa: bool = False


@dataclass(frozen=True, kw_only=True)
class NcStatusChanged(_NcMove):
    event_type = "NC_STATUS_CHANGED"


@dataclass(frozen=True, kw_only=True)
class NcReopened(_NcMove):
    event_type = "NC_REOPENED"
    reopen_count: int = 0


@dataclass(frozen=True, kw_only=True)
class NcCancelled(_NcMove):
    event_type = "NC_CANCELLED"


@dataclass(frozen=True, kw_only=True)
class NcUpdated(_NcEvent):
    event_type = "NC_UPDATED"
    changes: list[Any]
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class NcActionCreated(_NcEvent):
    event_type = "NC_ACTION_CREATED"
    action_id: int
    type: ActionType
    description: str
    owner: str
    due_date: date
    effectiveness_criteria: str | None = None


@dataclass(frozen=True, kw_only=True)
class NcActionStatusChanged(_NcEvent):
    event_type = "NC_ACTION_STATUS_CHANGED"
    action_id: int
    type: ActionType
    source: ActionStatus | None = None
    target: ActionStatus | None = None
    changes: list[Any] = field(default_factory=list)
    reason: str | None = None

    def payload(self) -> dict[str, Any]:
        return _from_to_payload(self)

    @classmethod
    def rebuild(cls, payload, event_id, occurred_at):  # type: ignore[no-untyped-def]
        return _from_to_rebuild(cls, payload, event_id, occurred_at)


NC_EVENTS = (NcCreated, NcClosed, NcStatusChanged, NcReopened, NcCancelled, NcUpdated, NcActionCreated,
             NcActionStatusChanged)


# --- the CAPA action ------------------------------------------------------------------------------

@dataclass(eq=False)
class NcAction:
    id: int  # its number within the NC: 1, 2, 3 …
    type: ActionType
    description: str
    owner: str
    due_date: date
    created_at: datetime
    effectiveness_criteria: str | None = None
    status: ActionStatus = ActionStatus.PLANNED
    updated_at: datetime | None = None
    started_at: datetime | None = None
    done_at: datetime | None = None
    completion_note: str | None = None
    verified_by: str | None = None
    verified_at: datetime | None = None
    verification_note: str | None = None
    effectiveness_result: str | None = None
    cancel_reason: str | None = None

    def __post_init__(self) -> None:
        if self.updated_at is None:
            self.updated_at = self.created_at

    def overdue(self, today: date) -> bool:
        return self.status in ACTION_OPEN and self.due_date < today


# --- the aggregate --------------------------------------------------------------------------------

@dataclass(eq=False)
class NonConformity:
    supplier_id: int
    severity: Severity
    description: str
    opened_at: datetime
    status: NcStatus = NcStatus.OPEN
    closed_at: datetime | None = None
    created_at: datetime | None = None  # when it was recorded: the opening time
    updated_at: datetime | None = None  # the last change, the creation time until then
    owner: str | None = None
    due_date: date | None = None
    containment_note: str | None = None
    root_cause_category: RootCause | None = None
    root_cause_analysis: str | None = None
    rca_method: RcaMethod | None = None
    disposition: Disposition | None = None
    disposition_authorized_by: str | None = None
    qty_checked: int | None = None
    qty_nonconforming: int | None = None
    source_type: SourceType | None = None
    source_id: str | None = None
    closure_note: str | None = None
    closed_by: str | None = None
    closed_without_capa: bool = False
    reopen_count: int = 0
    cancel_reason: str | None = None
    actions: list[NcAction] = field(default_factory=list)
    id: int | None = None
    version: int = 0  # set by the repository: 1 once stored, +1 by every transaction that changes it
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.created_at is None:
            self.created_at = self.opened_at
        if self.updated_at is None:
            self.updated_at = self.created_at

    @classmethod
    def open(cls, supplier_id: int, severity: Severity, description: str, now: datetime) -> NonConformity:
        text = required_text("description", description, DESCRIPTION_MAX_LENGTH, multiline=True)
        return cls(supplier_id=supplier_id, severity=severity, description=text, opened_at=now)

    def record_opening(self) -> None:
        self.events.append(
            NcCreated(
                occurred_at=self.opened_at,
                nc_id=self._identity(),
                supplier_id=self.supplier_id,
                severity=self.severity,
                description=self.description,
            )
        )

    # --- state ---

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED

    @property
    def is_open_high(self) -> bool:
        return self.is_open and self.severity is Severity.HIGH

    @property
    def has_verified_corrective_action(self) -> bool:
        return any(a.type is ActionType.CORRECTIVE and a.status is ActionStatus.VERIFIED for a in self.actions)

    @property
    def days_to_close(self) -> float | None:
        if self.status is not NcStatus.CLOSED or self.closed_at is None:
            return None
        return (self.closed_at - self.opened_at).total_seconds() / 86400

    def allowed_next(self) -> tuple[NcStatus, ...]:
        return NC_FLOW[self.status]

    def action(self, action_id: int) -> NcAction | None:
        return next((a for a in self.actions if a.id == action_id), None)

    # --- fields ---

    def amend(self, values: Mapping[str, object], now: datetime, reason: object = None,
              record: bool = True) -> list[list[object]]:
        """Set the given fields (PATCH /ncs/{id}); returns the changes `[[field, old, new]]`."""
        unknown = sorted(set(values) - NC_FIELDS.keys())
        if unknown:
            raise ValidationError(unknown[0], "is not a field of a non-conformity that can be set")
        if values and not self.is_open:
            raise InvalidTransition(f"non-conformity {self.id} is {self.status}: reopen it to change its fields")
        parsed = {name: NC_FIELDS[name](name, value) for name, value in values.items()}
        checked = parsed.get("qty_checked", self.qty_checked)
        bad = parsed.get("qty_nonconforming", self.qty_nonconforming)
        if checked is not None and bad is not None and bad > checked:
            raise ValidationError("qty_nonconforming", f"must not exceed qty_checked ({checked})")
        disposition = parsed.get("disposition", self.disposition)
        if disposition not in (None, Disposition.NONE) and not parsed.get("disposition_authorized_by",
                                                                           self.disposition_authorized_by):
            raise ValidationError("disposition_authorized_by", "is required with a disposition: who authorised it")
        if parsed.get("source_id", self.source_id) and not parsed.get("source_type", self.source_type):
            raise ValidationError("source_type", "is required with a source_id")
        changes: list[list[object]] = []
        for name, value in parsed.items():
            old = getattr(self, name)
            if old != value:
                changes.append([name, _json(old), _json(value)])
                setattr(self, name, value)
        if changes:
            self.updated_at = now
            if record:
                self.events.append(NcUpdated(occurred_at=now, nc_id=self._identity(), changes=changes,
                                             reason=reason_text(reason)))
        return changes

    # --- the workflow ---

    def move(self, target: NcStatus | str, now: datetime, actor: str, reason: object = None,
             values: Mapping[str, object] | None = None) -> bool:
        """One step of the workflow (PATCH /ncs/{id}/status); False when it is there already (a no-op)."""
        wanted = _parse(NcStatus, target, "status")
        if wanted is self.status:  # an identical repeated request: a no-op (or only its fields change)
            return bool(self.amend(values or {}, now, reason))
        if wanted not in self.allowed_next():
            raise TransitionRefused(f"non-conformity {self.id}", self.status, wanted, self.allowed_next())
        changes = self.amend(values or {}, now, record=False)
        source = self.status
        if wanted is NcStatus.INVESTIGATING:
            if source is NcStatus.CLOSED:
                return self._reopen(now, actor, reason_text(reason, "reopen a non-conformity"), changes)
            if source is NcStatus.OPEN and not self.owner:
                self._refuse(wanted, "set an owner first: the investigation needs one")
            text = reason_text(reason, "send the investigation back" if source is NcStatus.ACTION_PLANNED else None)
            self._moved(NcStatusChanged, wanted, now, changes, text)
        elif wanted is NcStatus.ACTION_PLANNED:
            if not (self.root_cause_category and self.root_cause_analysis):
                self._refuse(wanted, "record root_cause_category and root_cause_analysis first")
            if not any(a.type is ActionType.CORRECTIVE and a.status is not ActionStatus.CANCELLED
                       and a.status is not ActionStatus.INEFFECTIVE for a in self.actions):
                self._refuse(wanted, "plan at least one CORRECTIVE action first")
            self._moved(NcStatusChanged, wanted, now, changes, reason_text(reason))
        elif wanted is NcStatus.CLOSED:
            if not self.closure_note:
                self._refuse(wanted, "a closure_note is required")
            if source is NcStatus.ACTION_PLANNED and not self.has_verified_corrective_action:
                self._refuse(wanted, "no CORRECTIVE action has been verified effective")
            self._close(now, actor, changes, reason_text(reason))
        else:
            self._cancel(now, actor, reason_text(reason, "cancel a non-conformity"), changes)
        return True

    def close(self, now: datetime, actor: str = "system") -> None:
        """The seed's quick close (PATCH /ncs/{id}/close), for every severity and every open state."""
        if NcStatus.CLOSED not in self.allowed_next():
            why = "already CLOSED" if self.status is NcStatus.CLOSED else ""
            raise TransitionRefused(f"non-conformity {self.id}", self.status, NcStatus.CLOSED, self.allowed_next(),
                                    why=why)
        self._close(now, actor, [], None)

    def _close(self, now: datetime, actor: str, changes: list[list[object]], reason: str | None) -> None:
        unfinished = [a.id for a in self.actions if a.status in ACTION_UNFINISHED]
        if unfinished:
            self._refuse(NcStatus.CLOSED, f"actions {', '.join(map(str, unfinished))} are not finished: "
                         "verify or cancel them first")
        self.closed_without_capa = self.severity is Severity.HIGH and not self.has_verified_corrective_action
        self.closed_at, self.closed_by = now, actor
        changes += [["closed_by", None, actor]] + ([["closed_without_capa", False, True]]
                                                   if self.closed_without_capa else [])
        self._moved(NcClosed, NcStatus.CLOSED, now, changes, reason, closed_without_capa=self.closed_without_capa)

    def _reopen(self, now: datetime, actor: str, reason: str | None, changes: list[list[object]]) -> bool:
        changes += [["reopen_count", self.reopen_count, self.reopen_count + 1],
                    ["closed_at", _json(self.closed_at), None], ["closed_by", self.closed_by, None]]
        if self.closed_without_capa:
            changes.append(["closed_without_capa", True, False])
        self.reopen_count += 1
        self.closed_at = self.closed_by = None
        self.closed_without_capa = False
        self._moved(NcReopened, NcStatus.INVESTIGATING, now, changes, reason, reopen_count=self.reopen_count)
        return True

    def _cancel(self, now: datetime, actor: str, reason: str | None, changes: list[list[object]]) -> None:
        for action in self.actions:  # an unfounded NC needs no action any more
            if action.status in ACTION_OPEN:
                self._action_moved(action, ActionStatus.CANCELLED, now,
                                   [["cancel_reason", None, "the non-conformity was cancelled"]],
                                   "the non-conformity was cancelled")
                action.cancel_reason = "the non-conformity was cancelled"
        changes.append(["cancel_reason", self.cancel_reason, reason])
        self.cancel_reason = reason
        self._moved(NcCancelled, NcStatus.CANCELLED, now, changes, reason)

    def _moved(self, kind: type[_NcMove], target: NcStatus, now: datetime, changes: list[list[object]],
               reason: str | None, **extra: Any) -> None:
        source, self.status, self.updated_at = self.status, target, now
        self.events.append(kind(occurred_at=now, nc_id=self._identity(), supplier_id=self.supplier_id,
                                severity=self.severity, source=source, target=target,
                                changes=[["status", source.value, target.value], *changes], reason=reason, **extra))

    def _refuse(self, wanted: NcStatus, why: str) -> None:
        raise TransitionRefused(f"non-conformity {self.id}", self.status, wanted, self.allowed_next(), why=why)

    # --- CAPA actions ---

    def plan_action(self, type_: ActionType | str, description: object, owner: str, due_date: object,
                    effectiveness_criteria: object, now: datetime) -> NcAction:
        kind = _parse(ActionType, type_, "type")
        text = required_text("description", description, DESCRIPTION_MAX_LENGTH, multiline=True)
        who = _username("owner", owner)
        if not who:
            raise ValidationError("owner", "must not be empty")
        due = _day("due_date", due_date)
        if due is None:
            raise ValidationError("due_date", "is required")
        if due < now.date():
            raise ValidationError("due_date", "must not be in the past")
        criteria = optional_text("effectiveness_criteria", effectiveness_criteria, NOTE_MAX_LENGTH, multiline=True)
        if kind is ActionType.CORRECTIVE and not criteria:
            raise ValidationError("effectiveness_criteria", "is required for a CORRECTIVE action: how will its "
                                  "effect be checked?")
        if not self.is_open:
            raise InvalidTransition(f"non-conformity {self.id} is {self.status}: no action can be added")
        if self.status is NcStatus.OPEN and kind is not ActionType.CONTAINMENT:
            raise InvalidTransition(f"non-conformity {self.id} is OPEN: only a CONTAINMENT action can be added "
                                    "before the investigation starts")
        action = NcAction(id=max((a.id for a in self.actions), default=0) + 1, type=kind, description=text,
                          owner=who, due_date=due, created_at=now, effectiveness_criteria=criteria)
        self.actions.append(action)
        self.updated_at = now
        self.events.append(NcActionCreated(occurred_at=now, nc_id=self._identity(), action_id=action.id,
                                           type=kind, description=text, owner=who, due_date=due,
                                           effectiveness_criteria=criteria))
        return action

    def move_action(self, action_id: int, target: ActionStatus | str, now: datetime, actor: str,
                    note: object = None, result: object = None) -> bool:
        """One step of an action; the caller's right to take it is checked by the use case."""
        action = self.action(action_id)
        if action is None:
            raise NotFound("action", f"{action_id} of non-conformity {self.id}")
        wanted = _parse(ActionStatus, target, "status")
        if wanted is action.status:
            return False
        allowed = ACTION_FLOW[action.status]
        what = f"action {action_id} of non-conformity {self.id}"
        if wanted not in allowed:
            raise TransitionRefused(what, action.status, wanted, allowed)
        if not self.is_open:
            raise InvalidTransition(f"non-conformity {self.id} is {self.status}: its actions cannot change")
        text = _note("note", note)
        outcome = _note("result", result)
        changes: list[list[object]] = []

        def put(name: str, value: object) -> None:
            changes.append([name, _json(getattr(action, name)), _json(value)])
            setattr(action, name, value)

        if wanted is A.IN_PROGRESS:
            put("started_at", now)
        elif wanted is A.DONE:
            if not text:
                raise ValidationError("note", "is required to mark an action DONE: what was done?")
            put("done_at", now)
            put("completion_note", text)
        elif wanted in (A.VERIFIED, A.INEFFECTIVE):
            if actor == action.owner:
                raise ActionVerifierIsOwner(what, actor)
            if action.type is ActionType.CORRECTIVE and not outcome:
                raise ValidationError("result", "is required to check a CORRECTIVE action: what was measured "
                                      f"against {action.effectiveness_criteria!r}?")
            put("verified_by", actor)
            put("verified_at", now)
            put("effectiveness_result", outcome)
            if text:
                put("verification_note", text)
        else:
            if not text:
                raise ValidationError("note", "is required to cancel an action: why?")
            put("cancel_reason", text)
        self._action_moved(action, wanted, now, changes, text)
        if wanted is A.INEFFECTIVE and self.status is NcStatus.ACTION_PLANNED:
            self._moved(NcStatusChanged, NcStatus.INVESTIGATING, now, [],
                        f"action {action_id} was found INEFFECTIVE: a new corrective action is needed")
        return True

    def _action_moved(self, action: NcAction, target: ActionStatus, now: datetime, changes: list[list[object]],
                      reason: str | None) -> None:
        source, action.status, action.updated_at, self.updated_at = action.status, target, now, now
        self.events.append(NcActionStatusChanged(
            occurred_at=now, nc_id=self._identity(), action_id=action.id, type=action.type, source=source,
            target=target, changes=[["status", source.value, target.value], *changes], reason=reason))

    def _identity(self) -> int:
        if self.id is None:
            raise RuntimeError("non-conformity has no id yet: add it to a repository first")
        return self.id


class ActionVerifierIsOwner(NotPermitted):
    """Separation of duties: the owner of an action may not check its effectiveness (403, ADR 0024)."""

    def __init__(self, what: str, user: str) -> None:
        super().__init__(f"{user} owns {what}: its effectiveness must be checked by someone else")
