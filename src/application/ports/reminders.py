"""The reminder log (ADR 0027): which reminder was sent for which subject, stage and date.

A key is claimed in the transaction that outboxes the reminder: of two workers claiming the same key,
one inserts it and sends; the other finds it taken (after the first committed) and sends nothing.
The subject's date is part of the key, so a renewed certificate or a re-planned action starts over.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime

CERTIFICATE = "certificate"
ACTION = "nc_action"


@dataclass(frozen=True, order=True)
class ReminderKey:
    subject_type: str  # CERTIFICATE or ACTION
    subject_id: str  # the certificate's id; "nc_id/action_id" for an action
    event_type: str
    threshold: int
    subject_date: date  # the certificate's expires_on, the action's due_date


class ReminderLog(ABC):
    @abstractmethod
    def claim(self, key: ReminderKey, now: datetime) -> bool:
        """Record the key; False (and nothing written) when it was already recorded."""

    @abstractmethod
    def certificates_due(self, until: date) -> list[int]:
        """Certificates in force expiring by `until` (the expired ones included) whose CERT_EXPIRED for
        that expiry date was not sent yet: the ids, in order."""

    @abstractmethod
    def actions_due(self, until: date) -> list[tuple[int, int]]:
        """Open CAPA actions due by `until` (the overdue ones included) not escalated yet for that due
        date: (nc_id, action_id) pairs, in order."""
