"""Schemathesis over the live OpenAPI, as admin and anonymously, on SQLite and PostgreSQL: no answer is a
5xx, and every 4xx is JSON with a `detail`. The budget is in budget.py (`make fuzz` runs the long one)."""

from __future__ import annotations

import pytest

from tests.fuzz import budget
from tests.fuzz.runner import Tally, fuzz
from tests.support.harness import RunningApp, running_app

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# what the generated and boundary cases may find: schemathesis' coverage cases use "0" for strings and 1 for ids
SEED_DATA = [
    ("POST", "/suppliers", {"name": "Beta Metals", "certification_expiry": "2026-06-30"}),
    ("POST", "/ncs", {"supplier_id": 1, "severity": "high", "description": "weld porosity"}),
    ("POST", "/orders", {"order_id": "0", "customer_id": "0", "facility_id": "0",
                         "items": [{"sku": "0", "quantity": 2, "unit_price": 1, "sale_price": 2}]}),
    ("POST", "/inventories", {"customer": "0", "expiry_date": "2027-01-31"}),
    ("POST", "/inventories/1/lines", {"product": "bolts M8", "quantity": 5}),
]
LISTS = [*(f"{path}?limit=500" for path in ("/suppliers", "/ncs", "/orders", "/inventories", "/audit-log", "/outbox")),
         "/kpi", "/orders/0/events?include_items=true"]


@pytest.fixture(params=DATABASES)
def app(request: pytest.FixtureRequest) -> RunningApp:
    url = request.getfixturevalue(f"{request.param}_url")
    with running_app(request.param, url) as running:
        for method, path, body in SEED_DATA:
            response = running.call("admin", method, path, json=body)
            assert response.status_code == 201, response.text
        yield running


@pytest.mark.parametrize("caller", ["admin", "anonymous"])
def test_no_input_reaches_a_server_error(app: RunningApp, caller: str, tallies: list[Tally]) -> None:
    headers = {"Authorization": f"Bearer {app.token('admin')}"} if caller == "admin" else {}
    tally = fuzz(app.client.app, Tally(app.stack, caller), headers, budget.examples(), budget.seed())
    tallies.append(tally)
    assert tally.operations > 20 and tally.cases > 500, tally.line()
    assert (tally.server_errors, tally.bad_client_errors) == (0, 0), "\n".join([tally.line(), *tally.failures])
    if caller == "admin":
        _handled_and_read_back(app)


def _handled_and_read_back(app: RunningApp) -> None:
    """The events of the fuzzed writes reach every handler, and every list renders what was stored."""
    app.run_worker()
    assert app.call("admin", "GET", "/kpi").json()["outbox_pending"] == 0
    assert app.call("admin", "GET", "/outbox?status=PUBLISHED&limit=1").json()["total"] > len(SEED_DATA)
    for path in LISTS:
        response = app.call("admin", "GET", path)
        assert response.status_code == 200, f"{path}: {response.text[:300]}"
