"""Steps of the idempotency-key and If-Match scenarios (ADR 0020)."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok
from tests.support.harness import RunningApp

scenarios("conditional_requests.feature")


class Sent:
    """The last request sent with a key and its first answer."""

    def __init__(self, role: str, method: str, path: str, body: dict, key: str, response) -> None:
        self.role, self.method, self.path, self.body, self.key, self.response = role, method, path, body, key, response


def _send(app: RunningApp, memo: Memo, role: str, method: str, path: str, body: dict, key: str) -> None:
    memo.response = app.call(role, method, path, json=body, headers={"Idempotency-Key": key})
    memo.sent = Sent(role, method, path, body, key, memo.response)


@when(parsers.parse('with the key "{key}", {role} registers supplier "{name}" certified until {day}'))
def register_with_key(app: RunningApp, memo: Memo, role: str, name: str, day: str, key: str) -> None:
    _send(app, memo, role, "POST", "/suppliers", {"name": name, "certification_expiry": day}, key)
    if memo.response.status_code == 201:
        memo.suppliers[name] = memo.response.json()["id"]


@when(parsers.parse('with the key "{key}", quality raises a {severity} non-conformity against supplier {supplier_id:d}'))
def raise_nc_by_id_with_key(app: RunningApp, memo: Memo, severity: str, supplier_id: int, key: str) -> None:
    _send(app, memo, "quality", "POST", "/ncs",
          {"supplier_id": supplier_id, "severity": severity, "description": f"{severity} finding"}, key)


@when(parsers.parse('with the key "{key}", quality raises a {severity} non-conformity against "{name}"'))
def raise_nc_with_key(app: RunningApp, memo: Memo, severity: str, name: str, key: str) -> None:
    raise_nc_by_id_with_key(app, memo, severity, memo.suppliers[name], key)


@when(parsers.parse("{role} sends the same request again"))
def send_again(app: RunningApp, memo: Memo, role: str) -> None:
    sent = memo.sent
    assert role == sent.role
    # the same body with its keys in another order: the canonical body is what counts
    body = dict(reversed(list(sent.body.items())))
    memo.response = app.call(role, sent.method, sent.path, json=body, headers={"Idempotency-Key": sent.key})


@then("the answer is the first one, replayed")
def replayed(memo: Memo) -> None:
    first, again = memo.sent.response, memo.response
    assert again.headers.get("Idempotent-Replayed") == "true", again.text
    assert (again.status_code, again.json()) == (first.status_code, first.json())
    assert again.headers.get("ETag") == first.headers.get("ETag")


@then(parsers.parse("the answer is {status:d}, not replayed"))
def not_replayed(memo: Memo, status: int) -> None:
    assert memo.response.status_code == status, memo.response.text
    assert "Idempotent-Replayed" not in memo.response.headers


@then(parsers.re(r"(?P<count>\d+) suppliers? (is|are) listed"))
def suppliers_listed(app: RunningApp, count: str) -> None:
    page = _ok(app.call("auditor", "GET", "/suppliers"), 200)
    assert (page["total"], len(page["items"])) == (int(count), int(count))


# --- ETag and If-Match ------------------------------------------------------------------------

@when(parsers.parse('procurement reads supplier "{name}"'))
def read_supplier(app: RunningApp, memo: Memo, name: str) -> None:
    memo.response = app.call("procurement", "GET", f"/suppliers/{memo.suppliers[name]}")
    _ok(memo.response, 200)
    memo.etag = memo.response.headers["ETag"]


@then(parsers.parse('the ETag is "{version}"'))
def etag_is(memo: Memo, version: str) -> None:
    assert memo.response.headers["ETag"] == f'"{version}"'


def _set_certification(app: RunningApp, memo: Memo, name: str, day: str, if_match: str) -> None:
    memo.response = app.call("procurement", "PATCH", f"/suppliers/{memo.suppliers[name]}/certification",
                             json={"certification_expiry": day}, headers={"If-Match": if_match})


@when(parsers.parse('procurement sets the certification to {day} if "{name}" still has the ETag read'))
def set_certification_if_match(app: RunningApp, memo: Memo, name: str, day: str) -> None:
    _set_certification(app, memo, name, day, memo.etag)


@when(parsers.parse('procurement sends If-Match "{value}" to set the certification of "{name}"'))
def set_certification_with(app: RunningApp, memo: Memo, value: str, name: str) -> None:
    _set_certification(app, memo, name, "2030-01-01", value)


@then(parsers.parse('the answer is {status:d} with the ETag "{version}"'))
def answer_with_etag(memo: Memo, status: int, version: str) -> None:
    assert memo.response.status_code == status, memo.response.text
    assert memo.response.headers["ETag"] == f'"{version}"'


@then(parsers.parse('the certification of "{name}" is {day} with the ETag "{version}"'))
def certification_is(app: RunningApp, memo: Memo, name: str, day: str, version: str) -> None:
    assert memo.response.headers["ETag"] == f'"{version}"'  # the 412 tells the current version
    current = app.call("auditor", "GET", f"/suppliers/{memo.suppliers[name]}")
    assert (_ok(current, 200)["certification_expiry"], current.headers["ETag"]) == (day, f'"{version}"')


@when(parsers.parse('quality closes the last non-conformity with If-Match "{version}"'))
def close_nc_if_match(app: RunningApp, memo: Memo, version: str) -> None:
    memo.response = app.call("quality", "PATCH", f"/ncs/{memo.last_nc}/close", headers={"If-Match": f'"{version}"'})
