"""The NC investigation workflow and its CAPA actions (ADR 0024): the state machines on the domain,
then the use cases on the in-memory adapters (owners from the user directory, roles, outbox, KPIs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.outbound.security import StaticUserDirectory
from application.conditional import PreconditionFailed
from application.envelope import Origin
from application.kpi import KpiQuery
from application.nonconformities import MoveAction, MoveNonConformity, PlanAction, UpdateNonConformity
from application.ports.security import UserAccount
from domain.errors import InvalidTransition, NotPermitted, TransitionRefused, ValidationError
from domain.nonconformities import (
    NC_EVENTS, ActionStatus, NcStatus, NonConformity, Severity,
)
from domain.roles import Role

NOW = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
DUE = date(2026, 1, 25)


def nc(severity: Severity = Severity.HIGH) -> NonConformity:
    item = NonConformity.open(1, severity, "porosity in lot 41", NOW)
    item.id = 7
    return item


def investigated(severity: Severity = Severity.HIGH) -> NonConformity:
    item = nc(severity)
    item.move("INVESTIGATING", NOW, "quality", values={"owner": "quality", "root_cause_category": "MATERIAL",
                                                        "root_cause_analysis": "wet resin"})
    return item


def planned() -> NonConformity:
    item = investigated()
    item.plan_action("CORRECTIVE", "dry the resin", "procurement", DUE, "no porosity in 3 lots", NOW)
    item.move("ACTION_PLANNED", NOW, "quality")
    return item


def done(item: NonConformity, action_id: int = 1) -> None:
    item.move_action(action_id, "IN_PROGRESS", NOW, "procurement")
    item.move_action(action_id, "DONE", NOW, "procurement", note="drying added")


# --- the NC state machine -------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "target", "allowed"), [
    ("OPEN", "ACTION_PLANNED", ["INVESTIGATING", "CLOSED", "CANCELLED"]),
    ("CANCELLED", "OPEN", []),
    ("CLOSED", "ACTION_PLANNED", ["INVESTIGATING"]),
])
def test_every_illegal_move_is_refused_with_the_allowed_next_states(start, target, allowed):
    item = nc()
    item.status = NcStatus(start)
    with pytest.raises(TransitionRefused) as refused:
        item.move(target, NOW, "quality", reason="r")
    assert refused.value.allowed == allowed
    assert item.events == []


def test_each_guard_names_what_is_missing():
    item = nc()
    with pytest.raises(TransitionRefused, match="owner"):
        item.move("INVESTIGATING", NOW, "quality")
    item.move("INVESTIGATING", NOW, "quality", values={"owner": "quality"})
    with pytest.raises(TransitionRefused, match="root_cause"):
        item.move("ACTION_PLANNED", NOW, "quality")
    item.amend({"root_cause_category": "METHOD", "root_cause_analysis": "no drying step"}, NOW)
    with pytest.raises(TransitionRefused, match="CORRECTIVE"):
        item.move("ACTION_PLANNED", NOW, "quality")
    with pytest.raises(ValidationError, match="reason"):
        item.move("CANCELLED", NOW, "quality")
    with pytest.raises(TransitionRefused, match="closure_note"):
        item.move("CLOSED", NOW, "quality")


def test_a_repeated_move_is_a_no_op_and_a_move_carries_from_to_and_the_changes():
    item = investigated()
    [event] = item.events
    assert event.event_type == "NC_STATUS_CHANGED"
    payload = event.payload()
    assert (payload["from"], payload["to"]) == ("OPEN", "INVESTIGATING")
    assert ["owner", None, "quality"] in payload["changes"] and ["status", "OPEN", "INVESTIGATING"] in payload["changes"]
    assert item.move("INVESTIGATING", NOW, "quality") is False
    assert len(item.events) == 1
    rebuilt = type(event).rebuild(payload, event.event_id, event.occurred_at)
    assert (rebuilt.source, rebuilt.target) == (NcStatus.OPEN, NcStatus.INVESTIGATING)


def test_fields_are_validated_and_each_change_is_recorded():
    item = nc()
    with pytest.raises(ValidationError) as error:
        item.amend({"qty_checked": 10, "qty_nonconforming": 11}, NOW)
    assert error.value.field == "qty_nonconforming"
    with pytest.raises(ValidationError) as error:
        item.amend({"disposition": "USE_AS_IS_CONCESSION"}, NOW)
    assert error.value.field == "disposition_authorized_by"
    with pytest.raises(ValidationError) as error:
        item.amend({"root_cause_category": "BAD_LUCK"}, NOW)
    assert error.value.field == "root_cause_category"
    changes = item.amend({"qty_checked": 10, "qty_nonconforming": 3, "source_type": "order", "source_id": "PO-1"},
                         NOW, reason="incoming inspection")
    assert ["qty_nonconforming", None, 3] in changes
    assert item.events[-1].payload()["reason"] == "incoming inspection"
    assert item.amend({"qty_checked": 10}, NOW) == []  # nothing changed: no event
    assert len(item.events) == 1


def test_the_full_cycle_closes_without_the_capa_mark_and_a_reopen_counts():
    item = planned()
    done(item)
    item.move_action(1, "VERIFIED", NOW, "quality", result="0 defects in lots 41-43")
    with pytest.raises(TransitionRefused, match="closure_note"):
        item.move("CLOSED", NOW, "quality")
    item.move("CLOSED", NOW + timedelta(days=2), "quality", values={"closure_note": "effective"})
    assert (item.status, item.closed_by, item.closed_without_capa, item.days_to_close) == \
        (NcStatus.CLOSED, "quality", False, 2.0)
    with pytest.raises(InvalidTransition):
        item.amend({"owner": "admin"}, NOW)
    with pytest.raises(ValidationError, match="reason"):
        item.move("INVESTIGATING", NOW, "quality")
    item.move("INVESTIGATING", NOW, "quality", reason="porosity came back")
    assert (item.status, item.reopen_count, item.closed_at, item.closed_by) == (NcStatus.INVESTIGATING, 1, None, None)
    assert item.events[-1].event_type == "NC_REOPENED"


def test_the_quick_close_marks_a_high_nc_without_a_verified_corrective_action():
    high, low = nc(Severity.HIGH), nc(Severity.LOW)
    high.close(NOW, "quality")
    low.close(NOW, "quality")
    assert (high.closed_without_capa, low.closed_without_capa) == (True, False)
    assert high.events[-1].payload()["closed_without_capa"] is True
    with pytest.raises(TransitionRefused, match="already CLOSED"):
        high.close(NOW)


def test_an_nc_with_unfinished_actions_cannot_be_closed_and_cancelling_cancels_them():
    item = planned()
    with pytest.raises(TransitionRefused, match="not finished"):
        item.close(NOW)
    item.move("CANCELLED", NOW, "quality", reason="unfounded: the lot was never delivered")
    assert item.actions[0].status is ActionStatus.CANCELLED
    assert [e.event_type for e in item.events[-2:]] == ["NC_ACTION_STATUS_CHANGED", "NC_CANCELLED"]
    assert item.is_open is False


# --- the action state machine ---------------------------------------------------------------------

def test_action_rules_criteria_due_date_order_of_steps_and_notes():
    item = nc()
    with pytest.raises(InvalidTransition, match="CONTAINMENT"):
        item.plan_action("CORRECTIVE", "x", "procurement", DUE, "criteria", NOW)
    item.plan_action("CONTAINMENT", "quarantine lot 41", "logistics", DUE, None, NOW)  # allowed while OPEN
    item.move("INVESTIGATING", NOW, "quality", values={"owner": "quality"})
    with pytest.raises(ValidationError) as error:
        item.plan_action("CORRECTIVE", "x", "procurement", DUE, None, NOW)
    assert error.value.field == "effectiveness_criteria"
    with pytest.raises(ValidationError) as error:
        item.plan_action("PREVENTIVE", "x", "procurement", NOW.date() - timedelta(days=1), None, NOW)
    assert error.value.field == "due_date"
    with pytest.raises(TransitionRefused) as refused:
        item.move_action(1, "VERIFIED", NOW, "quality")
    assert refused.value.allowed == ["IN_PROGRESS", "CANCELLED"]
    item.move_action(1, "IN_PROGRESS", NOW, "logistics")
    with pytest.raises(ValidationError, match="note"):
        item.move_action(1, "DONE", NOW, "logistics")
    item.move_action(1, "DONE", NOW, "logistics", note="lot 41 in quarantine")
    with pytest.raises(NotPermitted, match="someone else"):
        item.move_action(1, "VERIFIED", NOW, "logistics")
    item.move_action(1, "VERIFIED", NOW, "quality")  # a containment action needs no criteria nor result
    assert (item.actions[0].verified_by, item.actions[0].status) == ("quality", ActionStatus.VERIFIED)


def test_an_ineffective_corrective_action_sends_the_nc_back_to_investigating():
    item = planned()
    done(item)
    with pytest.raises(ValidationError, match="result"):
        item.move_action(1, "INEFFECTIVE", NOW, "quality")
    item.move_action(1, "INEFFECTIVE", NOW, "quality", result="porosity in lot 44")
    assert item.status is NcStatus.INVESTIGATING
    assert [e.event_type for e in item.events[-2:]] == ["NC_ACTION_STATUS_CHANGED", "NC_STATUS_CHANGED"]
    with pytest.raises(TransitionRefused, match="CORRECTIVE"):  # it needs a new corrective action
        item.move("ACTION_PLANNED", NOW, "quality")


def test_every_nc_event_rebuilds_from_its_payload():
    item = planned()
    done(item)
    item.move_action(1, "VERIFIED", NOW, "admin", result="ok")
    item.close(NOW, "quality")
    assert {type(e) for e in item.events} <= set(NC_EVENTS)
    for event in item.events:
        assert type(event).rebuild(event.payload(), event.event_id, event.occurred_at) == event


# --- use cases on the in-memory adapters ----------------------------------------------------------

@pytest.fixture
def capa(uow, clock):
    users = StaticUserDirectory([UserAccount(r.value, "x", r) for r in Role])
    return (UpdateNonConformity(uow, clock, users), MoveNonConformity(uow, clock, users),
            PlanAction(uow, clock, users), MoveAction(uow, clock), KpiQuery(uow, clock))


def test_use_cases_check_users_roles_versions_and_keep_the_kpis(app, capa, clock, outbox):
    update, move, plan, act, kpi = capa
    app.create_supplier("Beta Metals", date(2027, 1, 1), Origin("procurement"))
    app.raise_nc(1, "high", "porosity", Origin("quality"))
    with pytest.raises(ValidationError) as error:
        move(1, "INVESTIGATING", Origin("quality"), {"owner": "nobody"})
    assert error.value.field == "owner"
    with pytest.raises(ValidationError) as error:
        update(1, {"disposition": "SCRAP", "disposition_authorized_by": "ghost"}, Origin("quality"))
    assert error.value.field == "disposition_authorized_by"
    nc = move(1, "INVESTIGATING", Origin("quality"), {"owner": "quality"})
    with pytest.raises(PreconditionFailed):
        update(1, {"root_cause_category": "MATERIAL"}, Origin("quality"), expected=[nc.version - 1])
    update(1, {"root_cause_category": "MATERIAL", "root_cause_analysis": "wet resin"}, Origin("quality"),
           expected=[nc.version])
    with pytest.raises(ValidationError):
        plan(1, "CORRECTIVE", "dry it", "ghost", DUE, Origin("quality"), "no porosity")
    nc, action = plan(1, "CORRECTIVE", "dry it", "procurement", date(2026, 1, 20), Origin("quality"), "no porosity")
    before = nc.version
    move(1, "ACTION_PLANNED", Origin("quality"))
    with pytest.raises(NotPermitted):  # only its owner, quality or admin start an action
        act(1, action.id, "IN_PROGRESS", Origin("logistics"), Role.LOGISTICS)
    act(1, action.id, "IN_PROGRESS", Origin("procurement"), Role.PROCUREMENT)
    act(1, action.id, "DONE", Origin("procurement"), Role.PROCUREMENT, note="drying added")
    with pytest.raises(NotPermitted):  # the owner, even as the verifier's role, may not check it
        act(1, action.id, "VERIFIED", Origin("procurement"), Role.PROCUREMENT, result="ok")
    assert app.ncs.get(1).version > before  # an action's change moves the NC's version (one ETag)
    figures = kpi()
    assert (figures.nc_open, figures.nc_open_high, figures.nc_by_status["ACTION_PLANNED"]) == (1, 1, 1)
    assert (figures.actions_overdue, figures.actions_due_7d, figures.nc_by_root_cause) == (0, 0, {"MATERIAL": 1})
    clock.current = NOW + timedelta(days=10)
    act(1, action.id, "INEFFECTIVE", Origin("admin"), Role.ADMIN, result="porosity again")
    assert app.ncs.get(1).status is NcStatus.INVESTIGATING
    app.close_nc(1, Origin("quality"))
    figures = kpi()
    assert (figures.nc_high_closed_without_capa, figures.capa_effectiveness_rate, figures.nc_closed) == (1, 0.0, 1)
    assert figures.avg_days_to_close_90d == 10.0
    types = [r.envelope.event_type for r in outbox()]
    assert types.count("NC_ACTION_STATUS_CHANGED") == 3 and types.count("NC_STATUS_CHANGED") == 3
    assert types[-1] == "NC_CLOSED"


def test_actions_overdue_and_due_within_7_days_follow_the_clock(app, capa, clock):
    update, move, plan, act, kpi = capa
    app.create_supplier("Beta Metals", date(2027, 1, 1), Origin("procurement"))
    app.raise_nc(1, "low", "scratch", Origin("quality"))
    move(1, "INVESTIGATING", Origin("quality"), {"owner": "quality"})
    for days in (1, 7, 8):
        plan(1, "PREVENTIVE", "train", "logistics", NOW.date() + timedelta(days=days), Origin("quality"))
    assert (kpi().actions_overdue, kpi().actions_due_7d) == (0, 2)
    clock.current = NOW + timedelta(days=2)
    assert (kpi().actions_overdue, kpi().actions_due_7d) == (1, 2)
    act(1, 1, "CANCELLED", Origin("quality"), Role.QUALITY, note="not needed")
    assert kpi().actions_overdue == 0


def test_avg_days_to_close_counts_the_last_90_days_and_a_reopen_takes_the_closing_back(app, capa, clock, db):
    from tests.support.counting import memory_counts, nonzero

    update, move, plan, act, kpi = capa
    app.create_supplier("Beta Metals", date(2027, 1, 1), Origin("procurement"))
    app.raise_nc(1, "low", "scratch", Origin("quality"))
    app.raise_nc(1, "low", "dent", Origin("quality"))
    clock.current = NOW + timedelta(days=3)
    app.close_nc(1, Origin("quality"))
    clock.current = NOW + timedelta(days=4, hours=12)
    app.close_nc(2, Origin("quality"))
    assert kpi().avg_days_to_close_90d == 3.75
    move(2, "INVESTIGATING", Origin("quality"), reason="the dent came back")
    assert kpi().avg_days_to_close_90d == 3.0
    assert nonzero(db.state.counters) == memory_counts(db.state)
    clock.current = NOW + timedelta(days=3 + 90)  # the first closing left the window
    assert kpi().avg_days_to_close_90d is None
