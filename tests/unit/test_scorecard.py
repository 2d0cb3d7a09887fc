"""The supplier scorecard (ADR 0028): the pure scoring, receipts and the monthly job on the in-memory adapters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from application.approval import ChangeApproval, RaiseReviewRequired
from application.nonconformities import RaiseNonConformity
from application.pagination import PageRequest
from application.receipts import ReceiptQueries, RecordReceipt
from application.scorecard import ComputeMonthlyScores, ScorecardQueries
from application.suppliers import CreateSupplier
from domain.errors import Conflict, NotFound, ValidationError
from domain.nonconformities import NcStatus, Severity
from domain.scorecard import (
    RULES, Band, Criterion, Month, ScoreInputs, ScoringRules, Standing, last_complete_month, score,
)

D = Decimal


def test_a_month_without_activity_is_na_never_a_silent_100():
    scores = score(ScoreInputs())
    assert (scores.quality, scores.delivery, scores.acceptance, scores.total, scores.standing) == (
        None, None, None, None, Standing.NA)


def test_quality_counts_ncs_by_severity_and_never_goes_below_zero():
    assert score(ScoreInputs(ncs_high=1, ncs_medium=2, ncs_low=3)).quality == D("77.00")  # 100 - (10 + 10 + 3)
    assert score(ScoreInputs(ncs_high=11)).quality == D("0.00")
    # NCs only: delivery and acceptance are N/A, the total is the quality alone
    only_ncs = score(ScoreInputs(ncs_medium=1))
    assert (only_ncs.delivery, only_ncs.acceptance, only_ncs.total) == (None, None, D("95.00"))


def test_deliveries_without_any_nc_score_quality_100():
    scores = score(ScoreInputs(receipts=4, receipts_on_time=3, qty_received=100, qty_rejected=10))
    assert (scores.quality, scores.delivery, scores.acceptance) == (D("100.00"), D("75.00"), D("90.00"))
    assert scores.total == D("90.50")  # (50·100 + 30·75 + 20·90) / 100
    assert scores.standing is Standing.EXCELLENT


def test_scores_are_rounded_half_up_to_two_decimals_and_the_total_from_the_unrounded_criteria():
    scores = score(ScoreInputs(receipts=3, receipts_on_time=2, qty_received=3, qty_rejected=1, ncs_high=5))
    assert (scores.quality, scores.delivery, scores.acceptance) == (D("50.00"), D("66.67"), D("66.67"))
    assert scores.total == D("58.33")  # (50·50 + 30·66.666… + 20·66.666…) / 100 = 58.333…
    assert score(ScoreInputs(receipts=8, receipts_on_time=1, qty_received=8)).delivery == D("12.50")


def test_the_weight_of_a_criterion_without_activity_is_spread_over_the_others_in_proportion():
    rules = ScoringRules()
    inputs = ScoreInputs(receipts=2, receipts_on_time=1, qty_received=10, qty_rejected=0, ncs_low=2)
    assert score(inputs, rules).total == D("84.00")  # (50·98 + 30·50 + 20·100) / 100
    # without acceptance, quality and delivery weigh 50/80 and 30/80: (50·98 + 30·50) / 80
    assert score(ScoreInputs(ncs_low=2, receipts=2, receipts_on_time=1), rules).total == D("80.00")


@pytest.mark.parametrize(("total", "standing"), [
    ("0", Standing.VERY_POOR), ("29.99", Standing.VERY_POOR), ("30", Standing.POOR), ("49.99", Standing.POOR),
    ("50", Standing.AVERAGE), ("79.99", Standing.AVERAGE), ("80", Standing.EXCELLENT), ("100", Standing.EXCELLENT)])
def test_the_bands_edges_belong_to_the_band_above(total: str, standing: Standing):
    assert RULES.standing(D(total)) is standing


def test_the_standing_is_the_band_of_the_rounded_total():
    # quality 0, delivery 50, acceptance 74.9751…: the total 29.99501… is shown 30.00, and so is POOR
    scores = score(ScoreInputs(ncs_high=10, receipts=2, receipts_on_time=1, qty_received=1003, qty_rejected=251))
    assert (scores.quality, scores.delivery, scores.acceptance) == (D("0.00"), D("50.00"), D("74.98"))
    assert (scores.total, scores.standing) == (D("30.00"), Standing.POOR)


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"weights": {Criterion.QUALITY: 50, Criterion.DELIVERY: 30, Criterion.ACCEPTANCE: 10}}, "add up to 100"),
    ({"weights": {Criterion.QUALITY: 70, Criterion.DELIVERY: 30}}, "positive weight"),
    ({"bands": (Band(D(0), D(50), Standing.POOR), Band(D(40), D(100), Standing.EXCELLENT))}, "overlap"),
    ({"bands": (Band(D(0), D(30), Standing.VERY_POOR), Band(D(40), D(100), Standing.EXCELLENT))}, "gap"),
    ({"bands": (Band(D(0), D(30), Standing.VERY_POOR), Band(D(30), D(90), Standing.EXCELLENT))}, "cover 0 to 100"),
    ({"bands": (Band(D(0), D(50), Standing.POOR), Band(D(50), D(100), Standing.POOR))}, "each standing once"),
])
def test_weights_must_add_up_to_100_and_bands_cover_0_to_100_without_overlap(kwargs: dict, problem: str):
    with pytest.raises(ValueError, match=problem):
        ScoringRules(**kwargs)


def test_cancelled_ncs_are_not_counted_but_kept_in_the_snapshot():
    inputs = ScoreInputs.gather({(Severity.HIGH, NcStatus.CLOSED): 1, (Severity.HIGH, NcStatus.CANCELLED): 2,
                                 (Severity.LOW, NcStatus.OPEN): 1}, [])
    assert (inputs.ncs_high, inputs.ncs_low, inputs.ncs_cancelled) == (1, 1, 2)
    assert ScoreInputs.from_json(inputs.as_json()) == inputs


def test_months_parse_from_a_month_or_a_date_and_know_their_bounds():
    assert Month.parse("2026-02", "from") == Month.parse("2026-02-17", "from") == Month(date(2026, 2, 1))
    assert Month(date(2024, 2, 1)).end == date(2024, 2, 29)
    assert Month(date(2026, 12, 1)).following == Month(date(2027, 1, 1))
    assert Month(date(2026, 1, 1)).shift(-12).label == "2025-01"
    assert last_complete_month(date(2026, 1, 15)) == Month(date(2025, 12, 1))
    assert Month(date(9999, 12, 1)).end == date(9999, 12, 31)
    assert Month(date(1, 6, 1)).back(12) == Month(date(1, 1, 1))  # no year 0
    assert Month(date(1, 6, 1)).label == "0001-06"
    assert Month(date(2026, 3, 1)).ends_before == datetime(2026, 4, 1, tzinfo=UTC)
    for bad in ("2026-13", "2026-02-30", "26-02", "2026/02"):
        with pytest.raises(ValidationError) as raised:
            Month.parse(bad, "to")
        assert raised.value.field == "to"


# --- receipts and the monthly job on the in-memory adapters -----------------------------------------------

NOVEMBER = datetime(2025, 11, 10, 9, 0, tzinfo=UTC)
DECEMBER = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)  # the fixed clock's last complete month is 2025-12


@pytest.fixture
def sc(uow, clock):
    class Wired:
        create_supplier = CreateSupplier(uow, clock)
        approve = ChangeApproval(uow, clock)
        raise_nc = RaiseNonConformity(uow, clock)
        record = RecordReceipt(uow, clock)
        receipts = ReceiptQueries(uow)
        compute = ComputeMonthlyScores(uow, clock, RaiseReviewRequired(uow, clock))
        scorecard = ScorecardQueries(uow, clock)
    return Wired()


def _approved(sc, origin, name: str = "Beta Metals") -> int:
    supplier = sc.create_supplier(name, date(2030, 1, 1), origin).supplier.id
    sc.approve(supplier, "APPROVED", "audit passed", origin)
    return supplier


def _at(clock, moment: datetime, action):
    """`action()` with the clock at `moment`, then back to today."""
    today, clock.current = clock.current, moment
    try:
        return action()
    finally:
        clock.current = today


def _all_periods(uow):
    with uow() as work:
        return list(work.scores.state.score_periods.values())


def test_a_receipt_is_validated_and_recorded_once_per_reference(sc, origin, outbox):
    supplier = _approved(sc, origin)
    receipt = sc.record(supplier, " DN-1 ", date(2026, 1, 10), date(2026, 1, 12), 10, 2, origin)
    assert (receipt.reference, receipt.on_time, receipt.recorded_by) == ("DN-1", False, "alice")
    event = outbox()[-1].envelope
    assert (event.event_type, event.aggregate_type, event.aggregate_id) == (
        "SUPPLIER_RECEIPT_RECORDED", "supplier", str(supplier))
    assert event.payload["changes"][0] == ["reference", None, "DN-1"] and event.payload["on_time"] is False
    for args, field in [((date(2026, 1, 1), date(2026, 1, 16), 1, 0), "received_date"),  # after today
                        ((date(2026, 1, 1), date(2026, 1, 1), 0, 0), "qty_received"),
                        ((date(2026, 1, 1), date(2026, 1, 1), 5, 6), "qty_rejected"),
                        ((date(2026, 1, 1), date(2026, 1, 1), 5, -1), "qty_rejected"),
                        ((date(2026, 1, 1), date(2026, 1, 1), True, 0), "qty_received")]:
        with pytest.raises(ValidationError) as raised:
            sc.record(supplier, "DN-2", *args, origin)
        assert raised.value.field == field
    with pytest.raises(Conflict, match="already has receipt DN-1"):
        sc.record(supplier, "DN-1", date(2026, 1, 10), date(2026, 1, 10), 1, 0, origin)
    with pytest.raises(NotFound):
        sc.record(999, "DN-3", date(2026, 1, 10), date(2026, 1, 10), 1, 0, origin)
    sc.approve(supplier, "BLOCKED", "porosity", origin)
    with pytest.raises(Conflict, match="BLOCKED"):
        sc.record(supplier, "DN-4", date(2026, 1, 10), date(2026, 1, 10), 1, 0, origin)
    page = sc.receipts.list(supplier, PageRequest(limit=10))
    assert ([r.reference for r in page.items], page.total) == (["DN-1"], 1)


def test_a_stored_month_never_changes_and_a_very_poor_one_asks_for_exactly_one_review(sc, origin, outbox, uow, clock):
    supplier, other, pending = _at(clock, NOVEMBER, lambda: (
        _approved(sc, origin), _approved(sc, origin, "Gamma Plastics"),
        sc.create_supplier("Delta", date(2030, 1, 1), origin).supplier.id))  # Delta is PENDING: not in use
    late = _approved(sc, origin, "Epsilon")  # created after December: not scored for it

    def december_activity() -> None:
        sc.raise_nc(supplier, "high", "cracked housings", origin)
        sc.raise_nc(supplier, "high", "wrong alloy", origin)
        sc.record(supplier, "DN-1", date(2025, 12, 1), date(2025, 12, 8), 100, 60, origin)  # late, 60 % rejected
        sc.record(supplier, "DN-2", date(2025, 12, 5), date(2025, 12, 9), 100, 40, origin)  # late
    _at(clock, DECEMBER, december_activity)
    sc.raise_nc(supplier, "high", "January's NC: not December's", origin)

    assert sc.compute(origin=origin) == 2  # the last complete month, 2025-12, for both suppliers in use
    [stored] = sc.scorecard.scorecard(supplier, Month(date(2025, 12, 1)), Month(date(2025, 12, 1))).periods
    assert (stored.quality_score, stored.delivery_score, stored.acceptance_score) == (D("80.00"), D("0.00"),
                                                                                      D("50.00"))
    assert stored.total_score == D("50.00") and stored.standing is Standing.AVERAGE  # (4000 + 0 + 1000) / 100
    # ... so no review for this one; the other, without activity, is N/A and raises nothing either
    [idle] = sc.scorecard.scorecard(other, Month(date(2025, 12, 1)), Month(date(2025, 12, 1))).periods
    assert (idle.total_score, idle.standing, idle.inputs) == (None, Standing.NA, ScoreInputs())
    scored_suppliers = {p.supplier_id for p in _all_periods(uow)}
    assert scored_suppliers == {supplier, other} and not {pending, late} & scored_suppliers

    # November, worse: VERY_POOR and one review, in the transaction that stored it
    def november_activity() -> None:
        for _ in range(6):
            sc.raise_nc(supplier, "high", "porosity", origin)
        sc.record(supplier, "DN-N", date(2025, 11, 1), date(2025, 11, 8), 10, 9, origin)
    _at(clock, NOVEMBER, november_activity)
    assert sc.compute(date(2025, 11, 30), origin) == 2
    novembers = [r.envelope for r in outbox() if r.envelope.event_type in ("SUPPLIER_SCORED",
                                                                           "SUPPLIER_REVIEW_REQUIRED")]
    reviews = [e for e in novembers if e.event_type == "SUPPLIER_REVIEW_REQUIRED"]
    assert [(e.payload["trigger"], e.payload["reference"]) for e in reviews] == [
        ("SCORE_WORST_BAND", f"score:{supplier}:2025-11")]
    assert "VERY_POOR" in reviews[0].payload["reason"]
    scored = [e for e in novembers if e.event_type == "SUPPLIER_SCORED"]
    assert len(scored) == 4 and scored[-2].payload["standing"] == "VERY_POOR"  # then the review, then Gamma
    assert novembers.index(reviews[0]) == novembers.index(scored[-2]) + 1
    # quality 40 (6 high), delivery 0 (late), acceptance 10 (9 of 10 rejected): (2000 + 0 + 200) / 100
    assert scored[-2].payload["inputs"]["ncs_high"] == 6
    assert ["total_score", None, "22.00"] in scored[-2].payload["changes"]

    # again, and after the data changed: nothing is stored or raised again, nothing changes
    before = {(p.supplier_id, p.period_start): (p.total_score, p.inputs) for p in _all_periods(uow)}
    events = len(outbox())
    sc.record(supplier, "DN-3", date(2025, 12, 1), date(2025, 12, 1), 50, 0, origin)  # recorded late, in January
    assert sc.compute(origin=origin) == 0 and sc.compute(date(2025, 11, 1), origin) == 0
    assert {(p.supplier_id, p.period_start): (p.total_score, p.inputs) for p in _all_periods(uow)} == before
    assert len(outbox()) == events + 1  # the receipt's own event only


def test_only_a_complete_month_is_stored_and_the_current_one_is_shown_live(sc, origin):
    supplier = _approved(sc, origin)
    for month in (date(2026, 1, 1), date(9999, 12, 31)):
        with pytest.raises(ValidationError) as raised:
            sc.compute(month, origin)
        assert raised.value.field == "month"
    sc.record(supplier, "DN-1", date(2026, 1, 20), date(2026, 1, 14), 10, 1, origin)
    card = sc.scorecard.scorecard(supplier)
    assert (card.first.label, card.last.label) == ("2025-01", "2026-01")
    [live] = card.periods
    assert live.provisional and live.month.label == "2026-01" and live.id is None
    assert (live.delivery_score, live.acceptance_score, live.standing) == (D("100.00"), D("90.00"),
                                                                           Standing.EXCELLENT)
    assert sc.scorecard.scorecard(supplier, last=Month(date(2025, 12, 1))).periods == []  # the past only: stored
    assert sc.scorecard.scorecard(supplier, last=Month(date(1, 1, 1))).first == Month(date(1, 1, 1))
    with pytest.raises(ValidationError) as raised:
        sc.scorecard.scorecard(supplier, Month(date(2026, 1, 1)), Month(date(2025, 12, 1)))
    assert raised.value.field == "from"
    with pytest.raises(NotFound):
        sc.scorecard.scorecard(999)
