"""Steps of inventories.feature; the shared ones (worker, answers, KPIs, outbox) are in conftest.py."""

from __future__ import annotations

import json

import pytest
from pytest_bdd import given, parsers, scenarios, then, when

from tests.features.conftest import Memo
from tests.support.harness import RunningApp

scenarios("inventories.feature")


@pytest.fixture
def inventory_ids() -> dict[str, int]:
    """The id of the inventory created for each customer name."""
    return {}


def _ok(response, *statuses: int) -> dict:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    return response.json()


def listed(app: RunningApp, query: str = "limit=500") -> dict:
    return _ok(app.call("auditor", "GET", f"/inventories?{query}"), 200)


# --- commands -----------------------------------------------------------------------------------

def _create(app: RunningApp, memo: Memo, ids: dict[str, int], role: str, body: dict) -> None:
    memo.response = app.call(role, "POST", "/inventories", json=body)
    if memo.response.status_code == 201:
        created = memo.response.json()
        ids[created["customer"]] = created["id"]


@when(parsers.parse('{role} creates an inventory for "{customer}" expiring {day}'))
def create(app: RunningApp, memo: Memo, inventory_ids: dict, role: str, customer: str, day: str) -> None:
    _create(app, memo, inventory_ids, role, {"customer": customer, "expiry_date": day})


@given(parsers.parse('logistics has created an inventory for "{customer}" expiring {day}'))
def created(app: RunningApp, memo: Memo, inventory_ids: dict, customer: str, day: str) -> None:
    create(app, memo, inventory_ids, "logistics", customer, day)
    _ok(memo.response, 201)


