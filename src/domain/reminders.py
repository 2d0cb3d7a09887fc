"""Reminders (QHSE-MODEL C3, ADR 0027): which reminder a certificate or a CAPA action is due for today.

A reminder is an event like any other — outboxed, delivered, audited — recorded on the aggregate of
its subject: a certificate's on its supplier, an action's on its NC. What is due is decided here,
from dates only; that each stage is sent once is the job's bookkeeping (application/reminders.py).

Only the current stage is due: a certificate 20 days from expiry is at its 30-day stage, and a job
that did not run on day 60 does not send the 60-day warning late. An action 10 days overdue is
escalated, not also reported overdue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.certificates import _CertificateEvent
from domain.errors import ValidationError
from domain.nonconformities import ActionType, _NcEvent

CERTIFICATE_THRESHOLDS = (60, 30, 7)  # days before expiry
ACTION_DUE_SOON_DAYS = 7  # days before the due date
ACTION_ESCALATE_AFTER_DAYS = 7  # days overdue


@dataclass(frozen=True, kw_only=True)
class _CertificateReminder(_CertificateEvent):
    days_left: int  # negative once expired
    threshold: int  # the stage: days before expiry (0 for CERT_EXPIRED)
    changes: list[Any] = field(default_factory=list)  # a reminder changes nothing


@dataclass(frozen=True, kw_only=True)
class CertificateExpiring(_CertificateReminder):
    event_type = "CERT_EXPIRING"


@dataclass(frozen=True, kw_only=True)
class CertificateExpired(_CertificateReminder):
    event_type = "CERT_EXPIRED"


@dataclass(frozen=True, kw_only=True)
class _ActionReminder(_NcEvent):
    action_id: int
    type: ActionType
    owner: str  # the action's owner: who is reminded
    due_date: date
    days_left: int  # negative once overdue
    threshold: int  # the stage: days before the due date (due soon) or overdue (escalated); 0 when overdue
    notify: list[str] = field(default_factory=list)  # usernames addressed, the action's owner first


@dataclass(frozen=True, kw_only=True)
class ActionDueSoon(_ActionReminder):
    event_type = "ACTION_DUE_SOON"


@dataclass(frozen=True, kw_only=True)
class ActionOverdue(_ActionReminder):
    event_type = "ACTION_OVERDUE"


@dataclass(frozen=True, kw_only=True)
class ActionEscalated(_ActionReminder):
    """Addressed to the NC's owner and to the quality lead besides the action's owner."""

    event_type = "ACTION_ESCALATED"


REMINDER_EVENTS = (CertificateExpiring, CertificateExpired, ActionDueSoon, ActionOverdue, ActionEscalated)


@dataclass(frozen=True)
class Stage:
    event: type[_CertificateReminder] | type[_ActionReminder]
    threshold: int
    days_left: int


@dataclass(frozen=True)
class ReminderPolicy:
    """The thresholds, from the configuration; checked once, where they are set."""

    certificate_thresholds: tuple[int, ...] = CERTIFICATE_THRESHOLDS
    action_due_soon_days: int = ACTION_DUE_SOON_DAYS
    action_escalate_after_days: int = ACTION_ESCALATE_AFTER_DAYS

    def __post_init__(self) -> None:
        if not self.certificate_thresholds or any(t < 0 for t in self.certificate_thresholds):
            raise ValidationError("certificate_thresholds", "must be one or more days, none negative")
        if len(set(self.certificate_thresholds)) != len(self.certificate_thresholds):
            raise ValidationError("certificate_thresholds", "must not repeat a day")
        if self.action_due_soon_days < 0 or self.action_escalate_after_days < 1:
            raise ValidationError("action_due_soon_days", "due soon ≥ 0 days before, escalated ≥ 1 day after")
        object.__setattr__(self, "certificate_thresholds", tuple(sorted(self.certificate_thresholds)))

    def certificate_stage(self, expires_on: date, today: date) -> Stage | None:
        """CERT_EXPIRED from the day after expiry; else CERT_EXPIRING at the tightest threshold reached."""
        days_left = (expires_on - today).days
        if days_left < 0:
            return Stage(CertificateExpired, 0, days_left)
        reached = [t for t in self.certificate_thresholds if days_left <= t]
        return Stage(CertificateExpiring, reached[0], days_left) if reached else None

    def action_stage(self, due_date: date, today: date) -> Stage | None:
        """For an open action: due soon within `action_due_soon_days` (the due day included), overdue from
        the day after, escalated once more than `action_escalate_after_days` overdue."""
        days_left = (due_date - today).days
        if -days_left > self.action_escalate_after_days:
            return Stage(ActionEscalated, self.action_escalate_after_days, days_left)
        if days_left < 0:
            return Stage(ActionOverdue, 0, days_left)
        if days_left <= self.action_due_soon_days:
            return Stage(ActionDueSoon, self.action_due_soon_days, days_left)
        return None

    @property
    def certificate_horizon(self) -> int:
        """The job looks at certificates expiring within this many days (and those expired)."""
        return self.certificate_thresholds[-1]
