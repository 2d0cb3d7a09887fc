"""/docs in headless Chromium with every request to another host refused: the Swagger UI loads from
the server's own assets, authorises with the password flow and executes `GET /kpi`; /redoc renders
too (issue 13: both loaded from a CDN and were blank without internet). Debian's chromium, installed
by `make install`; the test is skipped only outside CI when /usr/bin/chromium is missing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.harness import PASSWORD, running_app
from tests.support.live_server import live_server

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 15_000
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"

if not CHROMIUM.exists():
    if os.environ.get("SUPPLYTRACE_TEST_REQUIRE_SERVICES") == "1":
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (make install installs it)", allow_module_level=True)

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402


def _offline(page: Page, blocked: list[str], problems: list[str]) -> None:
    """Requests to any host but 127.0.0.1 are aborted (and remembered); CSP violations and page errors too."""

    def route(request_route: Route) -> None:
        url = request_route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    page.route("**/*", route)
    def console(message: Any) -> None:
        if REDOCLY_LOGO in message.text:
            return  # ReDoc's "API docs by Redocly" image, from their CDN: refused by img-src, then hidden
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))


def test_swagger_ui_works_offline_authorises_and_executes_get_kpi() -> None:
    with running_app("memory", "memory://") as app, live_server(app.client.app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            blocked: list[str] = []
            problems: list[str] = []
            _offline(page, blocked, problems)

            page.goto(f"{url}/docs")
            page.locator(".swagger-ui .info .title").filter(has_text="SupplyTrace").wait_for()

            # Authorize: the OAuth2 password flow, as a user of the docs does it
            page.locator(".auth-wrapper button.authorize").click()
            dialog = page.locator(".dialog-ux .modal-ux")
            dialog.locator("#oauth_username").fill("auditor")
            dialog.locator("#oauth_password").fill(PASSWORD)
            dialog.locator("button.authorize").click()
            dialog.locator("h6").filter(has_text="Authorized").wait_for()  # shown once the token came back
            dialog.locator("button.btn-done").click()

            # GET /kpi from the UI
            operation = page.locator("#operations-operations-kpi")
            operation.locator(".opblock-summary").click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            response = operation.locator(".live-responses-table .response")
            response.locator(".response-col_status").filter(has_text="200").wait_for()
            body = response.locator(".response-col_description pre").first.inner_text()
            for key in ("nc_open", "nc_open_high", "outbox_pending", "outbox_failed", "suppliers_at_risk",
                        "audit_events_total"):
                assert f'"{key}"' in body, body

            # ReDoc renders the same document from the local bundle
            page.goto(f"{url}/redoc")
            page.locator(".api-info h1").filter(has_text="SupplyTrace").wait_for()
            page.get_by_text("list_suppliers").or_(page.get_by_text("List Suppliers")).first.wait_for(
                state="attached")

            assert blocked == [], blocked  # the pages asked for nothing outside the server
            assert problems == [], problems  # no CSP violation, no script error
        finally:
            browser.close()
