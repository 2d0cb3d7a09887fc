"""`make screenshots`: PNGs of the console's main pages in docs/screenshots/ (README "Web console").

A scratch SQLite database with a few weeks of made-up activity (suppliers, NCs opened and closed, a CAPA
in progress, orders, one FAILED event), the app on a live server, and Debian's chromium through
Playwright, as in tests/integration/test_console.py. Nothing leaves the machine."""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from adapters.outbound.sqlalchemy import migrate  # noqa: E402
from adapters.outbound.sqlalchemy.engine import create_engine  # noqa: E402
from tests.support.harness import PASSWORD, RunningApp, running_app  # noqa: E402
from tests.support.live_server import live_server  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the Monday eleven weeks before the harness's "now"


def api(app: RunningApp, role: str, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    answer = app.call(role, method, path, **kwargs)
    assert answer.status_code < 300, answer.text
    return answer.json()


def seed(app: RunningApp) -> None:
    now = app.clock.current
    app.clock.current = START
    for name, expiry in (("Beta Metals", "2027-06-30"), ("Old Steel", "2026-02-28"), ("Nordic Resins", "2026-12-31"),
                         ("Precision Cast", "2027-03-31")):
        api(app, "procurement", "POST", "/suppliers", json={"name": name, "certification_expiry": expiry})
    for week in range(10):
        for n in range(1 + week % 3):
            nc = api(app, "quality", "POST", "/ncs", json={"supplier_id": 1 + (week + n) % 4,
                                                           "severity": ("low", "medium", "high")[(week + n) % 3],
                                                           "description": f"lot {40 + week}: defect {n + 1}"})
            if (week + n) % 2 == 0 and week < 8:
                app.clock.advance(2 * 86400)
                api(app, "quality", "PATCH", f"/ncs/{nc['id']}/close")
        app.clock.current = START + timedelta(weeks=week + 1)
        app.run_worker()
    app.clock.current = now
    nc = api(app, "quality", "POST", "/ncs", json={"supplier_id": 3, "severity": "high",
                                                   "description": "porosity in resin lot 41"})
    api(app, "quality", "PATCH", f"/ncs/{nc['id']}/status", json={"status": "INVESTIGATING", "owner": "quality"})
    api(app, "quality", "PATCH", f"/ncs/{nc['id']}", json={"root_cause_category": "MATERIAL",
                                                           "root_cause_analysis": "resin stored wet",
                                                           "rca_method": "FIVE_WHYS"})
    api(app, "quality", "POST", f"/ncs/{nc['id']}/actions", json={
        "type": "CORRECTIVE", "description": "dry every lot before moulding", "owner": "procurement",
        "due_date": "2026-03-24", "effectiveness_criteria": "no porosity in 3 lots"})
    api(app, "quality", "POST", f"/ncs/{nc['id']}/actions", json={
        "type": "CONTAINMENT", "description": "quarantine lot 41", "owner": "logistics", "due_date": "2026-03-10"})
    api(app, "quality", "PATCH", f"/ncs/{nc['id']}/status", json={"status": "ACTION_PLANNED"})
    for n, customer in enumerate(("ACME", "Globex", "Initech", "Umbrella", "Stark")):
        order = api(app, "logistics", "POST", "/orders", json={"customer_name": customer, "address": "1 Dock Road",
                                                               "items": [{"sku": f"BOLT-{n}", "quantity": 10 * (n + 1),
                                                                          "unit_price": "0.10", "sale_price": "0.25"}]})
        if n >= 2:
            api(app, "logistics", "PATCH", f"/orders/{order['id']}/status", json={"status": "PICKING"})
        if n >= 4:
            api(app, "logistics", "PATCH", f"/orders/{order['id']}/items/BOLT-{n}/status", json={"status": "PICKED"})
            api(app, "logistics", "PATCH", f"/orders/{order['id']}/status", json={"status": "IN_TRANSIT"})
    api(app, "logistics", "POST", "/inventories", json={"customer": "ACME", "expiry_date": "2026-12-31"})
    api(app, "logistics", "POST", "/inventories/1/lines", json={"product": "bolt M8", "quantity": 400})
    app.run_worker()
    app.clock.advance(86400 * 3)  # the containment action is now overdue
    api(app, "procurement", "POST", "/suppliers", json={"name": "Flaky Parts", "certification_expiry": "2027-01-31"})
    app.failure.failing = True
    for _ in range(24):
        app.run_worker()
        app.clock.advance(5)
    app.failure.failing = False
    return nc["id"]


def shoot(page: Page, url: str, name: str, full: bool = True) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(OUT / f"{name}.png")


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/screenshots.db"
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        with running_app("sqlite", url) as app, live_server(app.client.app) as base, sync_playwright() as pw:
            nc_id = seed(app)
            [failed] = api(app, "admin", "GET", "/events?status=FAILED")["items"]
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.route("**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort())
            shoot(page, f"{base}/console/login", "login", full=False)
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{base}/console")
            shoot(page, f"{base}/console", "overview")
            shoot(page, f"{base}/console/ncs", "nc-board")
            shoot(page, f"{base}/console/ncs/{nc_id}", "nc")
            shoot(page, f"{base}/console/suppliers", "suppliers")
            shoot(page, f"{base}/console/suppliers/2", "supplier")
            shoot(page, f"{base}/console/orders", "orders")
            [order] = api(app, "admin", "GET", "/orders?status=IN_TRANSIT")["items"]
            shoot(page, f"{base}/console/orders/{order['id']}", "order")
            shoot(page, f"{base}/console/inventories", "inventories")
            shoot(page, f"{base}/console/delivery", "delivery")
            shoot(page, f"{base}/console/delivery/events/{failed['event_id']}", "event")
            page.get_by_label("Why replay it").fill("handler fixed in 1.4.2")
            page.get_by_role("button", name="Replay…").click()
            page.screenshot(path=str(OUT / "replay-confirm.png"))
            print(OUT / "replay-confirm.png")
            narrow = browser.new_context(viewport={"width": 390, "height": 844},
                                         storage_state=context.storage_state()).new_page()
            shoot(narrow, f"{base}/console", "overview-narrow")
            browser.close()


if __name__ == "__main__":
    main()
