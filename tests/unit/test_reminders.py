"""The reminder job (ADR 0027): the stage due, pure; then the job on the in-memory adapters — each stage
once, through the outbox, whatever the runs; the review of an expired certificate; escalation."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapters.outbound.security import StaticUserDirectory
from application.approval import ChangeApproval
from application.certificates import AddCertificate, UpdateCertificate, WithdrawCertificate
from application.nonconformities import MoveAction, MoveNonConformity, PlanAction, RaiseNonConformity
from application.ports.security import UserAccount
from application.reminders import RunReminders
from application.suppliers import CreateSupplier
from domain.errors import ValidationError
from domain.nonconformities import Severity
from domain.reminders import (
    ActionDueSoon, ActionEscalated, ActionOverdue, CertificateExpired, CertificateExpiring, ReminderPolicy,
)
from domain.roles import Role

TODAY = date(2026, 1, 15)  # the fixed clock's day (tests/unit/conftest.py)
POLICY = ReminderPolicy()


def days(n: int) -> date:
    return TODAY + timedelta(days=n)


@pytest.mark.parametrize(("left", "stage"), [
    (61, None), (60, (CertificateExpiring, 60)), (31, (CertificateExpiring, 60)), (30, (CertificateExpiring, 30)),
    (8, (CertificateExpiring, 30)), (7, (CertificateExpiring, 7)), (0, (CertificateExpiring, 7)),
    (-1, (CertificateExpired, 0)), (-400, (CertificateExpired, 0)),
])
def test_a_certificate_is_at_the_tightest_stage_it_reached(left, stage):
    found = POLICY.certificate_stage(days(left), TODAY)
    assert (found and (found.event, found.threshold)) == stage
    assert found is None or found.days_left == left


@pytest.mark.parametrize(("left", "stage"), [
    (8, None), (7, ActionDueSoon), (0, ActionDueSoon), (-1, ActionOverdue), (-7, ActionOverdue),
    (-8, ActionEscalated), (-90, ActionEscalated),
])
def test_an_action_is_due_soon_then_overdue_then_escalated(left, stage):
    found = POLICY.action_stage(days(left), TODAY)
    assert (found and found.event) == stage


def test_the_thresholds_are_checked_and_configurable():
    assert ReminderPolicy((7, 60, 30)).certificate_thresholds == (7, 30, 60)
    assert ReminderPolicy((90,)).certificate_stage(days(80), TODAY).threshold == 90
    assert ReminderPolicy(action_due_soon_days=10).action_stage(days(10), TODAY).event is ActionDueSoon
    for bad in ((), (30, 30), (-1,)):
        with pytest.raises(ValidationError):
            ReminderPolicy(bad)


# --- the job --------------------------------------------------------------------------------------

@pytest.fixture
def q(uow, clock):
    users = StaticUserDirectory([UserAccount(r.value, "x", r) for r in Role] + [UserAccount("lead", "x", Role.QUALITY)])

    class Wired:
        create_supplier = CreateSupplier(uow, clock)
        add = AddCertificate(uow, clock)
        update = UpdateCertificate(uow, clock)
        withdraw = WithdrawCertificate(uow, clock)
        approve = ChangeApproval(uow, clock)
        raise_nc = RaiseNonConformity(uow, clock)
        move = MoveNonConformity(uow, clock, users)
        plan = PlanAction(uow, clock, users)
        move_action = MoveAction(uow, clock)
        remind = RunReminders(uow, clock, quality_lead="lead")
    return Wired()


def reminders(outbox) -> list[tuple[str, str, dict]]:
    kinds = {e.event_type for e in (CertificateExpiring, CertificateExpired, ActionDueSoon, ActionOverdue,
                                    ActionEscalated)} | {"SUPPLIER_REVIEW_REQUIRED"}
    return [(r.envelope.event_type, r.envelope.aggregate_id, r.envelope.payload) for r in outbox()
            if r.envelope.event_type in kinds]


def test_a_certificate_gets_each_stage_once_and_a_review_when_it_expires(q, origin, clock, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    q.approve(supplier, "APPROVED", "audit passed", origin)
    cert = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(30), True, origin).certificate
    report = q.remind()
    assert (report.examined, report.sent) == (1, {"CERT_EXPIRING": 1})
    assert q.remind().sent == {} and q.remind(days(1)).sent == {}  # the 30-day stage is sent; the 7-day one not yet
    [(kind, aggregate, payload)] = reminders(outbox)
    assert (kind, aggregate, payload["certificate_id"], payload["threshold"], payload["days_left"]) == (
        "CERT_EXPIRING", str(supplier), cert.id, 30, 30)
    assert (payload["number"], payload["expires_on"], payload["required"]) == ("Q-1", days(30).isoformat(), True)
    assert q.remind(days(25)).sent == {"CERT_EXPIRING": 1}  # 5 days left: the 7-day stage
    clock.advance(31 * 86400)
    assert q.remind().sent == {"CERT_EXPIRED": 1, "SUPPLIER_REVIEW_REQUIRED": 1}
    assert q.remind().examined == 0  # an expired certificate, reminded, is not looked at again
    assert [k for k, _, _ in reminders(outbox)] == ["CERT_EXPIRING", "CERT_EXPIRING", "CERT_EXPIRED",
                                                    "SUPPLIER_REVIEW_REQUIRED"]
    review = reminders(outbox)[-1][2]
    assert (review["trigger"], review["reference"]) == ("CERTIFICATE_EXPIRED", f"certificate:{cert.id}")
    assert "expired on" in review["reason"] and review["approval_status"] == "APPROVED"  # never a block


def test_a_renewed_certificate_starts_over_and_a_withdrawn_one_is_not_reminded(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    renewed = q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(5), True, origin).certificate
    gone = q.add(supplier, "ISO_14001", "E-1", "BV", days(-300), days(6), False, origin).certificate
    assert q.remind().sent == {"CERT_EXPIRING": 2}
    q.update(supplier, renewed.id, {"expires_on": days(50)}, origin)
    q.withdraw(supplier, gone.id, origin)
    assert q.remind().sent == {"CERT_EXPIRING": 1}  # the new expiry date, at its 60-day stage
    assert reminders(outbox)[-1][2]["threshold"] == 60


def test_an_action_is_reminded_then_reported_overdue_then_escalated_to_the_nc_owner_and_the_lead(
        q, origin, clock, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    nc = q.raise_nc(supplier, Severity.MEDIUM, "burrs on lot 7", origin).id
    q.move(nc, "INVESTIGATING", origin, values={"owner": "quality"})
    q.plan(nc, "CORRECTIVE", "deburr", "procurement", days(7), origin, effectiveness_criteria="no burrs in 3 lots")
    q.plan(nc, "CONTAINMENT", "sort the lot", "logistics", days(30), origin)
    assert q.remind().sent == {"ACTION_DUE_SOON": 1}
    assert q.remind().sent == {}
    clock.advance(8 * 86400)
    assert q.remind().sent == {"ACTION_OVERDUE": 1}
    clock.advance(7 * 86400)  # 8 days overdue
    assert q.remind().sent == {"ACTION_ESCALATED": 1}
    assert q.remind().examined == 0  # escalated, the action is not looked at again (the other is 7 days off)
    sent = reminders(outbox)
    assert [(k, aggregate) for k, aggregate, _ in sent] == [
        ("ACTION_DUE_SOON", str(nc)), ("ACTION_OVERDUE", str(nc)), ("ACTION_ESCALATED", str(nc))]
    assert [(p["action_id"], p["owner"], p["days_left"], p["notify"]) for _, _, p in sent] == [
        (1, "procurement", 7, ["procurement"]), (1, "procurement", -1, ["procurement"]),
        (1, "procurement", -8, ["procurement", "quality", "lead"])]


def test_a_finished_action_is_not_reminded(q, origin, clock, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    nc = q.raise_nc(supplier, Severity.LOW, "label smudged", origin).id
    q.move(nc, "INVESTIGATING", origin, values={"owner": "quality"})
    q.plan(nc, "CONTAINMENT", "relabel", "logistics", days(1), origin)
    q.move_action(nc, 1, "CANCELLED", origin, Role.QUALITY, note="lot scrapped")
    clock.advance(3 * 86400)
    assert (q.remind().examined, reminders(outbox)) == (0, [])


def test_a_job_that_missed_days_sends_the_current_stage_only(q, origin, outbox):
    supplier = q.create_supplier("Beta Metals", days(700), origin).supplier.id
    q.add(supplier, "ISO_9001", "Q-1", "TÜV", days(-300), days(70), True, origin)
    assert q.remind(days(65)).sent == {"CERT_EXPIRING": 1}  # the first run, 5 days left: the 7-day stage only
    assert q.remind(days(70)).sent == {}
    assert [p["threshold"] for _, _, p in reminders(outbox)] == [7]


def test_the_workers_run_the_reminder_job_and_the_scorecard_unless_turned_off(no_supplytrace_env):
    from adapters.inbound.runtime import background_workers
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    def loops(**settings) -> dict[str, float]:
        container = build_container(Settings(_env_file=None, database_url="memory://", **settings))
        return {w.name: w.every for w in background_workers(container) if hasattr(w, "every")}

    assert loops() == {"retention": 3600, "reminders": 3600, "scorecard": 3600}
    assert loops(reminders_every_seconds=0, scorecard_every_seconds=60) == {"retention": 3600, "scorecard": 60}
    job = build_container(Settings(_env_file=None, database_url="memory://", reminder_certificate_days=[7, 90],
                                   quality_lead="lead")).run_reminders()
    assert (job.policy.certificate_thresholds, job.quality_lead) == ((7, 90), "lead")
    with pytest.raises(ValueError, match="repeat"):
        Settings(_env_file=None, reminder_certificate_days=[30, 30])
