"""Steps of the NC investigation and its CAPA actions (ADR 0024)."""

from __future__ import annotations

import json
from typing import Any

from pytest_bdd import given, parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok, kpis
from tests.support.harness import RunningApp

scenarios("nc_investigation.feature")


def _nc_call(app: RunningApp, memo: Memo, role: str, path: str, body: dict[str, Any]) -> Any:
    memo.response = app.call(role, "PATCH" if not path.endswith("/actions") else "POST",
                             f"/ncs/{memo.last_nc}{path}", json=body)
    return memo.response


@when(parsers.parse("quality moves the non-conformity to {status}"))
@given(parsers.parse("quality has moved the non-conformity to {status}"))
def move(app: RunningApp, memo: Memo, status: str) -> None:
    _nc_call(app, memo, "quality", "/status", {"status": status})


@when(parsers.parse('quality starts the investigation with owner "{owner}"'))
@given(parsers.parse('quality has started the investigation with owner "{owner}"'))
def start(app: RunningApp, memo: Memo, owner: str) -> None:
    _nc_call(app, memo, "quality", "/status", {"status": "INVESTIGATING", "owner": owner})


@when(parsers.parse('quality records the root cause {category}: "{analysis}"'))
@given(parsers.parse('quality has recorded the root cause {category}: "{analysis}"'))
def root_cause(app: RunningApp, memo: Memo, category: str, analysis: str) -> None:
    _ok(_nc_call(app, memo, "quality", "", {"root_cause_category": category, "root_cause_analysis": analysis,
                                           "rca_method": "FIVE_WHYS"}), 200)


def _plan(app: RunningApp, memo: Memo, owner: str, day: str, criteria: str | None) -> None:
    body = {"type": "CORRECTIVE", "description": "dry the resin before moulding", "owner": owner, "due_date": day}
    if criteria is not None:
        body["effectiveness_criteria"] = criteria
    if _nc_call(app, memo, "quality", "/actions", body).status_code == 201:
        memo.event_id = memo.response.json()["id"]  # the action's number


@when(parsers.parse('quality plans a corrective action for "{owner}" due {day} checked by "{criteria}"'))
@given(parsers.parse('quality has planned a corrective action for "{owner}" due {day} checked by "{criteria}"'))
def plan(app: RunningApp, memo: Memo, owner: str, day: str, criteria: str) -> None:
    _plan(app, memo, owner, day, criteria)
    _ok(memo.response, 201)


@when(parsers.parse('quality plans a corrective action for "{owner}" due {day} without effectiveness criteria'))
def plan_without_criteria(app: RunningApp, memo: Memo, owner: str, day: str) -> None:
    _plan(app, memo, owner, day, None)


def _mark(app: RunningApp, memo: Memo, user: str, status: str, **body: str) -> None:
    _nc_call(app, memo, user, f"/actions/{memo.event_id}/status", {"status": status, **body})


@when(parsers.parse('"{user}" marks the action {status} noting "{note}"'))
def mark_noting(app: RunningApp, memo: Memo, user: str, status: str, note: str) -> None:
    _mark(app, memo, user, status, note=note)
    _ok(memo.response, 200)


@when(parsers.parse('"{user}" marks the action {status} with the result "{result}"'))
def mark_result(app: RunningApp, memo: Memo, user: str, status: str, result: str) -> None:
    _mark(app, memo, user, status, result=result)


@when(parsers.parse('"{user}" marks the action {status}'))
def mark(app: RunningApp, memo: Memo, user: str, status: str) -> None:
    _mark(app, memo, user, status)
    _ok(memo.response, 200)


@when(parsers.parse('quality closes the non-conformity noting "{note}"'))
def close_with_note(app: RunningApp, memo: Memo, note: str) -> None:
    _ok(_nc_call(app, memo, "quality", "/status", {"status": "CLOSED", "closure_note": note}), 200)


@when(parsers.parse('quality reopens the non-conformity because "{reason}"'))
def reopen(app: RunningApp, memo: Memo, reason: str) -> None:
    _ok(_nc_call(app, memo, "quality", "/status", {"status": "INVESTIGATING", "reason": reason}), 200)


@then(parsers.parse("the answer is 409 allowing {states}"))
def refused_with(memo: Memo, states: str) -> None:
    assert memo.response.status_code == 409, memo.response.text
    assert memo.response.json()["allowed"] == [s.strip() for s in states.split(",")]


@then(parsers.parse('the supplier "{name}" is at risk'))
def at_risk(app: RunningApp, memo: Memo, name: str) -> None:
    supplier = _ok(app.call("quality", "GET", f"/suppliers/{memo.suppliers[name]}"), 200)
    assert supplier["at_risk"] is True


@then(parsers.parse("the non-conformity is back in {status}"))
def back_in(app: RunningApp, memo: Memo, status: str) -> None:
    assert _ok(app.call("auditor", "GET", f"/ncs/{memo.last_nc}"), 200)["status"] == status


@then("the quality KPIs are")
def quality_kpis(app: RunningApp, datatable: list[list[str]]) -> None:
    actual: Any = kpis(app)
    found = {}
    for key in datatable[0]:
        figure = actual
        for part in key.split("."):
            figure = figure[part]
        found[key] = figure
    assert found == {k: json.loads(v) for k, v in zip(datatable[0], datatable[1], strict=True)}


@then(parsers.parse("the audit log shows the changes of {types}"))
def audit_changes(app: RunningApp, types: str) -> None:
    entries = _ok(app.call("auditor", "GET", "/audit-log?limit=500"), 200)["items"]
    seen = {e["event_type"] for e in entries}
    assert {t.strip() for t in types.split(",")} <= seen, seen
