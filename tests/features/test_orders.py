"""Steps of the order scenarios; the shared ones (time, worker, answers, KPIs) are in conftest.py."""

from __future__ import annotations

import json
from datetime import datetime

from pytest_bdd import given, parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok
from tests.support.harness import RunningApp

scenarios("orders.feature")

REASON = r'(?: because "(?P<reason>[^"]*)")?'


def _names(text: str) -> list[str]:
    return [] if text.strip() == "none" else [part.strip() for part in text.split(",")]


def _remember(memo: Memo) -> None:
    if memo.response.status_code == 201:
        memo.last_order = memo.response.json()["id"]


# --- placing orders ---------------------------------------------------------------------------

@when(parsers.re(r'(?P<role>\w+) places an order for "(?P<name>[^"]+)" at "(?P<address>[^"]+)"'))
def place_simple(app: RunningApp, memo: Memo, role: str, name: str, address: str) -> None:
    memo.response = app.call(role, "POST", "/orders", json={"customer_name": name, "address": address})
    _remember(memo)


@given(parsers.parse('logistics has placed an order for "{name}" at "{address}"'))
def placed_simple(app: RunningApp, memo: Memo, name: str, address: str) -> None:
    place_simple(app, memo, "logistics", name, address)
    _ok(memo.response, 201)


