"""The console's session and CSRF without a browser (ADR 0030): the cookie's flags and lifetime, expiry,
logout revoking the token, a CSRF mismatch refused before anything runs, the role matrix on the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient

from adapters.inbound.console.pages.overview import GROUPS
from adapters.outbound.security import JwtTokenService
from application.kpi import Kpi
from application.ports.security import Principal
from application.security import credential_of
from domain.roles import Role

from tests.support.harness import PASSWORD, RunningApp, running_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app() -> Iterator[RunningApp]:
    with running_app("memory", "memory://") as running:
        running.call("procurement", "POST", "/suppliers", json={"name": "Beta Metals",
                                                                "certification_expiry": "2026-06-30"})
        yield running


def log_in(client: TestClient, user: str, password: str = PASSWORD, next_page: str = "/console"):
    form = client.get("/console/login")
    return client.post("/console/login", follow_redirects=False, data={
        "username": user, "password": password, "csrf_token": CSRF.search(form.text).group(1), "next": next_page})


def csrf_of(client: TestClient, path: str) -> str:
    return CSRF.search(client.get(path).text).group(1)


def test_the_root_redirects_to_the_console_and_the_console_to_its_login(app: RunningApp) -> None:
    assert app.client.get("/", follow_redirects=False).headers["location"] == "/console"
    answer = app.client.get("/console/ncs", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/login?next=/console/ncs")
    live = app.client.get("/console/overview/live", headers={"HX-Request": "true"}, follow_redirects=False)
    assert live.status_code == 204 and live.headers["hx-redirect"].startswith("/console/login")


def test_the_session_cookie_is_httponly_lax_and_lives_as_long_as_the_token(app: RunningApp) -> None:
    answer = log_in(app.client, "quality")
    assert (answer.status_code, answer.headers["location"]) == (303, "/console")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("supplytrace_console="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert f"Max-Age={app.container.config.jwt_lifetime_seconds()}" in cookie and "Secure" not in cookie
    with TestClient(app.client.app, base_url="https://testserver") as tls:
        assert "Secure" in next(c for c in log_in(tls, "quality").headers.get_list("set-cookie")
                                if c.startswith("supplytrace_console="))


def test_a_wrong_password_or_a_login_form_from_elsewhere_is_refused(app: RunningApp) -> None:
    assert log_in(app.client, "quality", "wrong").status_code == 401
    forged = app.client.post("/console/login", data={"username": "quality", "password": PASSWORD,
                                                     "csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "supplytrace_console=" not in forged.headers.get("set-cookie", "")


def test_login_goes_back_to_a_console_page_only(app: RunningApp) -> None:
    assert log_in(app.client, "quality", next_page="/console/ncs").headers["location"] == "/console/ncs"
    assert log_in(app.client, "quality", next_page="//evil.example/console").headers["location"] == "/console"
    assert log_in(app.client, "quality", next_page="https://evil.example").headers["location"] == "/console"


def test_logout_revokes_the_token_of_the_session(app: RunningApp) -> None:
    log_in(app.client, "admin")
    token = app.client.cookies["supplytrace_console"]
    answer = app.client.post("/console/logout", data={"csrf_token": csrf_of(app.client, "/console")},
                             follow_redirects=False)
    assert answer.status_code == 303 and 'supplytrace_console=""' in answer.headers["set-cookie"]
    app.client.cookies.set("supplytrace_console", token, path="/console")  # replayed after logout
    assert app.client.get("/console", follow_redirects=False).status_code == 303
    assert app.client.get("/kpi", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_expired_session_goes_back_to_the_login(app: RunningApp) -> None:
    account = app.container.users().find("quality")
    expired, _ = JwtTokenService(app.container.config.jwt_secret(), -10).issue(
        Principal("quality", Role.QUALITY), credential_of(account))
    app.client.cookies.set("supplytrace_console", expired, path="/console")
    assert app.client.get("/console/ncs", follow_redirects=False).headers["location"].startswith("/console/login")


def test_a_write_without_this_sessions_csrf_token_is_refused_and_changes_nothing(app: RunningApp) -> None:
    log_in(app.client, "quality")
    form = {"supplier_id": "1", "severity": "high", "description": "porosity"}
    for token in (None, "0" * 64):
        data = form if token is None else {**form, "csrf_token": token}
        assert app.client.post("/console/ncs", data=data, follow_redirects=False).status_code == 403
    assert app.call("quality", "GET", "/ncs").json()["total"] == 0
    ok = app.client.post("/console/ncs", data={**form, "csrf_token": csrf_of(app.client, "/console/ncs")},
                         follow_redirects=False)
    assert (ok.status_code, ok.headers["location"]) == (303, "/console/ncs/1")


def test_forbidden_writes_are_not_offered_and_are_refused(app: RunningApp) -> None:
    app.call("quality", "POST", "/ncs", json={"supplier_id": 1, "severity": "low", "description": "scratch"})
    log_in(app.client, "auditor")
    page = app.client.get("/console/ncs/1").text
    assert 'action="/console/ncs/1/status"' not in page and "Raise a non-conformity" not in page
    csrf = CSRF.search(page).group(1)  # the logout form's: a valid token of this session
    refused = app.client.post("/console/ncs/1/status", data={"csrf_token": csrf, "status": "INVESTIGATING",
                                                             "owner": "auditor"})
    assert refused.status_code == 403 and "may not write_ncs" in refused.text
    assert app.call("quality", "GET", "/ncs/1").json()["status"] == "OPEN"
    order = app.call("logistics", "POST", "/orders", json={"customer_name": "ACME", "address": "1 Dock Road"}).json()
    assert 'data-move=' not in app.client.get(f"/console/orders/{order['id']}").text
    moved = app.client.post(f"/console/orders/{order['id']}/status", data={"csrf_token": csrf, "status": "PICKING"})
    assert moved.status_code == 403 and app.call("logistics", "GET", f"/orders/{order['id']}").json()["status"] == "RECEIVED"
    log_in(app.client, "quality")
    assert 'action="/console/ncs/1/status"' in app.client.get("/console/ncs/1").text


def test_console_pages_have_their_csp_and_the_api_keeps_its_own(app: RunningApp) -> None:
    policy = app.client.get("/console/login").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert app.client.get("/health").headers["content-security-policy"].startswith("default-src 'none'")


def test_every_kpi_is_on_the_overview_once() -> None:
    shown = [key for keys in GROUPS.values() for key in keys]
    assert sorted(shown) == sorted(f.name for f in fields(Kpi))


def test_the_filter_forms_empty_choices_mean_no_filter(app: RunningApp) -> None:
    log_in(app.client, "auditor")
    for path in ("/console/ncs?status=&severity=&q=", "/console/orders?status=&q=",
                 "/console/suppliers?q=&approval=&sort=", "/console/inventories?q=", "/console/ncs?status=BOGUS"):
        assert app.client.get(path).status_code == 200, path
    assert "Beta Metals" in app.client.get("/console/suppliers?q=beta&approval=&sort=-name").text


def test_the_vendored_htmx_is_the_release_the_adr_names_and_no_template_inlines_script_or_style() -> None:
    import hashlib
    from importlib.resources import files

    console = files("adapters.inbound.console")
    htmx = (console / "static" / "htmx.min.js").read_bytes()
    assert hashlib.sha256(htmx).hexdigest() == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert "Zero-Clause BSD" in (console / "static" / "htmx.LICENSE.txt").read_text()
    for template in (console / "templates").iterdir():
        text = template.read_text()
        assert " style=" not in text and "<style" not in text, template.name  # CSP: style-src 'self'
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name  # CSP: script-src 'self'
        assert not re.search(r"\son[a-z]+=", text), template.name  # no inline event handlers
