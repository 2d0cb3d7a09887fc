"""The scorecard's stores in SQL: receipts, and the monthly scores inserted once (ON CONFLICT DO NOTHING)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from application.pagination import Page, PageRequest
from application.ports.counters import Counters
from application.ports.scorecard import ReceiptRepository, ScorePeriodRepository
from domain.errors import Conflict
from domain.receipts import Receipt
from domain.scorecard import ScoreInputs, ScorePeriod, Standing
from domain.suppliers import ApprovalStatus

from adapters.outbound.sqlalchemy.aggregates import fetch_page
from adapters.outbound.sqlalchemy.integrity import duplicate_key
from adapters.outbound.sqlalchemy.tables import supplier_receipts, supplier_score_periods, suppliers

RECEIPT_FIELDS = ("supplier_id", "reference", "promised_date", "received_date", "qty_received", "qty_rejected",
                  "recorded_by", "recorded_at")
PERIOD_FIELDS = ("supplier_id", "period_start", "period_end", "quality_score", "delivery_score", "acceptance_score",
                 "total_score", "computed_at")


def receipt_from(row: sa.Row) -> Receipt:
    return Receipt(id=row.id, **{name: getattr(row, name) for name in RECEIPT_FIELDS})


def period_row(p: ScorePeriod) -> dict[str, Any]:
    return {**{name: getattr(p, name) for name in PERIOD_FIELDS}, "standing": p.standing.value,
            "inputs": p.inputs.as_json()}


def period_from(row: sa.Row) -> ScorePeriod:
    return ScorePeriod(id=row.id, standing=Standing(row.standing), inputs=ScoreInputs.from_json(row.inputs),
                       **{name: getattr(row, name) for name in PERIOD_FIELDS})


class SqlReceiptRepository(ReceiptRepository):
    def __init__(self, conn: sa.Connection, counters: Counters | None = None) -> None:
        super().__init__()
        self.conn = conn

    def _add(self, receipt: Receipt) -> None:
        values = {name: getattr(receipt, name) for name in RECEIPT_FIELDS}
        try:  # the reference was looked up first: a duplicate here is a concurrent twin
            receipt.id = self.conn.execute(supplier_receipts.insert(), values).inserted_primary_key[0]
        except sa.exc.IntegrityError as error:
            if not duplicate_key(error, "supplier_receipts"):
                raise
            raise Conflict(f"supplier {receipt.supplier_id} already has receipt {receipt.reference}") from None

    def _get(self, identity: int) -> Receipt | None:
        row = self.conn.execute(sa.select(supplier_receipts).where(supplier_receipts.c.id == identity)).one_or_none()
        return None if row is None else receipt_from(row)

    def list(self, supplier_id: int, page: PageRequest) -> Page[Receipt]:
        c = supplier_receipts.c
        query = sa.select(supplier_receipts).where(c.supplier_id == supplier_id)
        return fetch_page(self.conn, query, (c.received_date.desc(), c.id.desc()), page, receipt_from)

    def received_between(self, supplier_id: int, first: date, last: date) -> list[Receipt]:
        c = supplier_receipts.c
        query = sa.select(supplier_receipts).where(c.supplier_id == supplier_id, c.received_date >= first,
                                                   c.received_date <= last).order_by(c.id)
        return [receipt_from(row) for row in self.conn.execute(query)]

    def find(self, supplier_id: int, reference: str) -> Receipt | None:
        c = supplier_receipts.c
        row = self.conn.execute(sa.select(supplier_receipts).where(
            c.supplier_id == supplier_id, c.reference == reference)).one_or_none()
        return None if row is None else receipt_from(row)


class SqlScorePeriodRepository(ScorePeriodRepository):
    def __init__(self, conn: sa.Connection, counters: Counters | None = None) -> None:
        super().__init__()
        self.conn = conn

    def _add(self, period: ScorePeriod) -> None:
        """INSERT … ON CONFLICT DO NOTHING (PostgreSQL and SQLite): on PostgreSQL a concurrent insert of the
        same month waits for the other transaction, and finds the row once that one committed."""
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        statement = (dialect.insert(supplier_score_periods).values(period_row(period))
                     .on_conflict_do_nothing(index_elements=["supplier_id", "period_start"])
                     .returning(supplier_score_periods.c.id))
        period.id = self.conn.execute(statement).scalar_one_or_none()

    def _get(self, identity: int) -> ScorePeriod | None:
        query = sa.select(supplier_score_periods).where(supplier_score_periods.c.id == identity)
        row = self.conn.execute(query).one_or_none()
        return None if row is None else period_from(row)

    def between(self, supplier_id: int, first: date, last: date) -> list[ScorePeriod]:
        c = supplier_score_periods.c
        query = sa.select(supplier_score_periods).where(
            c.supplier_id == supplier_id, c.period_start >= first, c.period_start <= last).order_by(c.period_start)
        return [period_from(row) for row in self.conn.execute(query)]

    def unscored(self, period_start: date, statuses: Sequence[ApprovalStatus], created_before: datetime) -> list[int]:
        p = supplier_score_periods.c
        stored = sa.select(p.id).where(p.supplier_id == suppliers.c.id, p.period_start == period_start)
        query = (sa.select(suppliers.c.id)
                 .where(suppliers.c.approval_status.in_([s.value for s in statuses]),
                        suppliers.c.created_at < created_before, ~stored.exists())
                 .order_by(suppliers.c.id))
        return list(self.conn.execute(query).scalars())