@when(parsers.parse('logistics places order "{reference}" for customer "{customer}" with items'))
def place_with_items(app: RunningApp, memo: Memo, reference: str, customer: str, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    items = [dict(zip(header, row, strict=True)) for row in rows]
    for item in items:
        item["quantity"] = int(item["quantity"])
    memo.response = app.call("logistics", "POST", "/orders", json={
        "order_id": reference, "customer_id": customer, "facility_id": "FAC-001",
        "eta": "2026-03-12T15:00:00Z", "items": items})
    _remember(memo)


@given(parsers.parse('logistics has placed order "{reference}" for customer "{customer}" with items'))
def placed_with_items(app: RunningApp, memo: Memo, reference: str, customer: str,
                      datatable: list[list[str]]) -> None:
    place_with_items(app, memo, reference, customer, datatable)
    _ok(memo.response, 201)


@when(parsers.parse("logistics posts the order {body}"))
def post_order(app: RunningApp, memo: Memo, body: str) -> None:
    memo.response = app.call("logistics", "POST", "/orders", json=json.loads(body))


# --- moving orders and items ------------------------------------------------------------------

@when(parsers.re(r"(?P<role>\w+) moves the order to (?P<status>\w+)" + REASON + "$"))
def move(app: RunningApp, memo: Memo, role: str, status: str, reason: str | None = None) -> None:
    body = {"status": status} | ({"reason": reason} if reason else {})
    memo.response = app.call(role, "PATCH", f"/orders/{memo.last_order}/status", json=body)


@given(parsers.parse("logistics has moved the order to {status}"))
def moved(app: RunningApp, memo: Memo, status: str) -> None:
    move(app, memo, "logistics", status)
    _ok(memo.response, 200)


@when(parsers.parse('logistics moves order "{reference}" to {status}'))
def move_by_reference(app: RunningApp, memo: Memo, reference: str, status: str) -> None:
    memo.response = app.call("logistics", "PATCH", f"/orders/{reference}/status", json={"status": status})


@when(parsers.re(r"(?P<role>\w+) cancels the order" + REASON + "$"))
def cancel(app: RunningApp, memo: Memo, role: str, reason: str | None = None) -> None:
    body = {"json": {"reason": reason}} if reason else {}
    memo.response = app.call(role, "PUT", f"/orders/{memo.last_order}/cancel", **body)


@when(parsers.parse('logistics moves item "{sku}" of the order to {status}'))
def move_item(app: RunningApp, memo: Memo, sku: str, status: str) -> None:
    memo.response = app.call("logistics", "PATCH", f"/orders/{memo.last_order}/items/{sku}/status",
                             json={"status": status})


@given(parsers.parse('logistics has moved item "{sku}" of the order to {status}'))
def moved_item(app: RunningApp, memo: Memo, sku: str, status: str) -> None:
    move_item(app, memo, sku, status)
    _ok(memo.response, 200)


# --- answers ----------------------------------------------------------------------------------

@then(parsers.parse("the answer is 409 naming the allowed next states {states}"))
def refused_with_allowed(memo: Memo, states: str) -> None:
    assert memo.response.status_code == 409, memo.response.text
    body = memo.response.json()
    assert body["allowed"] == _names(states)
    assert body["detail"].endswith(f"allowed next states: {', '.join(_names(states)) or 'none'}"), body


@then(parsers.parse('the answer says "{text}"'))
def answer_says(memo: Memo, text: str) -> None:
    assert text in memo.response.json()["detail"], memo.response.text


# --- reading ----------------------------------------------------------------------------------

def _order(app: RunningApp, key: str, role: str = "auditor") -> dict:
    return _ok(app.call(role, "GET", f"/orders/{key}"), 200)


@then(parsers.parse("the order is {status}"))
def order_is(app: RunningApp, memo: Memo, status: str) -> None:
    order = _order(app, memo.last_order)
    assert order["status"] == status, order
    assert order["id"] == memo.last_order


@then("every role can read the order by its id")
def every_role_reads(app: RunningApp, memo: Memo) -> None:
    for role in ("quality", "procurement", "logistics", "auditor", "admin"):
        order = _order(app, memo.last_order, role)
        assert (order["customer_name"], order["address"]) == ("João Silva", "Rua Exemplo, 123")


def _items(text: str) -> list[list[str]]:
    return [part.split() for part in _names(text)]


@then(parsers.parse('order "{reference}" totals {total} with items {items}'))
def order_totals(app: RunningApp, reference: str, total: str, items: str) -> None:
    order = _order(app, reference)
    assert order["order_id"] == reference
    assert f"{order['total_amount']:.2f}" == total, order
    assert [[i["sku"], i["status"]] for i in order["items"]] == _items(items)


def _events(app: RunningApp, memo: Memo, include_items: bool = False) -> list[dict]:
    query = "?include_items=true" if include_items else ""
    return _ok(app.call("auditor", "GET", f"/orders/{memo.last_order}/events{query}"), 200)


@then(parsers.re(r"the order's events are (?P<statuses>[A-Z_, ]+) (?P<how>with rising timestamps|in order)$"))
def events_are(app: RunningApp, memo: Memo, statuses: str, how: str) -> None:
    events = _events(app, memo)
    assert [e["status"] for e in events] == _names(statuses), events
    assert {e["order_id"] for e in events} == {memo.last_order}
    times = [datetime.fromisoformat(e["timestamp"]) for e in events]
    if how == "with rising timestamps":
        assert all(a < b for a, b in zip(times, times[1:])), times
    else:
        assert times == sorted(times)
    assert [e["previous_status"] for e in events[1:]] == [e["status"] for e in events[:-1]]


@then(parsers.parse("the order's journey is {statuses}"))
def journey_is(app: RunningApp, memo: Memo, statuses: str) -> None:
    journey = _ok(app.call("logistics", "GET", f"/orders/{memo.last_order}/journey"), 200)
    assert [step["current_status"] for step in journey] == _names(statuses)
    assert [step["previous_status"] for step in journey] == [None, *_names(statuses)[:-1]]


@then(parsers.parse('the order\'s changes after the first were made by "{actor}"'))
def changes_made_by(app: RunningApp, memo: Memo, actor: str) -> None:
    events = _events(app, memo, include_items=True)
    assert events[0]["actor"] == "logistics"
    assert {e["actor"] for e in events[1:]} == {actor}


@then(parsers.parse('the order\'s history says "{reason}" for {status}'))
def history_reason(app: RunningApp, memo: Memo, reason: str, status: str) -> None:
    assert [e["reason"] for e in _events(app, memo) if e["status"] == status] == [reason]


@then(parsers.parse("the order's item changes are {changes}"))
def item_changes(app: RunningApp, memo: Memo, changes: str) -> None:
    events = [e for e in _events(app, memo, include_items=True) if e["sku"] is not None]
    assert [[e["sku"], e["status"]] for e in events] == _items(changes)


@then(parsers.re(r'listing orders with "(?P<query>[^"]*)" gives (?P<references>.+) of (?P<total>\d+)$'))
def list_orders(app: RunningApp, query: str, references: str, total: str) -> None:
    page = _ok(app.call("procurement", "GET", f"/orders?{query}"), 200)
    assert [o["order_id"] for o in page["items"]] == _names(references)
    assert page["total"] == int(total)
