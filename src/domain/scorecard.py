"""The supplier scorecard (QHSE-MODEL C6, ADR 0028): pure scoring of one supplier over one month.

Three criteria, each a percentage 0–100:
- quality (weight 50): 100 − (10·high + 5·medium + 1·low) over the NCs raised in the month (opened in
  it, whatever their status now, except CANCELLED ones: an NC raised in error is no finding), not below 0;
- delivery (weight 30): receipts on time ÷ receipts received in the month;
- acceptance (weight 20): 1 − quantity rejected ÷ quantity received in the month.

A criterion without activity is N/A (None), never a silent 100, and its weight is spread over the
others in proportion: quality is N/A only when the month had neither an NC nor a receipt (deliveries
without any NC score quality 100), delivery and acceptance are N/A without a receipt. With every
criterion N/A the total and the standing are N/A. Scores are rounded half up to 2 decimals; the total
is computed from the unrounded criteria, and the standing is the band of the rounded total (so the
standing shown always matches the total shown).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from domain.errors import ValidationError
from domain.events import DomainEvent
from domain.nonconformities import NcStatus, Severity
from domain.receipts import Receipt
from domain.suppliers import SupplierEvent

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class Criterion(StrEnum):
    QUALITY = "quality"
    DELIVERY = "delivery"
    ACCEPTANCE = "acceptance"


class Standing(StrEnum):
    VERY_POOR = "VERY_POOR"  # the worst band: SUPPLIER_REVIEW_REQUIRED
    POOR = "POOR"
    AVERAGE = "AVERAGE"
    EXCELLENT = "EXCELLENT"
    NA = "N/A"  # no activity at all in the period


@dataclass(frozen=True)
class Band:
    """[low, high) of the total; the last band includes 100."""

    low: Decimal
    high: Decimal
    standing: Standing


@dataclass(frozen=True)
class ScoringRules:
    """Weights and bands, validated as ERPNext validates its scorecard: weights add up to 100, bands
    cover 0–100 in order without gap or overlap, each standing once, N/A in none."""

    weights: Mapping[Criterion, int] = field(default_factory=lambda: {
        Criterion.QUALITY: 50, Criterion.DELIVERY: 30, Criterion.ACCEPTANCE: 20})
    bands: tuple[Band, ...] = (
        Band(Decimal(0), Decimal(30), Standing.VERY_POOR),
        Band(Decimal(30), Decimal(50), Standing.POOR),
        Band(Decimal(50), Decimal(80), Standing.AVERAGE),
        Band(Decimal(80), HUNDRED, Standing.EXCELLENT),
    )
    nc_penalty: Mapping[Severity, int] = field(default_factory=lambda: {
        Severity.HIGH: 10, Severity.MEDIUM: 5, Severity.LOW: 1})
    worst: Standing = Standing.VERY_POOR

    def __post_init__(self) -> None:
        if set(self.weights) != set(Criterion) or any(w <= 0 for w in self.weights.values()):
            raise ValueError(f"every criterion needs a positive weight: {dict(self.weights)}")
        if sum(self.weights.values()) != 100:
            raise ValueError(f"the weights must add up to 100, not {sum(self.weights.values())}")
        if not self.bands or self.bands[0].low != 0 or self.bands[-1].high != HUNDRED:
            raise ValueError("the bands must cover 0 to 100")
        for before, after in zip(self.bands, self.bands[1:], strict=False):
            if before.high != after.low:
                raise ValueError(f"bands {before.standing} and {after.standing} overlap or leave a gap")
        if any(b.low >= b.high for b in self.bands):
            raise ValueError("every band must be a non-empty range")
        standings = [b.standing for b in self.bands]
        if len(set(standings)) != len(standings) or Standing.NA in standings or self.worst not in standings:
            raise ValueError(f"each standing once, N/A in none, the worst among them: {standings}")

    def standing(self, total: Decimal | None) -> Standing:
        if total is None:
            return Standing.NA
        for band in self.bands:
            if band.low <= total < band.high:
                return band.standing
        return self.bands[-1].standing  # 100 itself


RULES = ScoringRules()


@dataclass(frozen=True)
class ScoreInputs:
    """The counts a score is computed from: stored with it as its JSON snapshot."""

    ncs_high: int = 0
    ncs_medium: int = 0
    ncs_low: int = 0
    ncs_cancelled: int = 0  # raised in the period, cancelled since: not counted (kept to show why)
    receipts: int = 0
    receipts_on_time: int = 0
    qty_received: int = 0
    qty_rejected: int = 0

    @classmethod
    def gather(cls, ncs: Mapping[tuple[Severity, NcStatus], int], receipts: Iterable[Receipt]) -> ScoreInputs:
        """From the NCs raised in the period (counts by severity and status) and its receipts."""
        by_severity = {s: 0 for s in Severity}
        cancelled = 0
        for (severity, status), count in ncs.items():
            if status is NcStatus.CANCELLED:
                cancelled += count
            else:
                by_severity[severity] += count
        received = list(receipts)
        return cls(ncs_high=by_severity[Severity.HIGH], ncs_medium=by_severity[Severity.MEDIUM],
                   ncs_low=by_severity[Severity.LOW], ncs_cancelled=cancelled, receipts=len(received),
                   receipts_on_time=sum(1 for r in received if r.on_time),
                   qty_received=sum(r.qty_received for r in received),
                   qty_rejected=sum(r.qty_rejected for r in received))

    @property
    def ncs(self) -> int:
        return self.ncs_high + self.ncs_medium + self.ncs_low

    def as_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScoreInputs:
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})


def _rounded(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Scores:
    quality: Decimal | None
    delivery: Decimal | None
    acceptance: Decimal | None
    total: Decimal | None
    standing: Standing

    def of(self, criterion: Criterion) -> Decimal | None:
        return getattr(self, criterion.value)


def score(inputs: ScoreInputs, rules: ScoringRules = RULES) -> Scores:
    """The three criteria, the weighted total (N/A criteria's weight spread over the rest) and the standing."""
    quality = delivery = acceptance = None
    if inputs.ncs or inputs.receipts:
        penalty = sum(rules.nc_penalty[s] * n for s, n in ((Severity.HIGH, inputs.ncs_high),
                                                           (Severity.MEDIUM, inputs.ncs_medium),
                                                           (Severity.LOW, inputs.ncs_low)))
        quality = max(Decimal(0), HUNDRED - penalty)
    if inputs.receipts:
        delivery = HUNDRED * inputs.receipts_on_time / inputs.receipts
    if inputs.qty_received:
        acceptance = HUNDRED - HUNDRED * inputs.qty_rejected / inputs.qty_received
    values = {Criterion.QUALITY: quality, Criterion.DELIVERY: delivery, Criterion.ACCEPTANCE: acceptance}
    scored = {c: v for c, v in values.items() if v is not None}
    total = None
    if scored:
        weight = sum(rules.weights[c] for c in scored)
        total = _rounded(sum((rules.weights[c] * v for c, v in scored.items()), Decimal(0)) / weight)
    return Scores(quality=_rounded(quality), delivery=_rounded(delivery), acceptance=_rounded(acceptance),
                  total=total, standing=rules.standing(total))


# --- periods --------------------------------------------------------------------------------------

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})(-[0-9]{2})?")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month (UTC), named by its first day."""

    start: date

    def __post_init__(self) -> None:
        if self.start.day != 1:
            raise ValueError(f"a month starts on its first day, not {self.start}")

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.replace(day=1))

    @classmethod
    def parse(cls, text: str, field_name: str) -> Month:
        """`YYYY-MM`, or a date `YYYY-MM-DD` (its month)."""
        match = _MONTH.fullmatch(text.strip())
        try:
            if match is None:
                raise ValueError
            return cls.of(date.fromisoformat(text.strip()) if match[3] else date(int(match[1]), int(match[2]), 1))
        except ValueError:
            raise ValidationError(field_name, "must be a month YYYY-MM or a date YYYY-MM-DD") from None

    @property
    def end(self) -> date:
        """The last day (December of year 9999 included)."""
        if self.start.month == 12:
            return self.start.replace(day=31)
        return self.following.start - timedelta(days=1)

    @property
    def following(self) -> Month:
        return self.shift(1)

    def shift(self, months: int) -> Month:
        """`months` later (earlier when negative); ValueError past the years 1 to 9999."""
        index = self.start.year * 12 + self.start.month - 1 + months
        return Month(date(index // 12, index % 12 + 1, 1))

    def back(self, months: int) -> Month:
        """`months` earlier, or January of year 1 if that is before it."""
        try:
            return self.shift(-months)
        except ValueError:
            return Month(date.min)

    @property
    def label(self) -> str:
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def begins_at(self) -> datetime:
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def ends_before(self) -> datetime:
        return self.following.begins_at

    def __str__(self) -> str:
        return self.label


def last_complete_month(today: date) -> Month:
    return Month.of(today).shift(-1)


# --- the stored period ----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SupplierScored(SupplierEvent):
    event_type = "SUPPLIER_SCORED"
    period_start: date
    period_end: date
    quality_score: Decimal | None
    delivery_score: Decimal | None
    acceptance_score: Decimal | None
    total_score: Decimal | None
    standing: Standing
    inputs: dict[str, int] = field(default_factory=dict)
    changes: list[Any] = field(default_factory=list)


SCORED = ("quality_score", "delivery_score", "acceptance_score", "total_score", "standing")


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return getattr(value, "value", value)


@dataclass(eq=False)
class ScorePeriod:
    """One supplier's score for one month. Stored once and never changed; the current month's is
    computed live and `provisional` (never stored)."""

    supplier_id: int
    period_start: date
    period_end: date
    quality_score: Decimal | None
    delivery_score: Decimal | None
    acceptance_score: Decimal | None
    total_score: Decimal | None
    standing: Standing
    computed_at: datetime
    inputs: ScoreInputs
    provisional: bool = False
    id: int | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def compute(cls, supplier_id: int, month: Month, inputs: ScoreInputs, now: datetime,
                provisional: bool = False, rules: ScoringRules = RULES) -> ScorePeriod:
        scores = score(inputs, rules)
        return cls(supplier_id=supplier_id, period_start=month.start, period_end=month.end,
                   quality_score=scores.quality, delivery_score=scores.delivery, acceptance_score=scores.acceptance,
                   total_score=scores.total, standing=scores.standing, computed_at=now, inputs=inputs,
                   provisional=provisional)

    @property
    def month(self) -> Month:
        return Month(self.period_start)

    def in_worst_band(self, rules: ScoringRules = RULES) -> bool:
        return self.standing is rules.worst

    def summary(self) -> str:
        """`2026-02: total 24.00 (VERY_POOR); quality 40.00, delivery 0.00, acceptance N/A`."""
        def shown(value: Decimal | None) -> str:
            return "N/A" if value is None else str(value)

        parts = ", ".join(f"{name} {shown(getattr(self, f'{name}_score'))}" for name in Criterion)
        return f"{self.month}: total {shown(self.total_score)} ({self.standing}); {parts}"

    def record_scoring(self) -> None:
        """SUPPLIER_SCORED, once the store kept the period (a period already stored records nothing)."""
        if self.id is None or self.provisional:
            raise RuntimeError("only a stored period records SUPPLIER_SCORED")
        values = {name: getattr(self, name) for name in SCORED}
        self.events.append(SupplierScored(
            occurred_at=self.computed_at, supplier_id=self.supplier_id, period_start=self.period_start,
            period_end=self.period_end, inputs=self.inputs.as_json(),
            changes=[[name, None, _json(value)] for name, value in values.items()], **values))
