"""The KpiCountStore port on SQL: every count one scalar subquery of a single SELECT (one round trip)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from application.ports.kpi import KpiCounts, KpiCountStore
from domain.nonconformities import Severity
from domain.suppliers import ApprovalStatus

from adapters.outbound.sqlalchemy.aggregates import NC_IS_OPEN
from adapters.outbound.sqlalchemy.outbox import unhandled_before
from adapters.outbound.sqlalchemy.tables import non_conformities, outbox_events, supplier_certificates, suppliers


def _count(table: sa.Table, *where: sa.ColumnElement[bool]) -> sa.ScalarSelect:
    return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()


def _at_risk(today: date) -> sa.ScalarSelect:
    # one probe per supplier into the partial index of the open high NCs (today's state, never the
    # closed history): the cost follows the number of suppliers, not of NCs (a scalar subquery with
    # LIMIT: the planner cannot turn it into a hash of every open high NC, a heap read each)
    nc = non_conformities.c
    open_high = (sa.select(nc.id).where(nc.supplier_id == suppliers.c.id, NC_IS_OPEN,
                                        nc.severity == Severity.HIGH.value).limit(1).scalar_subquery())
    return _count(suppliers, sa.or_(suppliers.c.certification_expiry < today, open_high.is_not(None)))


class SqlKpiCounts(KpiCountStore):
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def read(self, today: date, certificates_until: date, unhandled_before_: datetime) -> KpiCounts:
        approval, cert = suppliers.c.approval_status, supplier_certificates.c
        row = self.conn.execute(sa.select(
            _at_risk(today),
            _count(suppliers, approval == ApprovalStatus.BLOCKED.value),
            _count(suppliers, approval == ApprovalStatus.CONDITIONAL.value),
            _count(outbox_events, unhandled_before(unhandled_before_)),
            _count(supplier_certificates, cert.withdrawn_at.is_(None), cert.expires_on >= today,
                   cert.expires_on <= certificates_until),
        )).one()
        return KpiCounts(*(int(n) for n in row))
