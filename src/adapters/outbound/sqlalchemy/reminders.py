"""The ReminderLog port on SQLAlchemy Core (ADR 0027).

`claim` is INSERT … ON CONFLICT DO NOTHING on the key: of two transactions claiming the same key, the
second waits on the primary key until the first ends (PostgreSQL; SQLite has one writer at a time),
then inserts nothing if the first committed. The subjects due are read through the partial indexes
of the open actions and of the certificates in force by date (tables.py), never the whole history.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from application.ports.reminders import ACTION, CERTIFICATE, ReminderKey, ReminderLog
from domain.reminders import ActionEscalated, CertificateExpired

from adapters.outbound.sqlalchemy.tables import ACTION_OPEN, nc_actions, reminders_sent, supplier_certificates

r = reminders_sent.c


def _sent(subject_type: str, subject_id: sa.ColumnElement, event_type: str, subject_date: sa.ColumnElement):
    return sa.exists().where(r.subject_type == subject_type, r.subject_id == subject_id,
                             r.event_type == event_type, r.subject_date == subject_date)


class SqlReminderLog(ReminderLog):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def claim(self, key: ReminderKey, now: datetime) -> bool:
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(reminders_sent).values(
            subject_type=key.subject_type, subject_id=key.subject_id, event_type=key.event_type,
            threshold=key.threshold, subject_date=key.subject_date, sent_at=now).on_conflict_do_nothing()
        return self.conn.execute(statement.returning(r.sent_at)).first() is not None  # a row: it was inserted

    def certificates_due(self, until: date) -> list[int]:
        c = supplier_certificates.c
        query = sa.select(c.id).where(
            c.withdrawn_at.is_(None), c.expires_on <= until,
            ~_sent(CERTIFICATE, sa.cast(c.id, sa.String), CertificateExpired.event_type, c.expires_on))
        return list(self.conn.execute(query.order_by(c.id)).scalars())

    def actions_due(self, until: date) -> list[tuple[int, int]]:
        a = nc_actions.c
        subject = sa.cast(a.nc_id, sa.String) + "/" + sa.cast(a.id, sa.String)
        query = sa.select(a.nc_id, a.id).where(
            sa.text(ACTION_OPEN), a.due_date <= until,
            ~_sent(ACTION, subject, ActionEscalated.event_type, a.due_date))
        return [(nc_id, action_id) for nc_id, action_id in self.conn.execute(query.order_by(a.nc_id, a.id))]
