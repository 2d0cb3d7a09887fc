"""The supplier scorecard (QHSE-MODEL C6, ADR 0028): monthly scores, stored once, and the live month.

`ComputeMonthlyScores` stores one period per supplier in use (APPROVED or CONDITIONAL) and complete
month, each in its own transaction: the period (INSERT … ON CONFLICT DO NOTHING), its SUPPLIER_SCORED
event and, in the worst band, SUPPLIER_REVIEW_REQUIRED (trigger SCORE_WORST_BAND) commit together. A
period already stored is never recomputed or changed: running the job again, on any number of
workers, stores and raises nothing more. The worker's schedule and `supplytrace scorecard compute`
call it; `ScorecardQueries` reads the stored months and computes the current one live (provisional).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import NotFound, ValidationError
from domain.scorecard import Month, ScoreInputs, ScorePeriod, last_complete_month
from domain.suppliers import IN_USE, ReviewTrigger

from application.approval import RaiseReviewRequired
from application.envelope import Origin
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork, UowFactory

JOB_ACTOR = "system:scorecard"

DEFAULT_MONTHS = 12  # GET /suppliers/{id}/scorecard without `from`: the 12 months before `to`, and `to`


def gather_inputs(uow: UnitOfWork, supplier_id: int, month: Month) -> ScoreInputs:
    """The month's NCs raised (by opening time, UTC) and receipts received (by received_date)."""
    ncs = uow.ncs.raised_between(supplier_id, month.begins_at, month.ends_before)
    return ScoreInputs.gather(ncs, uow.receipts.received_between(supplier_id, month.start, month.end))


def review_reference(period: ScorePeriod) -> str:
    return f"score:{period.supplier_id}:{period.month}"


class ComputeMonthlyScores:
    def __init__(self, uow: UowFactory, clock: Clock, raise_review: RaiseReviewRequired) -> None:
        self.uow, self.clock, self.raise_review = uow, clock, raise_review

    def __call__(self, month: date | None = None, origin: Origin | None = None) -> int:
        """Store the scores of `month` (any day of it; default: the last complete month by the clock) for
        every supplier in use, created before the month ended, that has none for it; the number stored."""
        origin = origin or Origin(actor=JOB_ACTOR)
        today = self.clock.today()
        target = last_complete_month(today) if month is None else Month.of(month)
        if target.end >= today:
            raise ValidationError("month", f"{target} is not over yet: only a complete month is stored "
                                           "(the current one is shown live, provisional)")
        with self.uow().reading() as uow:
            candidates = uow.scores.unscored(target.start, IN_USE, target.ends_before)
        return sum(self._store(supplier_id, target, origin) for supplier_id in candidates)

    def _store(self, supplier_id: int, month: Month, origin: Origin) -> int:
        with self.uow().acting_as(origin) as uow:
            supplier = uow.suppliers.get(supplier_id)
            if supplier is None or not supplier.in_use:  # changed since the candidates were read
                return 0
            period = ScorePeriod.compute(supplier_id, month, gather_inputs(uow, supplier_id, month),
                                         self.clock.now())
            if not uow.scores.add_new(period):  # another run stored it first: that one stands
                return 0
            period.record_scoring()
            if period.in_worst_band():
                self.raise_review.within(supplier, ReviewTrigger.SCORE_WORST_BAND, review_reference(period),
                                         f"score in the worst band: {period.summary()}")
            uow.commit()
        return 1


@dataclass(frozen=True)
class Scorecard:
    supplier_id: int
    first: Month
    last: Month
    periods: list[ScorePeriod]  # the stored months, oldest first, then the current one (provisional) if in range


class ScorecardQueries:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def scorecard(self, supplier_id: int, first: Month | None = None, last: Month | None = None) -> Scorecard:
        """The months from `first` to `last` (default: the current month, and the 12 before it)."""
        current = Month.of(self.clock.today())
        last = last or current
        first = first or last.back(DEFAULT_MONTHS)
        if first > last:
            raise ValidationError("from", f"must not be after to ({first} > {last})")
        with self.uow().reading() as uow:
            if uow.suppliers.get(supplier_id) is None:
                raise NotFound("supplier", supplier_id)
            periods = uow.scores.between(supplier_id, first.start, last.start)
            if first <= current <= last:
                periods.append(ScorePeriod.compute(supplier_id, current, gather_inputs(uow, supplier_id, current),
                                                   self.clock.now(), provisional=True))
        return Scorecard(supplier_id, first, last, periods)
