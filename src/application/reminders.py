"""The reminder job (QHSE-MODEL C3, ADR 0027): CERT_EXPIRING / CERT_EXPIRED for certificates, and
ACTION_DUE_SOON / ACTION_OVERDUE / ACTION_ESCALATED for CAPA actions, each stage once.

Each subject is one transaction: the stage due today (domain/reminders.py), the claim of its key in
the reminder log, and — only when the claim inserted it — the event in the outbox, with, for an
expired certificate, the supplier's SUPPLIER_REVIEW_REQUIRED. So a restart, a second run the same
day or another worker running the job at the same moment sends nothing twice, and a failure part way
leaves the subjects not done for the next run. Subjects are taken in key order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from domain.certificates import Certificate
from domain.nonconformities import ACTION_OPEN, NcAction, NonConformity
from domain.reminders import (
    ACTION_DUE_SOON_DAYS, ACTION_ESCALATE_AFTER_DAYS, CERTIFICATE_THRESHOLDS, ActionEscalated, CertificateExpired,
    ReminderPolicy, Stage,
)

from application.approval import review_expired_certificate
from application.envelope import Origin
from application.ports.clock import Clock
from application.ports.reminders import ACTION, CERTIFICATE, ReminderKey
from application.ports.unit_of_work import UnitOfWork, UowFactory

JOB_ACTOR = "system:reminders"


@dataclass(frozen=True)
class ReminderReport:
    day: date
    examined: int = 0  # subjects looked at
    sent: dict[str, int] = field(default_factory=dict)  # events outboxed, by type

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class RunReminders:
    def __init__(self, uow: UowFactory, clock: Clock, certificate_days: Iterable[int] = CERTIFICATE_THRESHOLDS,
                 action_due_soon_days: int = ACTION_DUE_SOON_DAYS,
                 action_escalate_after_days: int = ACTION_ESCALATE_AFTER_DAYS, quality_lead: str | None = None) -> None:
        self.uow, self.clock = uow, clock
        self.policy = ReminderPolicy(tuple(certificate_days), action_due_soon_days, action_escalate_after_days)
        self.quality_lead = quality_lead  # a username: escalations are addressed to it too

    def __call__(self, day: date | None = None, origin: Origin | None = None) -> ReminderReport:
        """The reminders due on `day` (today by the clock); `day` lets an operator catch up a missed day."""
        today = day or self.clock.today()
        origin = origin or Origin(actor=JOB_ACTOR)
        with self.uow().reading() as uow:
            certificates = uow.reminders.certificates_due(today + timedelta(days=self.policy.certificate_horizon))
            actions = uow.reminders.actions_due(today + timedelta(days=self.policy.action_due_soon_days))
        sent: Counter[str] = Counter()
        for certificate_id in certificates:
            sent.update(self._one(origin, lambda uow: self._certificate(uow, certificate_id, today)))
        for nc_id, action_id in actions:
            sent.update(self._one(origin, lambda uow: self._action(uow, nc_id, action_id, today)))
        return ReminderReport(today, len(certificates) + len(actions), dict(sorted(sent.items())))

    def _one(self, origin: Origin, remind: Callable[[UnitOfWork], list[str]]) -> list[str]:
        with self.uow().acting_as(origin) as uow:
            sent = remind(uow)
            if sent:
                uow.commit()
        return sent

    def _claim(self, uow: UnitOfWork, subject_type: str, subject_id: str, stage: Stage, subject_date: date) -> bool:
        key = ReminderKey(subject_type, subject_id, stage.event.event_type, stage.threshold, subject_date)
        return uow.reminders.claim(key, self.clock.now())

    def _certificate(self, uow: UnitOfWork, certificate_id: int, today: date) -> list[str]:
        certificate: Certificate | None = uow.certificates.get(certificate_id)
        if certificate is None or not certificate.active:
            return []
        stage = self.policy.certificate_stage(certificate.expires_on, today)
        if stage is None or not self._claim(uow, CERTIFICATE, str(certificate_id), stage, certificate.expires_on):
            return []
        now = self.clock.now()
        certificate.events.append(stage.event(occurred_at=now, **certificate.facts(), days_left=stage.days_left,
                                              threshold=stage.threshold))
        sent = [stage.event.event_type]
        if stage.event is CertificateExpired and review_expired_certificate(uow, certificate, today, now):
            sent.append("SUPPLIER_REVIEW_REQUIRED")
        return sent

    def _action(self, uow: UnitOfWork, nc_id: int, action_id: int, today: date) -> list[str]:
        nc: NonConformity | None = uow.ncs.get(nc_id)
        action: NcAction | None = nc.action(action_id) if nc is not None else None
        if nc is None or action is None or action.status not in ACTION_OPEN:
            return []
        stage = self.policy.action_stage(action.due_date, today)
        if stage is None or not self._claim(uow, ACTION, f"{nc_id}/{action_id}", stage, action.due_date):
            return []
        notify = [action.owner]
        if stage.event is ActionEscalated:
            notify += [name for name in (nc.owner, self.quality_lead) if name and name not in notify]
        nc.events.append(stage.event(occurred_at=self.clock.now(), nc_id=nc_id, action_id=action_id,
                                     type=action.type, owner=action.owner, due_date=action.due_date,
                                     days_left=stage.days_left, threshold=stage.threshold, notify=notify))
        return [stage.event.event_type]
