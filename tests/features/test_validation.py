"""Input validation on every stack; the steps below send raw JSON text, so a lone surrogate escape arrives as sent."""

from __future__ import annotations

from pytest_bdd import parsers, scenarios, then, when

from tests.support.harness import RunningApp

scenarios("validation.feature")


@when(parsers.parse('{role} sends {method} "{path}" with {body}'))
def send_raw(app: RunningApp, memo, role: str, method: str, path: str, body: str) -> None:
    memo.response = app.call(role, method, path, content=body.encode("ascii"),
                             headers={"Content-Type": "application/json"})


@then("nothing was written")
def nothing_written(app: RunningApp) -> None:
    """Every write records an event: only the Background's registration is in the outbox."""
    def page(path: str) -> dict:
        response = app.call("auditor", "GET", path)
        assert response.status_code == 200, response.text
        return response.json()

    assert [e["event_type"] for e in page("/outbox?limit=500")["items"]] == ["SUPPLIER_CREATED"]
    assert [s["name"] for s in page("/suppliers")["items"]] == ["Beta Metals"]
    assert page("/suppliers/1")["certification_expiry"] == "2026-06-30"
    assert (page("/ncs")["total"], page("/orders")["total"]) == (0, 0)
