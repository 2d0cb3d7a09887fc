"""The scorecard's SQL stores on SQLite and PostgreSQL (ADR 0028): a month is inserted once (ON CONFLICT
DO NOTHING, also between two open transactions), receipts are unique per reference, the job stores and
reviews through the SQL unit of work as on the in-memory one."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from adapters.outbound.clock import FixedClock
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import outbox_events, supplier_score_periods
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.approval import ChangeApproval, RaiseReviewRequired
from application.envelope import Origin
from application.nonconformities import RaiseNonConformity
from application.pagination import PageRequest
from application.receipts import ReceiptQueries, RecordReceipt
from application.scorecard import ComputeMonthlyScores, ScorecardQueries
from application.suppliers import CreateSupplier
from domain.errors import Conflict
from domain.nonconformities import NcStatus, Severity
from domain.receipts import Receipt
from domain.scorecard import Month, ScoreInputs, ScorePeriod, Standing
from domain.suppliers import IN_USE

FEBRUARY = Month(date(2026, 2, 1))
ORIGIN = Origin("quality", "c")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest):
    engine = create_engine(request.getfixturevalue(f"{request.param}_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))


def _supplier(engine: sa.Engine, clock: FixedClock, name: str = "Beta Metals") -> int:
    factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
    supplier = CreateSupplier(factory, clock)(name, date(2030, 1, 1), ORIGIN).supplier.id
    ChangeApproval(factory, clock)(supplier, "APPROVED", "audit passed", ORIGIN)
    return supplier


def _period(supplier_id: int, high: int, now: datetime) -> ScorePeriod:
    return ScorePeriod.compute(supplier_id, FEBRUARY, ScoreInputs(ncs_high=high), now)


def test_a_second_insert_of_the_same_month_keeps_the_first_and_says_so(engine: sa.Engine, clock: FixedClock) -> None:
    supplier = _supplier(engine, clock)
    with SqlUnitOfWork(engine, clock) as uow:
        first = _period(supplier, 1, clock.now())
        assert uow.scores.add_new(first) and first.id is not None
        assert uow.scores.unscored(FEBRUARY.start, IN_USE, FEBRUARY.ends_before) == []
        uow.commit()
    with SqlUnitOfWork(engine, clock) as uow:
        again = _period(supplier, 5, clock.now())
        assert not uow.scores.add_new(again) and again.id is None
        uow.commit()
    with SqlUnitOfWork(engine, clock).reading() as uow:
        [stored] = uow.scores.between(supplier, FEBRUARY.start, FEBRUARY.start)
        assert uow.scores.get(stored.id).total_score == Decimal("90.00")
    assert (stored.quality_score, stored.delivery_score, stored.total_score, stored.standing) == (
        Decimal("90.00"), None, Decimal("90.00"), Standing.EXCELLENT)
    assert (stored.period_end, stored.inputs) == (date(2026, 2, 28), ScoreInputs(ncs_high=1))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(supplier_score_periods)).scalar_one() == 1


@pytest.mark.postgres
def test_two_concurrent_runs_store_a_month_once(postgres_url: str, clock: FixedClock) -> None:
    """The second insert waits for the first transaction and, once it committed, inserts nothing."""
    engine = create_engine(postgres_url)
    try:
        supplier = _supplier(engine, clock)
        first, second = SqlUnitOfWork(engine, clock), SqlUnitOfWork(engine, clock)
        with first, second:
            assert first.scores.add_new(_period(supplier, 1, clock.now()))
            kept: list[bool] = []
            waiting = threading.Thread(target=lambda: kept.append(second.scores.add_new(
                _period(supplier, 7, clock.now()))))
            waiting.start()
            waiting.join(0.3)
            assert waiting.is_alive()  # blocked on the first one's row
            first.commit()
            waiting.join(5)
            second.commit()
        assert kept == [False]
        with SqlUnitOfWork(engine, clock).reading() as uow:
            assert [p.inputs.ncs_high for p in uow.scores.between(supplier, FEBRUARY.start, FEBRUARY.start)] == [1]
    finally:
        engine.dispose()


def test_receipts_are_unique_per_reference_even_past_the_lookup(engine: sa.Engine, clock: FixedClock) -> None:
    supplier = _supplier(engine, clock)
    factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
    RecordReceipt(factory, clock)(supplier, "DN-1", date(2026, 2, 1), date(2026, 2, 3), 10, 1, ORIGIN)
    with SqlUnitOfWork(engine, clock) as uow:  # a concurrent twin: the unique key refuses it
        twin = Receipt.record(uow.suppliers.get(supplier), "DN-1", date(2026, 2, 1), date(2026, 2, 1), 5, 0,
                              "logistics", clock.now())
        with pytest.raises(Conflict, match="DN-1"):
            uow.receipts.add(twin)
    page = ReceiptQueries(factory).list(supplier, PageRequest(limit=10))
    assert [(r.reference, r.qty_received, r.on_time) for r in page.items] == [("DN-1", 10, False)]


def test_the_monthly_job_on_sql_counts_the_month_and_raises_one_review(engine: sa.Engine, clock: FixedClock) -> None:
    factory = lambda: SqlUnitOfWork(engine, clock)  # noqa: E731
    clock.current = datetime(2026, 1, 20, 9, 0, tzinfo=UTC)
    supplier = _supplier(engine, clock)
    clock.current = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
    raise_nc = RaiseNonConformity(factory, clock)
    for severity in ("high",) * 7 + ("low",):
        raise_nc(supplier, severity, "porosity", ORIGIN)
    RecordReceipt(factory, clock)(supplier, "DN-1", date(2026, 2, 1), date(2026, 2, 9), 10, 8, ORIGIN)
    clock.current = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # February is over
    with SqlUnitOfWork(engine, clock).reading() as uow:
        assert uow.ncs.raised_between(supplier, FEBRUARY.begins_at, FEBRUARY.ends_before) == {
            (Severity.HIGH, NcStatus.OPEN): 7, (Severity.LOW, NcStatus.OPEN): 1}
    compute = ComputeMonthlyScores(factory, clock, RaiseReviewRequired(factory, clock))
    assert (compute(origin=ORIGIN), compute(origin=ORIGIN)) == (1, 0)
    card = ScorecardQueries(factory, clock).scorecard(supplier, FEBRUARY)
    stored, live = card.periods
    # quality 100 − 71 = 29, delivery 0, acceptance 20: (1450 + 0 + 400) / 100 = 18.50
    assert (stored.total_score, stored.standing, stored.provisional) == (Decimal("18.50"), Standing.VERY_POOR, False)
    assert (live.month, live.standing, live.provisional) == (Month(date(2026, 3, 1)), Standing.NA, True)
    with engine.connect() as conn:
        types = conn.execute(sa.select(outbox_events.c.event_type, outbox_events.c.payload)
                             .order_by(outbox_events.c.position)).all()
    scored = [t for t, _ in types if t in ("SUPPLIER_SCORED", "SUPPLIER_REVIEW_REQUIRED")]
    assert scored == ["SUPPLIER_SCORED", "SUPPLIER_REVIEW_REQUIRED"]
    review = next(p for t, p in types if t == "SUPPLIER_REVIEW_REQUIRED")
    assert (review["trigger"], review["reference"]) == ("SCORE_WORST_BAND", f"score:{supplier}:2026-02")
