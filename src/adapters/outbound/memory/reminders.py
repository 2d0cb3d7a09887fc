"""The ReminderLog port in memory: one transaction at a time, so a key is claimed once."""

from __future__ import annotations

from datetime import date, datetime

from application.ports.reminders import ACTION, CERTIFICATE, ReminderKey, ReminderLog
from domain.nonconformities import ACTION_OPEN
from domain.reminders import ActionEscalated, CertificateExpired

from adapters.outbound.memory.database import MemoryState


class MemoryReminderLog(ReminderLog):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def claim(self, key: ReminderKey, now: datetime) -> bool:
        if key in self.state.reminders_sent:
            return False
        self.state.reminders_sent[key] = now
        return True

    def _sent(self, subject_type: str, subject_id: str, event_type: str, subject_date: date) -> bool:
        return any(k.subject_type == subject_type and k.subject_id == subject_id and k.event_type == event_type
                   and k.subject_date == subject_date for k in self.state.reminders_sent)

    def certificates_due(self, until: date) -> list[int]:
        return sorted(c.id for c in self.state.certificates.values()
                      if c.active and c.expires_on <= until and c.id is not None
                      and not self._sent(CERTIFICATE, str(c.id), CertificateExpired.event_type, c.expires_on))

    def actions_due(self, until: date) -> list[tuple[int, int]]:
        return sorted((nc.id, a.id) for nc in self.state.ncs.values() if nc.id is not None for a in nc.actions
                      if a.status in ACTION_OPEN and a.due_date <= until
                      and not self._sent(ACTION, f"{nc.id}/{a.id}", ActionEscalated.event_type, a.due_date))
