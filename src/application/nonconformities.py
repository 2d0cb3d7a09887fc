"""Non-conformity use cases and queries: the seed's raise and quick close, the investigation
workflow and its CAPA actions (ADR 0024)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from domain.errors import NotFound, NotPermitted, ValidationError
from domain.nonconformities import USER_FIELDS, ActionStatus, NcAction, NonConformity, Severity
from domain.roles import Role

from application.conditional import Expected, check_version
from application.envelope import Origin
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.repositories import NcFilter
from application.ports.security import UserDirectory
from application.ports.unit_of_work import UnitOfWork, UowFactory

QUALITY_ROLES = frozenset({Role.QUALITY, Role.ADMIN})  # who runs the workflow and checks effectiveness


class RaiseNonConformity:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, supplier_id: int, severity: str, description: str, origin: Origin) -> NonConformity:
        level = Severity.parse(severity)
        with self.uow().acting_as(origin) as uow:
            if uow.suppliers.get(supplier_id) is None:
                raise NotFound("supplier", supplier_id)
            nc = NonConformity.open(supplier_id, level, description, self.clock.now())
            uow.ncs.add(nc)
            nc.record_opening()
            uow.commit()
        return nc


def _load(uow: UnitOfWork, nc_id: int, expected: Expected) -> NonConformity:
    nc = uow.ncs.get(nc_id)
    if nc is None:
        raise NotFound("non-conformity", nc_id)
    check_version(f"non-conformity {nc_id}", nc.version, expected)
    return nc


def check_users(users: UserDirectory, values: Mapping[str, object], fields: tuple[str, ...] = USER_FIELDS) -> None:
    """Owners and authorisers are usernames of the user directory: an unknown one is a 422 naming the field."""
    for name in fields:
        value = values.get(name)
        if isinstance(value, str) and value.strip() and users.find(value.strip()) is None:
            raise ValidationError(name, f"{value.strip()!r} is not a user of SupplyTrace")


class CloseNonConformity:
    """The seed's quick close, for every severity (a high NC without a verified corrective action is
    marked `closed_without_capa`)."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, nc_id: int, origin: Origin, expected: Expected = None) -> NonConformity:
        with self.uow().acting_as(origin) as uow:
            nc = _load(uow, nc_id, expected)
            nc.close(self.clock.now(), origin.actor)
            uow.commit()
        return nc


class UpdateNonConformity:
    """PATCH /ncs/{id}: set investigation fields of an open NC; one NC_UPDATED with the changes."""

    def __init__(self, uow: UowFactory, clock: Clock, users: UserDirectory) -> None:
        self.uow, self.clock, self.users = uow, clock, users

    def __call__(self, nc_id: int, values: Mapping[str, object], origin: Origin, reason: object = None,
                 expected: Expected = None) -> NonConformity:
        check_users(self.users, values)
        with self.uow().acting_as(origin) as uow:
            nc = _load(uow, nc_id, expected)
            nc.amend(values, self.clock.now(), reason)
            uow.commit()
        return nc


class MoveNonConformity:
    """PATCH /ncs/{id}/status: one step of the workflow, with the fields it needs set in the same change."""

    def __init__(self, uow: UowFactory, clock: Clock, users: UserDirectory) -> None:
        self.uow, self.clock, self.users = uow, clock, users

    def __call__(self, nc_id: int, status: str, origin: Origin, values: Mapping[str, object] | None = None,
                 reason: object = None, expected: Expected = None) -> NonConformity:
        check_users(self.users, values or {})
        with self.uow().acting_as(origin) as uow:
            nc = _load(uow, nc_id, expected)
            nc.move(status, self.clock.now(), origin.actor, reason, values)
            uow.commit()
        return nc


class PlanAction:
    """POST /ncs/{id}/actions: a CONTAINMENT, CORRECTIVE or PREVENTIVE action with its owner and due date."""

    def __init__(self, uow: UowFactory, clock: Clock, users: UserDirectory) -> None:
        self.uow, self.clock, self.users = uow, clock, users

    def __call__(self, nc_id: int, type_: str, description: str, owner: str, due_date: date | str,
                 origin: Origin, effectiveness_criteria: str | None = None,
                 expected: Expected = None) -> tuple[NonConformity, NcAction]:
        check_users(self.users, {"owner": owner}, ("owner",))
        with self.uow().acting_as(origin) as uow:
            nc = _load(uow, nc_id, expected)
            action = nc.plan_action(type_, description, owner, due_date, effectiveness_criteria, self.clock.now())
            uow.commit()
        return nc, action


class MoveAction:
    """PATCH /ncs/{id}/actions/{action_id}/status. Who may (ADR 0024): its owner or quality/admin start
    it and mark it DONE; quality/admin, never its owner, mark it VERIFIED or INEFFECTIVE (the caller is
    the verifier); quality/admin cancel it."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, nc_id: int, action_id: int, status: str, origin: Origin, role: Role,
                 note: object = None, result: object = None, expected: Expected = None) -> tuple[NonConformity, NcAction]:
        with self.uow().acting_as(origin) as uow:
            nc = _load(uow, nc_id, expected)
            action = nc.action(action_id)
            if action is None:
                raise NotFound("action", f"{action_id} of non-conformity {nc_id}")
            _authorize(action, status, origin.actor, role)
            nc.move_action(action_id, status, self.clock.now(), origin.actor, note, result)
            uow.commit()
        return nc, action


def action_move_refusal(action: NcAction, status: str, user: str, role: Role) -> str | None:
    """Why this user may not mark the action `status` (None: their role or ownership allows it). The
    verifier-is-not-the-owner rule is the domain's, for quality and admin too (ActionVerifierIsOwner)."""
    if role in QUALITY_ROLES:
        return None
    if status in (ActionStatus.IN_PROGRESS, ActionStatus.DONE) and user == action.owner:
        return None
    if status in (ActionStatus.IN_PROGRESS, ActionStatus.DONE):
        return f"only the owner of action {action.id} ({action.owner}), quality or admin may mark it {status}"
    return f"only quality or admin may mark action {action.id} {status}"


def _authorize(action: NcAction, status: str, user: str, role: Role) -> None:
    refusal = action_move_refusal(action, status, user, role)
    if refusal is not None:
        raise NotPermitted(refusal)


class NonConformityQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def get(self, nc_id: int) -> NonConformity:
        with self.uow().reading() as uow:
            nc = uow.ncs.get(nc_id)
            if nc is None:
                raise NotFound("non-conformity", nc_id)
            return nc

    def list(self, criteria: NcFilter, page: PageRequest) -> Page[NonConformity]:
        with self.uow().reading() as uow:
            return uow.ncs.list(criteria, page)
