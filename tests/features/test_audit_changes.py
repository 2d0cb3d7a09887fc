"""Steps of audit_changes.feature: who changed what (old -> new) and why, found by actor and time."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from pytest_bdd import parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok
from tests.support.harness import RunningApp

scenarios("audit_changes.feature")


@when(parsers.parse('logistics places a delivery order for "{name}" at "{address}"'))
def place_order(app: RunningApp, memo: Memo, name: str, address: str) -> None:
    memo.last_order = _ok(app.call("logistics", "POST", "/orders", json={"customer_name": name, "address": address}),
                          201)["id"]


@when(parsers.parse('logistics puts the order on hold saying "{reason}"'))
def hold_order(app: RunningApp, memo: Memo, reason: str) -> None:
    _ok(app.call("logistics", "PATCH", f"/orders/{memo.last_order}/status",
                 json={"status": "ON_HOLD", "reason": reason}), 200)


@when(parsers.parse('logistics cancels the order saying "{reason}"'))
def cancel_order(app: RunningApp, memo: Memo, reason: str) -> None:
    _ok(app.call("logistics", "PUT", f"/orders/{memo.last_order}/cancel", json={"reason": reason}), 200)


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


def _audit_rows(app: RunningApp, entity_type: str, entity_id: str) -> list[list[str]]:
    page = _ok(app.call("auditor", "GET", f"/audit-log?entity_type={entity_type}&entity_id={entity_id}"), 200)
    return [[e["action"], e["actor"], "; ".join(f"{f}: {_shown(old)} -> {_shown(new)}" for f, old, new in e["changes"]),
             e["reason"] or ""] for e in page["items"]]


@then(parsers.parse('the audit log of supplier "{name}" says'))
def supplier_audit(app: RunningApp, memo: Memo, name: str, datatable: list[list[str]]) -> None:
    assert _audit_rows(app, "supplier", str(memo.suppliers[name])) == datatable[1:]


@then("the audit log of the order says")
def order_audit(app: RunningApp, memo: Memo, datatable: list[list[str]]) -> None:
    assert _audit_rows(app, "order", str(memo.last_order)) == datatable[1:]


@when(parsers.parse('the auditor lists what "{actor}" changed from {start} to {end}'))
def list_by_actor(app: RunningApp, memo: Memo, actor: str, start: str, end: str) -> None:
    query = urlencode({"actor": actor, "created_from": start, "created_to": end})
    memo.response = app.call("auditor", "GET", f"/audit-log?{query}")


@then(parsers.re(r"the audit log lists (?P<actions>[A-Z_, ]+|nothing)$"))
def listed_actions(memo: Memo, actions: str) -> None:
    expected = [] if actions == "nothing" else actions.split(", ")
    assert [e["action"] for e in _ok(memo.response, 200)["items"]] == expected


@when(parsers.parse('the auditor downloads what "{actor}" changed as CSV'))
def download_by_actor(app: RunningApp, memo: Memo, actor: str) -> None:
    memo.response = app.call("auditor", "GET", f"/audit-log?actor={actor}", headers={"Accept": "text/csv"})
    assert memo.response.status_code == 200, memo.response.text


@then(parsers.parse("the CSV row of {action} shows the changes {changes}"))
def csv_changes(memo: Memo, action: str, changes: str) -> None:
    rows = [row for row in csv.DictReader(io.StringIO(memo.response.text, newline="")) if row["action"] == action]
    assert [(row["changes"], row["reason"], row["actor"]) for row in rows] == [(changes, "", "procurement")]
