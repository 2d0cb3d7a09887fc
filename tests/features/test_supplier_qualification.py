"""Steps of supplier_qualification.feature: certificates and the approval status (ADR 0025)."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok
from tests.support.harness import RunningApp

scenarios("supplier_qualification.feature")


def _certificates(app: RunningApp, memo: Memo, name: str) -> list[dict]:
    return _ok(app.call("auditor", "GET", f"/suppliers/{memo.suppliers[name]}/certificates"), 200)["items"]


def _certificate(app: RunningApp, memo: Memo, name: str, number: str) -> dict:
    [found] = [c for c in _certificates(app, memo, name) if c["number"] == number]
    return found


def _record(app: RunningApp, memo: Memo, role: str, kind: str, number: str, name: str, issued: str, expires: str,
            required: bool) -> None:
    memo.response = app.call(role, "POST", f"/suppliers/{memo.suppliers[name]}/certificates", json={
        "type": kind, "number": number, "issuer": "TÜV Rheinland", "issued_on": issued, "expires_on": expires,
        "required": required})
    certificate = _ok(memo.response, 201)
    assert memo.response.headers["ETag"] == '"1"' and certificate["required"] is required


@when(parsers.parse('{role} records certificate {kind} "{number}" of "{name}" issued {issued} expiring {expires}'))
def record_certificate(app: RunningApp, memo: Memo, role: str, kind: str, number: str, name: str, issued: str,
                       expires: str) -> None:
    _record(app, memo, role, kind, number, name, issued, expires, True)


@when(parsers.parse('{role} records an optional certificate {kind} "{number}" of "{name}" issued {issued} '
                    'expiring {expires}'))
def record_optional_certificate(app: RunningApp, memo: Memo, role: str, kind: str, number: str, name: str,
                                issued: str, expires: str) -> None:
    _record(app, memo, role, kind, number, name, issued, expires, False)


@then(parsers.parse('the certificates of "{name}" are'))
def certificates_are(app: RunningApp, memo: Memo, name: str, datatable: list[list[str]]) -> None:
    expected = [dict(zip(datatable[0], row, strict=True)) for row in datatable[1:]]
    assert [{"number": c["number"], "status": c["status"]} for c in _certificates(app, memo, name)] == expected


@then(parsers.parse('certificate "{number}" of "{name}" is {status}'))
def certificate_is(app: RunningApp, memo: Memo, number: str, name: str, status: str) -> None:
    assert _certificate(app, memo, name, number)["status"] == status


@then(parsers.parse('the certification of "{name}" runs until {day}'))
def certification_until(app: RunningApp, memo: Memo, name: str, day: str) -> None:
    assert _ok(app.call("auditor", "GET", f"/suppliers/{memo.suppliers[name]}"), 200)["certification_expiry"] == day


@then(parsers.parse('procurement can no longer set the certification of "{name}" directly'))
def direct_setting_refused(app: RunningApp, memo: Memo, name: str) -> None:
    response = app.call("procurement", "PATCH", f"/suppliers/{memo.suppliers[name]}/certification",
                        json={"certification_expiry": "2030-01-01"})
    assert response.status_code == 409 and "certificates" in response.json()["detail"], response.text


@then(parsers.parse('a certificate of "{name}" expiring before it was issued is refused naming "{field}"'))
def backwards_certificate_refused(app: RunningApp, memo: Memo, name: str, field: str) -> None:
    response = app.call("quality", "POST", f"/suppliers/{memo.suppliers[name]}/certificates", json={
        "type": "ISO_45001", "number": "S-1", "issuer": "BV", "issued_on": "2026-05-01", "expires_on": "2026-04-01"})
    assert response.status_code == 422 and any(field in e["loc"] for e in response.json()["detail"]), response.text
    response = app.call("quality", "POST", f"/suppliers/{memo.suppliers[name]}/certificates", json={
        "type": "ISO_27001", "number": "S-1", "issuer": "BV", "issued_on": "2026-01-01", "expires_on": "2027-04-01"})
    assert response.status_code == 422 and any("type" in e["loc"] for e in response.json()["detail"]), response.text
    assert app.call("logistics", "POST", f"/suppliers/{memo.suppliers[name]}/certificates", json={
        "type": "ISO_45001", "number": "S-1", "issuer": "BV", "issued_on": "2026-01-01",
        "expires_on": "2027-04-01"}).status_code == 403


@when(parsers.parse('quality renews certificate "{number}" of "{name}" until {day}'))
def renew(app: RunningApp, memo: Memo, number: str, name: str, day: str) -> None:
    certificate = _certificate(app, memo, name, number)
    path = f"/suppliers/{memo.suppliers[name]}/certificates/{certificate['id']}"
    etag = app.call("auditor", "GET", path).headers["ETag"]
    stale = app.call("quality", "PATCH", path, json={"expires_on": day}, headers={"If-Match": '"99"'})
    assert stale.status_code == 412, stale.text
    memo.response = app.call("quality", "PATCH", path, json={"expires_on": day, "reason": "surveillance audit passed"},
                             headers={"If-Match": etag})
    assert _ok(memo.response, 200)["status"] == "VALID"


def _audit_trail(app: RunningApp, memo: Memo, name: str) -> list[dict]:
    supplier = str(memo.suppliers[name])
    entries = _ok(app.call("auditor", "GET", "/audit-log?limit=500"), 200)["items"]
    return sorted((e for e in entries if e["entity_type"] == "supplier" and e["entity_id"] == supplier),
                  key=lambda e: e["id"])


@then(parsers.parse('the audit trail of "{name}" shows {types}'))
def audit_trail_shows(app: RunningApp, memo: Memo, name: str, types: str) -> None:
    assert [e["event_type"] for e in _audit_trail(app, memo, name)] == [t.strip() for t in types.split(",")]


@then(parsers.parse('the audit trail of "{name}" records the change of {field} from {old} to {new}'))
def audit_trail_change(app: RunningApp, memo: Memo, name: str, field: str, old: str, new: str) -> None:
    [update] = [e for e in _audit_trail(app, memo, name) if e["event_type"] == "CERTIFICATE_UPDATED"]
    assert update["details"]["changes"] == [[field, old, new]]
    assert update["details"]["reason"] == "surveillance audit passed" and update["actor"] == "quality"


# --- approval ---------------------------------------------------------------------------------

def _supplier(app: RunningApp, memo: Memo, name: str) -> dict:
    return _ok(app.call("auditor", "GET", f"/suppliers/{memo.suppliers[name]}"), 200)


@then(parsers.parse('"{name}" is {status}'))
def approval_is(app: RunningApp, memo: Memo, name: str, status: str) -> None:
    assert _supplier(app, memo, name)["approval_status"] == status


@then(parsers.parse('"{name}" is {status}, changed by "{actor}" because "{reason}"'))
def approval_is_by(app: RunningApp, memo: Memo, name: str, status: str, actor: str, reason: str) -> None:
    supplier = _supplier(app, memo, name)
    assert (supplier["approval_status"], supplier["status_changed_by"], supplier["status_reason"]) == (
        status, actor, reason)
    assert supplier["status_changed_at"] is not None


@when(parsers.parse('procurement asks quality to set "{name}" to {status} because "{reason}"'))
def ask(app: RunningApp, memo: Memo, name: str, status: str, reason: str) -> None:
    memo.response = app.call("procurement", "POST", f"/suppliers/{memo.suppliers[name]}/approval-requests",
                             json={"status": status, "reason": reason})


@when(parsers.parse('{role} sets "{name}" to {status} because "{reason}"'))
def set_status(app: RunningApp, memo: Memo, role: str, name: str, status: str, reason: str) -> None:
    memo.response = app.call(role, "PATCH", f"/suppliers/{memo.suppliers[name]}/approval",
                             json={"status": status, "reason": reason})
    _ok(memo.response, 200)


@when(parsers.parse('{role} tries to set "{name}" to {status}'))
def try_status(app: RunningApp, memo: Memo, role: str, name: str, status: str) -> None:
    memo.response = app.call(role, "PATCH", f"/suppliers/{memo.suppliers[name]}/approval",
                             json={"status": status, "reason": "trying"})


@then(parsers.parse("the answer is 409 allowing {states}"))
def refused_allowing(memo: Memo, states: str) -> None:
    assert memo.response.status_code == 409, memo.response.text
    assert memo.response.json()["allowed"] == [s.strip() for s in states.split(",")]


@then(parsers.parse('the review of "{name}" names the high non-conformity and left it {status}'))
def review_names_nc(app: RunningApp, memo: Memo, name: str, status: str) -> None:
    [review] = [e for e in _audit_trail(app, memo, name) if e["event_type"] == "SUPPLIER_REVIEW_REQUIRED"]
    assert review["details"]["trigger"] == "HIGH_NC_OPENED"
    assert review["details"]["reference"] == f"nc:{memo.last_nc}"
    assert review["details"]["approval_status"] == status
    published = _ok(app.call("auditor", "GET", "/outbox?status=PUBLISHED&limit=500"), 200)["items"]
    assert [e["event_type"] for e in published].count("SUPPLIER_REVIEW_REQUIRED") == 1


@then(parsers.parse('listing suppliers with "{query}" gives {count:d} of {total:d}'))
def list_suppliers(app: RunningApp, query: str, count: int, total: int) -> None:
    page = _ok(app.call("procurement", "GET", f"/suppliers?{query}"), 200)
    assert (len(page["items"]), page["total"]) == (count, total)
