"""The web console in headless Chromium (issue 16, ADR 0030), against a live server on SQLite and on
PostgreSQL, every request to another host refused and any CSP violation or script error failing the
test: each role's offers, the NC → CAPA → closed walk by clicking, a replay as admin and its refusal as
auditor, the overview's figures against /kpi and its live refresh, the audit record of a console change
with the user's name and the request's correlation id. One browser per module, one live server per
database (the tests of a stack share its data: each makes what it needs)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.harness import PASSWORD, RunningApp, running_app
from tests.support.live_server import live_server

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000

if not CHROMIUM.exists():
    if os.environ.get("SUPPLYTRACE_TEST_REQUIRE_SERVICES") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (make install installs it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, Route, expect, sync_playwright  # noqa: E402

ROLES = ("quality", "procurement", "logistics", "auditor", "admin")


@dataclass
class Console:
    app: RunningApp
    url: str
    browser: Browser
    blocked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sessions: dict[str, Any] = field(default_factory=dict)  # user → cookies of the first login (Argon2 is slow)

    def page(self, user: str, width: int = 1280, height: int = 800) -> Page:
        """A fresh browser context logged in as `user`: through the login form the first time, then with
        the session cookie that login set."""
        context = self.browser.new_context(viewport={"width": width, "height": height},
                                           storage_state=self.sessions.get(user))
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)

        def route(request_route: Route) -> None:
            url = request_route.request.url
            if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
                request_route.continue_()
            else:
                self.blocked.append(url)
                request_route.abort()

        page.route("**/*", route)
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" or
                "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.goto(f"{self.url}/")  # → /console → the login form, unless the session cookie is there
        if user not in self.sessions:
            page.get_by_label("Username").fill(user)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
        expect(page.locator("[data-user]")).to_have_text(user)
        self.sessions[user] = context.storage_state()
        return page

    def api(self, role: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.app.call(role, method, path, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()


def _is_error(problem: str) -> bool:
    # a refused write answers 403/404/409: Chromium logs "Failed to load resource" for it, which is expected
    return "Failed to load resource" not in problem


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(request: pytest.FixtureRequest, browser: Browser, tmp_path_factory: pytest.TempPathFactory,
            sqlite_template) -> Iterator[Console]:
    if request.param == "sqlite":
        url = sqlite_template.fresh(tmp_path_factory.mktemp("console"))
    else:
        database = request.getfixturevalue("postgres_database")
        database.truncate()
        url = database.url
    with running_app(request.param, url) as app, live_server(app.client.app) as base:
        running = Console(app, base, browser)
        running.api("procurement", "POST", "/suppliers", json={"name": "Beta Metals",
                                                               "certification_expiry": "2027-06-30"})
        running.api("procurement", "POST", "/suppliers", json={"name": "Old Steel",
                                                               "certification_expiry": "2025-01-31"})
        running.api("quality", "POST", "/ncs", json={"supplier_id": 2, "severity": "high", "description": "cracks"})
        running.api("logistics", "POST", "/orders", json={"customer_name": "ACME", "address": "1 Dock Road", "items": [
            {"sku": "BOLT-8", "quantity": 40, "unit_price": "0.10", "sale_price": "0.25"}]})
        running.api("logistics", "POST", "/inventories", json={"customer": "ACME", "expiry_date": "2026-12-31"})
        app.run_worker()
        yield running


@pytest.fixture(autouse=True)
def offline(console: Console) -> Iterator[None]:
    """After each test: no request left the server, no CSP violation, no script error."""
    console.blocked.clear()
    console.problems.clear()
    yield
    assert console.blocked == [], console.blocked
    assert [p for p in console.problems if _is_error(p)] == [], console.problems


def test_each_role_is_offered_what_the_role_matrix_allows(console: Console) -> None:
    nc = console.api("quality", "POST", "/ncs", json={"supplier_id": 1, "severity": "low", "description": "dent"})
    console.app.run_worker()
    for role in ROLES:
        page = console.page(role)
        nav = page.get_by_role("navigation", name="Console")
        expect(nav.get_by_role("link", name="Delivery")).to_have_count(1 if role in ("auditor", "admin") else 0)
        tiles = page.locator("[data-kpi='nc_open']")
        expect(tiles).to_have_count(1 if role in ("quality", "auditor", "admin") else 0)
        page.goto(f"{console.url}/console/ncs/{nc['id']}")
        writer = role in ("quality", "admin")
        expect(page.locator("form[data-step]")).to_have_count(3 if writer else 0)  # INVESTIGATING, CLOSED, CANCELLED
        expect(page.get_by_role("button", name="Plan the action")).to_have_count(1 if writer else 0)
        expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
        expect(page.locator("tr[data-audit]")).to_have_count(
            1 if role in ("auditor", "admin") else 0)
        page.goto(f"{console.url}/console/ncs")
        expect(page.get_by_role("heading", name="Raise a non-conformity")).to_have_count(1 if writer else 0)
        page.context.close()


def test_the_nc_capa_cycle_by_clicking_and_its_audit_trail(console: Console) -> None:
    quality = console.page("quality")
    quality.goto(f"{console.url}/console/ncs")
    form = quality.get_by_role("region", name="Raise a non-conformity")
    form.get_by_label("Supplier").select_option(label="Beta Metals (#1)")
    form.get_by_label("Severity").select_option("high")
    form.get_by_label("Description").fill("porosity in resin lot 41")
    form.get_by_role("button", name="Raise").click()
    status = quality.locator("[data-nc-status]")
    expect(status).to_have_text("OPEN")
    nc_id = int(re.search(r"/console/ncs/(\d+)$", quality.url).group(1))

    with quality.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/status")) as posted:
        quality.get_by_role("button", name="Start the investigation").click()
    correlation_id = posted.value.headers["x-correlation-id"]
    expect(status).to_have_text("INVESTIGATING")

    quality.get_by_label("Root cause").select_option("MATERIAL")
    quality.get_by_label("Analysis").fill("resin stored wet")
    quality.get_by_label("Method").select_option("FIVE_WHYS")
    quality.get_by_role("button", name="Record the investigation").click()
    quality.get_by_label("Description").fill("dry every lot before moulding")
    quality.get_by_label("Effectiveness criteria").fill("no porosity in 3 lots")
    quality.get_by_role("button", name="Plan the action").click()
    action = quality.locator("tr[data-action='1']")
    expect(action.locator("[data-action-status]")).to_have_text("PLANNED")
    quality.get_by_role("button", name="Mark the action planned").click()
    expect(status).to_have_text("ACTION_PLANNED")
    action.get_by_role("button", name="In progress").click()
    action.get_by_label("What was done").fill("oven drying added to the procedure")
    action.get_by_role("button", name="Done").click()
    expect(action.locator("[data-action-status]")).to_have_text("DONE")
    expect(action.get_by_role("button", name="Verified")).to_have_count(0)  # its owner may not check it

    admin = console.page("admin")
    admin.goto(f"{console.url}/console/ncs/{nc_id}")
    checked = admin.locator("tr[data-action='1']")
    checked.get_by_label("Result").first.fill("no porosity in lots 41-43")
    checked.get_by_role("button", name="Verified").click()
    expect(checked.locator("[data-action-status]")).to_have_text("VERIFIED")

    quality.reload()
    quality.get_by_label("Closure note").fill("corrective action effective")
    quality.get_by_role("button", name="Close").click()
    expect(status).to_have_text("CLOSED")
    expect(quality.locator("form[data-step]")).to_have_count(1)  # only the reopening is left

    console.app.run_worker()  # the handlers write the audit records
    records = console.api("auditor", "GET", f"/audit-log?entity_type=nc&entity_id={nc_id}&limit=50")["items"]
    started = [r for r in records if r["event_type"] == "NC_STATUS_CHANGED" and r["changes"][0][2] == "INVESTIGATING"]
    assert [(r["actor"], r["correlation_id"]) for r in started] == [("quality", correlation_id)]
    assert {r["actor"] for r in records if r["event_type"] == "NC_ACTION_STATUS_CHANGED"} == {"quality", "admin"}
    admin.reload()
    row = admin.locator("tr[data-audit='NC_STATUS_CHANGED']", has_text=correlation_id)
    expect(row.locator("[data-actor]")).to_have_text("quality")
    for page in (quality, admin):
        page.context.close()


def _fail_one_event(console: Console) -> str:
    """A supplier created while a downstream handler is down: its event ends FAILED."""
    app = console.app
    supplier = console.api("procurement", "POST", "/suppliers", json={"name": "Flaky Parts",
                                                                      "certification_expiry": "2027-01-31"})
    app.failure.failing = True
    try:
        for _ in range(24):  # out of attempts after 1 + 2 + 4 + 8 s of backoff
            app.run_worker()
            app.clock.advance(5)
    finally:
        app.failure.failing = False
    failed = console.api("admin", "GET", f"/events?aggregate_type=supplier&aggregate_id={supplier['id']}&status=FAILED")
    [event] = failed["items"]
    return event["event_id"]


def test_a_failed_event_is_replayed_by_admin_after_confirming_and_refused_to_auditor(console: Console) -> None:
    event_id = _fail_one_event(console)
    auditor = console.page("auditor")
    auditor.goto(f"{console.url}/console/delivery")
    auditor.locator(f"tr[data-event='{event_id}'] a").click()
    expect(auditor.locator("[data-event-status]")).to_have_text("FAILED")
    expect(auditor.locator("form[data-decision]")).to_have_count(0)
    csrf = auditor.locator("input[name=csrf_token]").first.get_attribute("value")  # the logout form's
    refused = auditor.request.post(f"{console.url}/console/delivery/events/{event_id}/replay",
                                   form={"csrf_token": csrf, "reason": "try", "confirmed": "yes"})
    assert refused.status == 403
    auditor.context.close()

    admin = console.page("admin")
    admin.goto(f"{console.url}/console/delivery/events/{event_id}")
    admin.get_by_label("Why replay it").fill("handler fixed in 1.4.2")
    admin.get_by_role("button", name="Replay…").click()
    expect(admin.get_by_role("heading", name="Replay this event?")).to_be_visible()
    assert console.api("admin", "GET", f"/events/{event_id}")["event"]["status"] == "FAILED"  # not yet
    admin.get_by_role("button", name="Yes, replay it").click()
    expect(admin.locator("[data-event-status]")).to_have_text("PENDING")
    expect(admin.locator("tr[data-step='REPLAYED']")).to_have_count(1)
    console.app.run_worker()
    admin.reload()
    expect(admin.locator("[data-event-status]")).to_have_text("PUBLISHED")
    replays = console.api("auditor", "GET", f"/audit-log?event_type=EVENT_REPLAYED&entity_id={event_id}")["items"]
    assert [(r["actor"], r["reason"]) for r in replays] == [("admin", "handler fixed in 1.4.2")]
    admin.context.close()


def _flat(figures: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": json.dumps(v) for k, v in value.items()})
        else:
            out[key] = json.dumps(value)
    return out


def test_the_overview_shows_the_figures_of_kpi_and_refreshes_without_a_reload(console: Console) -> None:
    page = console.page("auditor")
    shown = page.locator("[data-kpi]").evaluate_all(
        "nodes => Object.fromEntries(nodes.map(n => [n.dataset.kpi, n.dataset.value]))")
    assert shown == _flat(console.api("auditor", "GET", "/kpi"))
    for key in ("nc_open", "outbox_failed", "suppliers_at_risk", "audit_events_total"):
        assert page.locator(f"[data-kpi='{key}']").inner_text() == shown[key]
    expect(page.locator("figure.chart svg")).to_have_count(4)  # weekly NCs, orders, backlog, latency

    page.evaluate("window.notReloaded = true")
    before = int(shown["nc_open"])
    console.api("quality", "POST", "/ncs", json={"supplier_id": 1, "severity": "medium", "description": "burr"})
    expect(page.locator("[data-kpi='nc_open']")).to_have_text(str(before + 1), timeout=12_000)  # htmx polls
    assert page.evaluate("window.notReloaded") is True
    page.context.close()


def test_keyboard_and_narrow_screen(console: Console) -> None:
    page = console.page("quality", width=390, height=844)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for path in ("/console", "/console/ncs"):
        page.goto(f"{console.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
        expect(page.locator("footer [data-read-at]")).to_be_visible()
    page.context.close()


def test_an_order_moved_by_clicking_and_the_supplier_and_inventory_pages(console: Console) -> None:
    logistics = console.page("logistics")
    logistics.get_by_role("link", name="Orders").click()
    received = logistics.locator("[data-column='RECEIVED']")
    received.get_by_role("link", name=re.compile("ACME")).first.click()
    status = logistics.locator("[data-order-status]")
    expect(status).to_have_text("RECEIVED")
    logistics.get_by_role("button", name="Move to Picking").click()
    expect(status).to_have_text("PICKING")
    expect(logistics.get_by_role("button", name="Move to In transit")).to_have_count(0)  # the item is not picked
    logistics.locator("tr[data-item='BOLT-8']").get_by_role("button", name="Picked").click()
    logistics.get_by_role("button", name="Move to In transit").click()
    expect(status).to_have_text("IN_TRANSIT")
    console.app.run_worker()  # the history handler records the journey
    logistics.reload()
    for step in ("PICKING", "PICKED", "IN_TRANSIT"):  # the order's and its item's moves, with who made them
        expect(logistics.locator(f"tr[data-journey='{step}']").first).to_contain_text("logistics")

    logistics.get_by_role("link", name="Suppliers").click()
    logistics.get_by_label("Name contains").fill("old")
    logistics.get_by_role("button", name="Show").click()
    row = logistics.locator("tr[data-supplier]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-at-risk]")).to_have_text("at risk")  # expired certification, an open high NC
    row.get_by_role("link", name="Old Steel").click()
    expect(logistics.get_by_role("heading", name="Certificates")).to_be_visible()
    expect(logistics.get_by_role("heading", name="Scorecard")).to_be_visible()

    logistics.get_by_role("link", name="Inventories").click()
    expect(logistics.locator("[data-projection-lag]")).to_contain_text("projection")
    logistics.get_by_role("link", name=re.compile(r"^#\d+$")).first.click()
    expect(logistics.get_by_role("heading", name=re.compile("Inventory #"))).to_be_visible()
    logistics.context.close()
