"""The one text rule (domain/text.py) and the four aggregates that apply it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain.errors import ValidationError
from domain.inventories import Inventory, InventoryLine
from domain.nonconformities import NonConformity, Severity
from domain.orders import ItemSpec, Order
from domain.suppliers import Supplier
from domain.text import optional_text, required_text, text_problem

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
REFUSED_EVERYWHERE = ["a\x00b", "a\ud800b", "\udfffx", "a\x01b", "a\x0bb", "a\x1bb", "a\x7fb", "a\x85b", "a\x9fb"]
REFUSED_ON_ONE_LINE = ["a\tb", "a\nb", "a\rb"]


@pytest.mark.parametrize("value", ["Beta Metals", "João Ñandú", "日本語 😀", "a\u00a0b", "\u2028", ""])
def test_printable_text_is_fine(value):
    assert text_problem(value) is None
    assert text_problem(value, multiline=True) is None


@pytest.mark.parametrize("value", REFUSED_EVERYWHERE)
def test_nul_lone_surrogates_and_controls_are_refused(value):
    assert text_problem(value) is not None
    assert text_problem(value, multiline=True) is not None


@pytest.mark.parametrize("value", REFUSED_ON_ONE_LINE)
def test_tab_and_line_breaks_only_in_multi_line_text(value):
    assert "control characters" in text_problem(value)
    assert text_problem(value, multiline=True) is None


def test_the_messages_say_what_is_wrong():
    assert text_problem("a\x00") == "must not contain a NUL character"
    assert text_problem("a\ud800") == "must be valid Unicode (no lone surrogate)"
    assert text_problem("a\x1b") == "must not contain control characters (found U+001B)"


def test_required_text_trims_and_bounds():
    assert required_text("name", "  Beta  ", 10) == "Beta"
    for value, message in ((None, "must not be empty"), ("   ", "must not be empty"), (5, "must be a string"),
                           ("x" * 11, "must be at most 10 characters"), ("x\x00", "must not contain a NUL")):
        with pytest.raises(ValidationError) as error:
            required_text("name", value, 10)
        assert error.value.field == "name" and error.value.message.startswith(message)


def test_controls_are_refused_before_trimming_could_hide_them():
    # str.strip() removes \x1c-\x1f and \x85: the rule sees the text as it was sent
    with pytest.raises(ValidationError):
        required_text("name", "\x1fBeta", 10)


def test_optional_text_is_none_when_blank():
    assert optional_text("reason", None, 10) is None
    assert optional_text("reason", "  ", 10) is None
    assert optional_text("reason", "line 1\nline 2", 20, multiline=True) == "line 1\nline 2"
    with pytest.raises(ValidationError):
        optional_text("reason", "line 1\nline 2", 20)


BAD = "bad\x00name"
AGGREGATES = {
    "name": lambda v: Supplier.register(v, date(2027, 1, 1), NOW),
    "description": lambda v: NonConformity.open(1, Severity.LOW, v, NOW),
    "customer": lambda v: Inventory.create(v, date(2027, 1, 1), NOW),
    "product": lambda v: InventoryLine.new(v, 1, NOW),
    "customer_name": lambda v: Order.receive(NOW, customer_name=v),
    "address": lambda v: Order.receive(NOW, customer_name="Ana", address=v),
    "order_id": lambda v: Order.receive(NOW, customer_name="Ana", reference=v),
    "items.0.sku": lambda v: Order.receive(NOW, customer_name="Ana", items=[ItemSpec(v, 1, "1", "1")]),
}


@pytest.mark.parametrize("field", AGGREGATES)
@pytest.mark.parametrize("value", [BAD, "lone \ud800 surrogate", "escape \x1b[31m"])
def test_every_aggregate_applies_the_rule(field, value):
    with pytest.raises(ValidationError) as error:
        AGGREGATES[field](value)
    assert error.value.field == field


def test_descriptions_addresses_and_reasons_keep_line_breaks():
    nc = NonConformity.open(1, Severity.LOW, "batch 42:\n\tporosity", NOW)
    assert nc.description == "batch 42:\n\tporosity"
    order = Order.receive(NOW, customer_name="Ana", address="Rua 1\r\n1000 Lisboa")
    order.move_to(order.allowed_next()[0], NOW, reason="called\nback")
    assert order.address == "Rua 1\r\n1000 Lisboa"
    with pytest.raises(ValidationError):
        Supplier.register("Beta\nMetals", date(2027, 1, 1), NOW)
