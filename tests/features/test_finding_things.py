"""Steps of finding_things.feature: search, sort, date range, unknown parameters, CSV."""

from __future__ import annotations

import csv
import io

from pytest_bdd import given, parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok
from tests.support.harness import RunningApp

scenarios("finding_things.feature")


@given(parsers.parse('logistics has placed an order for customer "{customer_id}" named "{name}"'))
def placed_order(app: RunningApp, customer_id: str, name: str) -> None:
    _ok(app.call("logistics", "POST", "/orders", json={"customer_id": customer_id, "customer_name": name,
                                                       "address": "1 Dock Road"}), 201)


@given(parsers.parse('logistics has created an inventory for "{customer}" expiring {day}'))
def created_inventory(app: RunningApp, customer: str, day: str) -> None:
    _ok(app.call("logistics", "POST", "/inventories", json={"customer": customer, "expiry_date": day}), 201)


@when(parsers.parse('{role} lists "{path}"'))
def lists(app: RunningApp, memo: Memo, role: str, path: str) -> None:
    memo.response = app.call(role, "GET", path)


def _values(text: str) -> list[str]:
    return [v.strip() for v in text.split(", ")] if text else []


@then(parsers.parse('the listed {field} are "{values}"'))
def listed(memo: Memo, field: str, values: str) -> None:
    assert [item[field] for item in _ok(memo.response, 200)["items"]] == _values(values)


@when(parsers.parse('{role} downloads "{path}" as CSV'))
def downloads(app: RunningApp, memo: Memo, role: str, path: str) -> None:
    memo.response = app.call(role, "GET", path, headers={"Accept": "text/csv"})
    assert memo.response.status_code == 200, memo.response.text
    assert memo.response.headers["content-type"] == "text/csv; charset=utf-8"


@then(parsers.parse('the CSV column "{column}" is "{values}"'))
def csv_column(memo: Memo, column: str, values: str) -> None:
    rows = list(csv.DictReader(io.StringIO(memo.response.text, newline="")))
    assert [row[column] for row in rows] == _values(values)


@then(parsers.parse('the CSV header starts with "{header}"'))
def csv_header(memo: Memo, header: str) -> None:
    first_line = memo.response.text.split("\r\n", 1)[0]
    assert memo.response.text.endswith("\r\n") and first_line.startswith(header), memo.response.text[:200]


@then("the list is empty")
def list_empty(memo: Memo) -> None:
    assert _ok(memo.response, 200)["items"] == []
