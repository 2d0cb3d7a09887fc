"""Steps of supplier_scorecard.feature: receipts, the monthly scores and the live month (ADR 0028)."""

from __future__ import annotations

from pytest_bdd import given, parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok, _raise_nc
from tests.support.harness import RunningApp

scenarios("supplier_scorecard.feature")


@given(parsers.parse('quality has approved "{name}" because "{reason}"'))
def approved(app: RunningApp, memo: Memo, name: str, reason: str) -> None:
    _ok(app.call("quality", "PATCH", f"/suppliers/{memo.suppliers[name]}/approval",
                 json={"status": "APPROVED", "reason": reason}), 200)


@when(parsers.parse('quality raises {count:d} {severity} non-conformities against "{name}"'))
def raise_ncs(app: RunningApp, memo: Memo, count: int, severity: str, name: str) -> None:
    for _ in range(count):
        _raise_nc(app, memo, memo.suppliers[name], severity)
        _ok(memo.response, 201)


@when(parsers.parse('{role} records delivery "{reference}" of "{name}" promised {promised}, received {received}: '
                    '{qty:d} parts, {rejected:d} rejected'))
def record_delivery(app: RunningApp, memo: Memo, role: str, reference: str, name: str, promised: str, received: str,
                    qty: int, rejected: int) -> None:
    memo.response = app.call(role, "POST", f"/suppliers/{memo.suppliers[name]}/receipts", json={
        "reference": reference, "promised_date": promised, "received_date": received, "qty_received": qty,
        "qty_rejected": rejected})
    assert _ok(memo.response, 201)["on_time"] is (received <= promised)


@then(parsers.parse('procurement may not record a delivery of "{name}"'))
def procurement_refused(app: RunningApp, memo: Memo, name: str) -> None:
    path = f"/suppliers/{memo.suppliers[name]}/receipts"
    body = {"reference": "DN-X", "promised_date": "2026-02-01", "received_date": "2026-02-01", "qty_received": 1,
            "qty_rejected": 0}
    assert app.call("procurement", "POST", path, json=body).status_code == 403
    refused = app.call("quality", "POST", path, json={**body, "qty_rejected": 2})
    assert refused.status_code == 422 and ["body", "qty_rejected"] in [e["loc"] for e in refused.json()["detail"]]
    assert _ok(app.call("auditor", "GET", path), 200)["total"] == 2


def _scorecard(app: RunningApp, memo: Memo, name: str, query: str = "") -> dict:
    return _ok(app.call("auditor", "GET", f"/suppliers/{memo.suppliers[name]}/scorecard{query}"), 200)


@then(parsers.parse('the month under way of "{name}" is provisionally {standing}'))
def live_month(app: RunningApp, memo: Memo, name: str, standing: str) -> None:
    [live] = _scorecard(app, memo, name)["periods"]
    assert (live["provisional"], live["standing"]) == (True, standing)


@when(parsers.parse("the monthly scores are computed, storing {count:d}"))
def compute(app: RunningApp, count: int) -> None:
    assert app.container.compute_scores()() == count


def _shown(value: float | None) -> str:
    return "N/A" if value is None else str(value)


@then(parsers.parse('the scorecard of "{name}" for {month} shows'))
def scorecard_shows(app: RunningApp, memo: Memo, name: str, month: str, datatable: list[list[str]]) -> None:
    card = _scorecard(app, memo, name, f"?from={month}&to={month}")
    [period] = card["periods"]
    assert (card["from"], card["to"], period["month"], period["provisional"]) == (month, month, month, False)
    expected = dict(zip(datatable[0], datatable[1], strict=True))
    shown = {key: _shown(period[f"{key}_score"]) for key in ("quality", "delivery", "acceptance", "total")}
    assert {**shown, "standing": period["standing"]} == expected


def _reviews(app: RunningApp, memo: Memo, name: str) -> list[dict]:
    """The reviews the scorecard asked for (each high NC asks for one of its own)."""
    query = f"entity_type=supplier&entity_id={memo.suppliers[name]}&event_type=SUPPLIER_REVIEW_REQUIRED&limit=500"
    entries = _ok(app.call("auditor", "GET", f"/audit-log?{query}"), 200)["items"]
    return [e for e in entries if e["details"]["trigger"] == "SCORE_WORST_BAND"]


@then(parsers.parse('quality is asked once to review "{name}" for its {month} score'))
def asked_to_review(app: RunningApp, memo: Memo, name: str, month: str) -> None:
    [review] = _reviews(app, memo, name)
    assert review["details"]["reference"] == f"score:{memo.suppliers[name]}:{month}"
    assert review["details"]["approval_status"] == "APPROVED"  # a prompt, never a block


@then(parsers.parse('quality is not asked to review "{name}"'))
def not_asked(app: RunningApp, memo: Memo, name: str) -> None:
    assert _reviews(app, memo, name) == []
