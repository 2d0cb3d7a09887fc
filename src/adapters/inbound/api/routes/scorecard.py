"""Supplier receipts and the supplier scorecard (ADR 0028)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from application.pagination import PageRequest
from domain.errors import ValidationError
from domain.receipts import Receipt
from domain.scorecard import RULES, Month, ScorePeriod

from adapters.inbound.api.deps import ContainerDep, Reader, ReceiptWriter, origin_of
from adapters.inbound.api.finding import query_error
from adapters.inbound.api.schemas import Id, Limit, Offset, PageOut
from adapters.inbound.api.scorecard_schemas import (
    ReceiptIn, ReceiptOut, ScorecardOut, ScoreInputsOut, ScorePeriodOut,
)

router = APIRouter(prefix="/suppliers", tags=["suppliers"])

MONTH_PATTERN = r"^[0-9]{4}-[0-9]{2}(-[0-9]{2})?$"


def _month_param(alias: str, description: str):  # type: ignore[no-untyped-def]
    return Annotated[str | None, Query(alias=alias, max_length=10, pattern=MONTH_PATTERN, description=(
        f"{description}: a month YYYY-MM, or a date YYYY-MM-DD (its month)"))]


From = _month_param("from", "The first month (default: 12 months before `to`)")
To = _month_param("to", "The last month (default: the current one)")


def _receipt(r: Receipt) -> ReceiptOut:
    return ReceiptOut(id=r.id, supplier_id=r.supplier_id, reference=r.reference, promised_date=r.promised_date,
                      received_date=r.received_date, qty_received=r.qty_received, qty_rejected=r.qty_rejected,
                      on_time=r.on_time, recorded_by=r.recorded_by, recorded_at=r.recorded_at)


def _score(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _period(p: ScorePeriod) -> ScorePeriodOut:
    return ScorePeriodOut(month=p.month.label, period_start=p.period_start, period_end=p.period_end,
                          quality_score=_score(p.quality_score), delivery_score=_score(p.delivery_score),
                          acceptance_score=_score(p.acceptance_score), total_score=_score(p.total_score),
                          standing=p.standing.value, provisional=p.provisional, computed_at=p.computed_at,
                          inputs=ScoreInputsOut(**p.inputs.as_json()))


@router.post("/{supplier_id}/receipts", status_code=status.HTTP_201_CREATED, response_model=ReceiptOut,
             responses={404: {"description": "No such supplier"},
                        409: {"description": "The supplier is BLOCKED, or already has a receipt with this "
                                             "reference"}})
def record_receipt(supplier_id: Id, body: ReceiptIn, request: Request, principal: ReceiptWriter,
                   container: ContainerDep):
    """A delivery of the supplier: the scorecard's delivery (on time) and acceptance (rejected quantity)."""
    receipt = container.record_receipt()(supplier_id, body.reference, body.promised_date, body.received_date,
                                         body.qty_received, body.qty_rejected, origin_of(request, principal))
    return _receipt(receipt)


@router.get("/{supplier_id}/receipts", response_model=PageOut[ReceiptOut])
def list_receipts(supplier_id: Id, _: Reader, container: ContainerDep, limit: Limit = 50, offset: Offset = 0):
    """The supplier's receipts, newest first (by received_date)."""
    page = container.receipt_queries().list(supplier_id, PageRequest(limit, offset))
    return PageOut.of(page, [_receipt(r) for r in page.items])


@router.get("/{supplier_id}/scorecard", response_model=ScorecardOut)
def get_scorecard(supplier_id: Id, _: Reader, container: ContainerDep,
                  from_: From = None, to: To = None):
    """The stored months from `from` to `to` (default: the current month and the 12 before it), and the
    current month computed live (`provisional`, never stored)."""
    try:
        first = None if from_ is None else Month.parse(from_, "from")
        last = None if to is None else Month.parse(to, "to")
        card = container.scorecard_queries().scorecard(supplier_id, first, last)
    except ValidationError as error:
        raise query_error(error.field, error.message) from None
    return ScorecardOut(supplier_id=card.supplier_id, from_=card.first.label, to=card.last.label,
                        weights={str(c): w for c, w in RULES.weights.items()},
                        periods=[_period(p) for p in card.periods])