@given("logistics has created these inventories")
def created_many(app: RunningApp, memo: Memo, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    for row in rows:
        memo.response = app.call("logistics", "POST", "/inventories", json=dict(zip(header, row, strict=True)))
        _ok(memo.response, 201)


@when(parsers.parse("logistics posts the inventory {body}"))
def post_inventory(app: RunningApp, memo: Memo, inventory_ids: dict, body: str) -> None:
    _create(app, memo, inventory_ids, "logistics", json.loads(body))


def _add_line(app: RunningApp, memo: Memo, role: str, inventory_id: int, body: dict) -> None:
    memo.response = app.call(role, "POST", f"/inventories/{inventory_id}/lines", json=body)


@when(parsers.parse('{role} adds {quantity:d} of "{product}" to the inventory of "{customer}"'))
def add_line(app: RunningApp, memo: Memo, inventory_ids: dict, role: str, quantity: int, product: str,
             customer: str) -> None:
    _add_line(app, memo, role, inventory_ids[customer], {"product": product, "quantity": quantity})


@given(parsers.parse('logistics has added {quantity:d} of "{product}" to the inventory of "{customer}"'))
def added_line(app: RunningApp, memo: Memo, inventory_ids: dict, quantity: int, product: str, customer: str) -> None:
    add_line(app, memo, inventory_ids, "logistics", quantity, product, customer)
    line = _ok(memo.response, 201)
    assert (line["inventory_id"], line["product"], line["quantity"]) == (inventory_ids[customer], product, quantity)


@when(parsers.parse('logistics adds {quantity:d} of "{product}" to inventory {inventory_id:d}'))
def add_line_by_id(app: RunningApp, memo: Memo, quantity: int, product: str, inventory_id: int) -> None:
    _add_line(app, memo, "logistics", inventory_id, {"product": product, "quantity": quantity})


@when(parsers.parse('logistics posts the line {body} to the inventory of "{customer}"'))
def post_line(app: RunningApp, memo: Memo, inventory_ids: dict, body: str, customer: str) -> None:
    _add_line(app, memo, "logistics", inventory_ids[customer], json.loads(body))


@when(parsers.parse('{role} deletes the inventory of "{customer}"'))
def delete(app: RunningApp, memo: Memo, inventory_ids: dict, role: str, customer: str) -> None:
    memo.response = app.call(role, "DELETE", f"/inventories/{inventory_ids[customer]}")


@given(parsers.parse('logistics has deleted the inventory of "{customer}"'))
def deleted(app: RunningApp, memo: Memo, inventory_ids: dict, customer: str) -> None:
    delete(app, memo, inventory_ids, "logistics", customer)
    assert memo.response.status_code == 204, memo.response.text


@when(parsers.parse("logistics deletes inventory {inventory_id:d}"))
def delete_by_id(app: RunningApp, memo: Memo, inventory_id: int) -> None:
    memo.response = app.call("logistics", "DELETE", f"/inventories/{inventory_id}")


# --- reads --------------------------------------------------------------------------------------

@then(parsers.parse('the new inventory for "{customer}" has {total:d} items'))
def new_inventory(memo: Memo, inventory_ids: dict, customer: str, total: int) -> None:
    body = memo.response.json()
    assert (body["id"], body["customer"], body["total_items"]) == (inventory_ids[customer], customer, total)


@then("the inventory list is empty")
def list_empty(app: RunningApp) -> None:
    assert listed(app) == {"items": [], "total": 0, "total_exact": True, "limit": 500, "offset": 0}


@then(parsers.parse('the inventory list shows "{customer}" with {total:d} items in {lines:d} lines'))
def list_shows(app: RunningApp, inventory_ids: dict, customer: str, total: int, lines: int) -> None:
    [row] = [r for r in listed(app)["items"] if r["customer"] == customer]
    assert (row["inventory_id"], row["total_items"], row["line_count"]) == (inventory_ids[customer], total, lines)


@then(parsers.parse('the inventory list does not show "{customer}"'))
def list_does_not_show(app: RunningApp, customer: str) -> None:
    assert customer not in [r["customer"] for r in listed(app)["items"]]


@then(parsers.parse('the detail of "{customer}" shows {total:d} items in these lines'))
def detail_shows(app: RunningApp, inventory_ids: dict, customer: str, total: int,
                 datatable: list[list[str]]) -> None:
    detail = _ok(app.call("quality", "GET", f"/inventories/{inventory_ids[customer]}"), 200)
    assert (detail["customer"], detail["total_items"], detail["line_count"]) == (customer, total, len(datatable) - 1)
    assert [[line["product"], str(line["quantity"])] for line in detail["lines"]] == datatable[1:]


@then(parsers.parse('reading the inventory of "{customer}" answers {status:d}'))
def reading_answers(app: RunningApp, inventory_ids: dict, customer: str, status: int) -> None:
    response = app.call("auditor", "GET", f"/inventories/{inventory_ids[customer]}")
    assert response.status_code == status, response.text


@then(parsers.parse('listing inventories with "{query}" gives {customers} of {total:d}'))
def listing_gives(app: RunningApp, query: str, customers: str, total: int) -> None:
    page = listed(app, query)
    assert ([r["customer"] for r in page["items"]], page["total"]) == ([c.strip() for c in customers.split(",")], total)


@then(parsers.parse('listing inventories with "{query}" gives none'))
def listing_gives_none(app: RunningApp, query: str) -> None:
    page = listed(app, query)
    assert (page["items"], page["total"]) == ([], 0)


@then(parsers.parse("listing inventories by expiry date gives {days}"))
def listing_by_expiry(app: RunningApp, days: str) -> None:
    assert [r["expiry_date"] for r in listed(app)["items"]] == [d.strip() for d in days.split(",")]


# --- roles --------------------------------------------------------------------------------------

@then(parsers.parse('{roles} may read the inventory of "{customer}" but not change it'))
def may_read_not_change(app: RunningApp, inventory_ids: dict, roles: str, customer: str) -> None:
    inventory_id = inventory_ids[customer]
    pending_before = _ok(app.call("admin", "GET", "/kpi"), 200)["outbox_pending"]
    writes = [
        ("POST", "/inventories", {"customer": "Other", "expiry_date": "2027-01-31"}),
        ("POST", f"/inventories/{inventory_id}/lines", {"product": "bolts", "quantity": 1}),
        ("DELETE", f"/inventories/{inventory_id}", None),
    ]
    for role in roles.replace(" and ", ", ").split(", "):
        for method, path, body in writes:
            assert app.call(role, method, path, json=body).status_code == 403, (role, method, path)
        assert _ok(app.call(role, "GET", "/inventories"), 200)["total"] == 1
        assert _ok(app.call(role, "GET", f"/inventories/{inventory_id}"), 200)["customer"] == customer
    assert _ok(app.call("admin", "GET", "/kpi"), 200)["outbox_pending"] == pending_before
