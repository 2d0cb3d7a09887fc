"""Bodies of the supplier receipts and the scorecard (ADR 0028)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, Strict

from domain.nonconformities import MAX_QUANTITY
from domain.receipts import REFERENCE_MAX_LENGTH
from domain.scorecard import Standing

from adapters.inbound.api.schemas import Body, IsoDate, text

Received = Annotated[int, Strict(), Field(ge=1, le=MAX_QUANTITY)]
Rejected = Annotated[int, Strict(), Field(ge=0, le=MAX_QUANTITY)]
StandingName = Literal[tuple(s.value for s in Standing)]  # type: ignore[valid-type]
Score = Annotated[float | None, Field(ge=0, le=100, description="0–100, 2 decimals; null: N/A (no activity)")]


class ReceiptIn(Body):
    reference: text(REFERENCE_MAX_LENGTH) = Field(description="The delivery (e.g. its delivery note): once per "
                                                  "supplier", examples=["DN-2026-0412"])
    promised_date: IsoDate = Field(description="The delivery date promised: on time when received on or before it")
    received_date: IsoDate = Field(description="Not after today; the month it falls in is the one it scores in")
    qty_received: Received = Field(examples=[120])
    qty_rejected: Rejected = Field(description="Rejected at incoming inspection: at most qty_received",
                                   examples=[6])


class ReceiptOut(BaseModel):
    id: int
    supplier_id: int
    reference: str
    promised_date: date
    received_date: date
    qty_received: int
    qty_rejected: int
    on_time: bool
    recorded_by: str
    recorded_at: datetime


class ScoreInputsOut(BaseModel):
    """The counts the scores were computed from (the stored snapshot)."""

    ncs_high: int
    ncs_medium: int
    ncs_low: int
    ncs_cancelled: int = Field(description="Raised in the month and cancelled since: not counted")
    receipts: int
    receipts_on_time: int
    qty_received: int
    qty_rejected: int


class ScorePeriodOut(BaseModel):
    month: str = Field(description="YYYY-MM", examples=["2031-02"])
    period_start: date
    period_end: date
    quality_score: Score
    delivery_score: Score
    acceptance_score: Score
    total_score: Score
    standing: StandingName = Field(description="VERY_POOR [0, 30), POOR [30, 50), AVERAGE [50, 80), "
                                   "EXCELLENT [80, 100] of the total; N/A without any activity")
    provisional: bool = Field(description="True for the current month: computed now from what is recorded so far, "
                              "not stored")
    computed_at: datetime
    inputs: ScoreInputsOut


class ScorecardOut(BaseModel):
    supplier_id: int
    from_: str = Field(serialization_alias="from", description="The first month, YYYY-MM")
    to: str = Field(description="The last month, YYYY-MM")
    weights: dict[str, int] = Field(description="Each criterion's weight; an N/A criterion's weight is spread over "
                                    "the others in proportion")
    periods: list[ScorePeriodOut] = Field(description="The stored months in range, oldest first, then the current "
                                          "month (provisional) when it is in range; a month not computed is absent")
