"""Every amount an order stores fits numeric(12,2): item prices, the declared and the computed total."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.errors import ValidationError
from domain.orders import MAX_AMOUNT, MAX_QUANTITY, ItemSpec, Order, money

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def receive(*specs: ItemSpec, **fields) -> Order:
    return Order.receive(NOW, customer_name="Ana", items=specs, **fields)


def refused(field: str, **fields) -> str:
    with pytest.raises(ValidationError) as error:
        Order.receive(NOW, **{"customer_name": "Ana", **fields})
    assert error.value.field == field
    return error.value.message


def test_the_largest_total_that_fits_is_accepted():
    order = receive(ItemSpec("A", 1, "1", str(MAX_AMOUNT)))
    assert order.total_amount == MAX_AMOUNT


def test_a_total_over_the_bound_names_the_items():
    message = refused("items", items=[ItemSpec("A", MAX_QUANTITY, "1", str(MAX_AMOUNT))])
    assert str(MAX_AMOUNT) in message


def test_line_totals_that_fit_alone_may_not_overflow_together():
    half = (MAX_AMOUNT / 2).quantize(Decimal("0.01")) + Decimal("0.01")
    refused("items", items=[ItemSpec("A", 1, "1", str(half)), ItemSpec("B", 1, "1", str(half))])


def test_a_declared_total_over_the_bound_names_total_amount():
    assert receive(total_amount=str(MAX_AMOUNT), address="Rua 1").total_amount == MAX_AMOUNT
    refused("total_amount", total_amount=str(MAX_AMOUNT + Decimal("0.01")))


@pytest.mark.parametrize("value", ["1e100", "1e999999999", "-1", "NaN", "Infinity", "0.001", True, "one"])
def test_money_refuses_what_cannot_be_stored(value):
    with pytest.raises(ValidationError) as error:
        money(value, "unit_price")
    assert error.value.field == "unit_price"


def test_negative_zero_is_stored_as_zero():
    assert str(money("-0", "unit_price")) == "0.00"
    assert str(money(Decimal("-0.00"), "unit_price")) == "0.00"


def test_a_time_that_leaves_the_calendar_in_utc_is_refused():
    ahead = timezone(timedelta(hours=1))
    assert "out of range" in refused("eta", eta=datetime(1, 1, 1, 0, 0, tzinfo=ahead))
    assert "out of range" in refused("order_datetime",
                                     ordered_at=datetime(9999, 12, 31, 23, 30, tzinfo=timezone(-timedelta(hours=1))))
