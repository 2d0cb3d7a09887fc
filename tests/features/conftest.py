"""Shared steps. Every scenario runs once per stack: memory, SQLite, PostgreSQL, PostgreSQL + Kafka and
PostgreSQL + RabbitMQ."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jwt
import pytest
from pytest_bdd import given, parsers, then, when

from application.ports.outbox import OutboxFilter
from tests.support.harness import PASSWORD, RunningApp, rabbitmq_overrides, running_app

STACKS = ["memory", "sqlite", "postgres", "postgres+kafka", "postgres+rabbitmq"]


@pytest.fixture(params=STACKS, autouse=True)
def app(request: pytest.FixtureRequest) -> RunningApp:
    stack = request.param
    overrides: dict[str, Any] = {}
    if stack == "memory":
        url = "memory://"
    elif stack == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
    if stack == "postgres+kafka":
        test_id = uuid.uuid4().hex[:12]
        overrides = {
            "event_mode": "kafka",
            "kafka_bootstrap_servers": request.getfixturevalue("kafka_broker").bootstrap_servers,
            "kafka_topic_prefix": f"t{test_id}",  # each scenario its own topics and group
            "kafka_consumer_group": f"g{test_id}",
            "kafka_session_timeout_ms": 2000,
            "kafka_delivery_timeout_ms": 5000,
        }
    if stack == "postgres+rabbitmq":
        overrides = rabbitmq_overrides(request.getfixturevalue("rabbitmq").url)
    if request.node.get_closest_marker("fulfilment_auto"):
        overrides["fulfilment_auto"] = True
    with running_app(stack, url, **overrides) as running:
        yield running


class Memo:
    """What a scenario remembers: the last answer and the ids behind names."""

    def __init__(self) -> None:
        self.response: Any = None
        self.suppliers: dict[str, int] = {}
        self.last_nc: int | None = None
        self.last_order: str | None = None
        self.token: str | None = None
        self.event_id: str | None = None
        self.dead_letter: int | None = None


@pytest.fixture
def memo() -> Memo:
    return Memo()


def _ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    return response.json()


# --- time -------------------------------------------------------------------------------------

@given(parsers.parse("today is {day}"))
@when(parsers.parse("the date becomes {day}"))
def today_is(app: RunningApp, day: str) -> None:
    app.clock.current = datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).replace(hour=9)


@given("a minute has passed")
@when("a minute passes")
def a_minute_passes(app: RunningApp) -> None:
    app.clock.advance(60)


# --- suppliers --------------------------------------------------------------------------------

@when(parsers.parse('procurement registers supplier "{name}" certified until {day}'))
@given(parsers.parse('procurement has registered supplier "{name}" certified until {day}'))
def register_supplier(app: RunningApp, memo: Memo, name: str, day: str) -> None:
    memo.response = app.call("procurement", "POST", "/suppliers", json={"name": name, "certification_expiry": day})
    memo.suppliers[name] = _ok(memo.response, 201)["id"]


@when(parsers.parse('procurement sets the certification of "{name}" to {day}'))
@given(parsers.parse('procurement has set the certification of "{name}" to {day}'))
def set_certification(app: RunningApp, memo: Memo, name: str, day: str) -> None:
    memo.response = app.call("procurement", "PATCH", f"/suppliers/{memo.suppliers[name]}/certification",
                             json={"certification_expiry": day})
    _ok(memo.response, 200)


@then(parsers.re(r'supplier "(?P<name>[^"]+)" (?P<risk>is|is not) at risk'))
def supplier_risk(app: RunningApp, memo: Memo, name: str, risk: str) -> None:
    supplier = _ok(app.call("quality", "GET", f"/suppliers/{memo.suppliers[name]}"), 200)
    assert supplier["at_risk"] is (risk == "is")
    listed = _ok(app.call("quality", "GET", "/suppliers"), 200)["items"]
    assert [s["at_risk"] for s in listed if s["name"] == name] == [risk == "is"]


# --- non-conformities ------------------------------------------------------------------------

def _raise_nc(app: RunningApp, memo: Memo, supplier_id: int, severity: str) -> None:
    memo.response = app.call("quality", "POST", "/ncs", json={
        "supplier_id": supplier_id, "severity": severity, "description": f"{severity} finding"})
    if memo.response.status_code == 201:
        memo.last_nc = memo.response.json()["id"]


@when(parsers.parse('quality raises a {severity} non-conformity against "{name}"'))
def raise_nc(app: RunningApp, memo: Memo, severity: str, name: str) -> None:
    _raise_nc(app, memo, memo.suppliers[name], severity)


@given(parsers.parse('quality has raised a {severity} non-conformity against "{name}"'))
def raised_nc(app: RunningApp, memo: Memo, severity: str, name: str) -> None:
    _raise_nc(app, memo, memo.suppliers[name], severity)
    _ok(memo.response, 201)


@when(parsers.parse("quality raises a {severity} non-conformity against supplier {supplier_id:d}"))
def raise_nc_by_id(app: RunningApp, memo: Memo, severity: str, supplier_id: int) -> None:
    _raise_nc(app, memo, supplier_id, severity)


@when("quality closes the last non-conformity")
@given("quality has closed the last non-conformity")
def close_last_nc(app: RunningApp, memo: Memo) -> None:
    memo.response = app.call("quality", "PATCH", f"/ncs/{memo.last_nc}/close")


@when(parsers.parse("quality closes non-conformity {nc_id:d}"))
def close_nc(app: RunningApp, memo: Memo, nc_id: int) -> None:
    memo.response = app.call("quality", "PATCH", f"/ncs/{nc_id}/close")


@then(parsers.parse("the non-conformity is {status}"))
def nc_status(app: RunningApp, memo: Memo, status: str) -> None:
    assert memo.response.json()["status"] == status
    assert _ok(app.call("auditor", "GET", f"/ncs/{memo.last_nc}"), 200)["status"] == status


@then(parsers.parse('listing non-conformities with "{query}" gives {count:d} of {total:d}'))
def list_ncs(app: RunningApp, query: str, count: int, total: int) -> None:
    page = _ok(app.call("auditor", "GET", f"/ncs?{query}"), 200)
    assert (len(page["items"]), page["total"]) == (count, total)


@then(parsers.parse('listing non-conformities of "{name}" gives {count:d} of {total:d}'))
def list_ncs_of_supplier(app: RunningApp, memo: Memo, name: str, count: int, total: int) -> None:
    list_ncs(app, f"supplier_id={memo.suppliers[name]}", count, total)


# --- answers and KPIs -------------------------------------------------------------------------

@then(parsers.parse("the answer is {status:d}"))
def answer_is(memo: Memo, status: int) -> None:
    assert memo.response.status_code == status, memo.response.text
    assert memo.response.status_code < 400 or "detail" in memo.response.json()


@then(parsers.parse('the answer is 422 naming "{field}"'))
def answer_names_field(memo: Memo, field: str) -> None:
    assert memo.response.status_code == 422, memo.response.text
    detail = memo.response.json()["detail"]
    assert any(field in entry["loc"] for entry in detail), detail


def kpis(app: RunningApp) -> dict[str, int]:
    return _ok(app.call("auditor", "GET", "/kpi"), 200)


@then(parsers.parse('the KPI "{key}" is {value}'))
def kpi_is(app: RunningApp, key: str, value: str) -> None:
    """`key` may name a nested figure: "orders_by_status.DELIVERED"; `value` is JSON: 1, 0.25, null."""
    figure: Any = kpis(app)
    for part in key.split("."):
        figure = figure[part]
    assert figure == json.loads(value), (key, figure)


@then("the KPIs are")
def kpis_are(app: RunningApp, datatable: list[list[str]]) -> None:
    expected = {key: int(value) for key, value in zip(datatable[0], datatable[1], strict=True)}
    actual = kpis(app)
    assert {key: actual[key] for key in expected} == expected


@then("the KPIs can be read by auditor, quality and admin")
def kpis_readable(app: RunningApp) -> None:
    for role in ("auditor", "quality", "admin"):
        _ok(app.call(role, "GET", "/kpi"), 200)


@then("the KPIs are refused to procurement and logistics")
def kpis_refused(app: RunningApp) -> None:
    for role in ("procurement", "logistics"):
        assert app.call(role, "GET", "/kpi").status_code == 403


# --- outbox, worker, audit -------------------------------------------------------------------

@when("the worker runs")
@given("the worker has run")
def worker_runs(app: RunningApp) -> None:
    app.run_worker()


@when(parsers.parse("the worker keeps running for {minutes:d} minutes"))
@given(parsers.parse("the worker keeps running for {minutes:d} minutes"))
def worker_keeps_running(app: RunningApp, minutes: int) -> None:
    end = app.clock.now() + timedelta(minutes=minutes)
    while app.clock.now() < end:
        app.run_worker()
        app.clock.advance(5)


def outbox(app: RunningApp, status: str) -> list[dict]:
    return _ok(app.call("auditor", "GET", f"/outbox?status={status}&limit=500"), 200)["items"]


@then(parsers.re(r"(?P<count>\d+) events? (is|are) waiting in the outbox"))
def waiting(app: RunningApp, count: str) -> None:
    assert len(outbox(app, "PENDING")) == int(count)
    assert kpis(app)["outbox_pending"] == int(count)


@then("no event is waiting in the outbox")
def none_waiting(app: RunningApp) -> None:
    waiting(app, "0")


@then(parsers.parse('{count:d} events are waiting in the outbox with {attempts:d} attempt and the error "{error}"'))
def waiting_with_error(app: RunningApp, count: int, attempts: int, error: str) -> None:
    pending = outbox(app, "PENDING")
    assert len(pending) == count
    assert all(e["attempts"] == attempts and error in e["last_error"] for e in pending), pending


@then(parsers.parse("the auditor sees {count:d} FAILED events in the outbox"))
def failed_events(app: RunningApp, count: int) -> None:
    failed = outbox(app, "FAILED")
    assert len(failed) == count
    assert all(e["attempts"] == 5 and e["last_error"] for e in failed)


def audit(app: RunningApp) -> list[dict]:
    return _ok(app.call("auditor", "GET", "/audit-log?limit=500"), 200)["items"]


@then("the audit log is empty")
def audit_empty(app: RunningApp) -> None:
    assert audit(app) == []


@then(parsers.parse('the audit log holds {count:d} record for "{event_type}" by "{actor}"'))
def audit_holds(app: RunningApp, count: int, event_type: str, actor: str) -> None:
    entries = audit(app)
    assert [(e["event_type"], e["actor"]) for e in entries] == [(event_type, actor)] * count


@then(parsers.parse("the audit log holds one record per event: {types}"))
def audit_one_per_event(app: RunningApp, types: str) -> None:
    everything = audit(app)
    entries = [e for e in everything if e["entity_type"] != "event"]  # not the operators' replays of events
    published = outbox(app, "PUBLISHED")
    assert sorted(e["event_type"] for e in entries) == sorted(t.strip() for t in types.split(","))
    assert sorted(e["event_id"] for e in entries) == sorted(e["event_id"] for e in published)
    assert kpis(app)["audit_events_total"] == len(everything)


@when("every published event is delivered again")
def deliver_again(app: RunningApp) -> None:
    records = app.container.outbox_queries().list(OutboxFilter(), _page()).items
    app.deliver([r.envelope for r in records])


def _page():
    from application.pagination import PageRequest

    return PageRequest(limit=500)


@given("a downstream handler is failing")
def handler_failing(app: RunningApp) -> None:
    app.failure.failing = True


@when("the downstream handler recovers")
def handler_recovers(app: RunningApp) -> None:
    app.failure.failing = False


@when("the admin replays every FAILED event")
def replay_all(app: RunningApp) -> None:
    for event in outbox(app, "FAILED"):
        replayed = _ok(app.call("admin", "POST", f"/events/{event['event_id']}/replay",
                                json={"reason": "the downstream system is back"}), 200)
        assert (replayed["before"], replayed["after"]) == ("FAILED", "PENDING")


@then("the auditor may not replay a FAILED event")
def auditor_cannot_replay(app: RunningApp) -> None:
    event = outbox(app, "FAILED")[0]
    for path in (f"/events/{event['event_id']}/replay", f"/outbox/{event['event_id']}/replay"):
        assert app.call("auditor", "POST", path, json={"reason": "x"}).status_code == 403
    assert outbox(app, "FAILED")[0]["status"] == "FAILED"


# --- access control ---------------------------------------------------------------------------

ACTIONS: dict[str, tuple[str, str, dict | None]] = {
    "register a supplier": ("POST", "/suppliers", {"name": "Gamma", "certification_expiry": "2026-12-31"}),
    "raise a non-conformity": ("POST", "/ncs", {"supplier_id": 1, "severity": "low", "description": "x"}),
    "update a certification": ("PATCH", "/suppliers/1/certification", {"certification_expiry": "2027-01-01"}),
    "list suppliers": ("GET", "/suppliers", None),
    "list non-conformities": ("GET", "/ncs", None),
    "read the audit log": ("GET", "/audit-log", None),
    "verify the audit log": ("GET", "/audit-log/verify", None),
    "read the outbox": ("GET", "/outbox", None),
}


@when(parsers.parse("{role} tries to {action}"))
def role_tries(app: RunningApp, memo: Memo, role: str, action: str) -> None:
    method, path, body = ACTIONS[action]
    memo.response = app.call(role, method, path, json=body)


def _forged(app: RunningApp, kind: str) -> str | None:
    secret = app.container.config.jwt_secret()
    now = datetime.now(UTC)
    claims = {"sub": "quality", "role": "quality", "iss": "supplytrace", "iat": now, "exp": now + timedelta(hours=1)}
    if kind == "no token":
        return None
    if kind == "a malformed token":
        return "not-a-jwt"
    if kind == "a token with a tampered role":
        header, payload, signature = app.token("quality").split(".")
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        body["role"] = "admin"
        forged = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
        return f"{header}.{forged}.{signature}"
    if kind == "a token signed with another key":
        return jwt.encode(claims, "another-secret-key-of-sufficient-length", algorithm="HS256")
    if kind == "an expired token":
        return jwt.encode({**claims, "exp": now - timedelta(seconds=5)}, secret, algorithm="HS256")
    # the rest are signed with the right key and carry every claim of a real token of "quality"
    real = jwt.decode(app.token("quality"), secret, algorithms=["HS256"], issuer="supplytrace")
    if kind == "a token with an empty subject":
        return jwt.encode({**real, "sub": ""}, secret, algorithm="HS256")
    if kind == "a token for an unknown user":
        return jwt.encode({**real, "sub": "mallory"}, secret, algorithm="HS256")
    if kind == "a token living for ten years":
        return jwt.encode({**real, "exp": now + timedelta(days=3650)}, secret, algorithm="HS256")
    if kind == "a token with the wrong role for its user":
        return jwt.encode({**real, "role": "admin"}, secret, algorithm="HS256")
    raise AssertionError(kind)


@when(parsers.parse("someone lists suppliers with {token}"))
def list_with_token(app: RunningApp, memo: Memo, token: str) -> None:
    value = _forged(app, token)
    headers = {"Authorization": f"Bearer {value}"} if value else {}
    memo.response = app.call(None, "GET", "/suppliers", headers=headers)


@when(parsers.parse('"{username}" logs in with password "{password}"'))
def login_with(app: RunningApp, memo: Memo, username: str, password: str) -> None:
    memo.response = app.client.post("/auth/login", data={"username": username, "password": password})


@given(parsers.parse('"{username}" has logged in'))
def has_logged_in(app: RunningApp, memo: Memo, username: str) -> None:
    memo.token = _ok(app.client.post("/auth/login", data={"username": username, "password": PASSWORD}),
                     200)["access_token"]


@when(parsers.parse('"{username}" logs out'))
def logs_out(app: RunningApp, memo: Memo, username: str) -> None:
    memo.response = app.client.post("/auth/logout", headers={"Authorization": f"Bearer {memo.token}"})


@then(parsers.parse('the token of "{username}" is refused'))
def token_refused(app: RunningApp, memo: Memo, username: str) -> None:
    response = app.client.get("/suppliers", headers={"Authorization": f"Bearer {memo.token}"})
    assert response.status_code == 401 and response.json() == {"detail": "invalid or expired token"}


@then(parsers.parse('a new login of "{username}" works'))
@then(parsers.parse('"{username}" can still log in'))
def new_login_works(app: RunningApp, username: str) -> None:
    token = _ok(app.client.post("/auth/login", data={"username": username, "password": PASSWORD}),
                200)["access_token"]
    assert app.client.get("/suppliers", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@when(parsers.parse('"{username}" logs in with password "{password}" {times:d} times'))
def login_times(app: RunningApp, memo: Memo, username: str, password: str, times: int) -> None:
    for _ in range(times):
        memo.response = app.client.post("/auth/login", data={"username": username, "password": password})
        assert memo.response.status_code == 401


@then("the answer is 429 with a Retry-After")
def answer_429(memo: Memo) -> None:
    assert memo.response.status_code == 429, memo.response.text
    assert int(memo.response.headers["Retry-After"]) >= 1
    assert "detail" in memo.response.json()


@when(parsers.parse('"{username}" logs in with JSON'))
def login_json(app: RunningApp, memo: Memo, username: str) -> None:
    memo.response = app.client.post("/auth/login", json={"username": username, "password": PASSWORD})
    token = memo.response.json()["access_token"]
    assert app.client.get("/ncs", headers={"Authorization": f"Bearer {token}"}).status_code == 200


# --- raw input --------------------------------------------------------------------------------

@when(parsers.parse("procurement posts the supplier {body}"))
def post_supplier(app: RunningApp, memo: Memo, body: str) -> None:
    memo.response = app.call("procurement", "POST", "/suppliers", json=json.loads(body))


@when(parsers.parse("quality posts the non-conformity {body}"))
def post_nc(app: RunningApp, memo: Memo, body: str) -> None:
    memo.response = app.call("quality", "POST", "/ncs", json=json.loads(body))


@when(parsers.parse('auditor reads "{path}"'))
def auditor_reads(app: RunningApp, memo: Memo, path: str) -> None:
    memo.response = app.call("auditor", "GET", path)


@when(parsers.parse('procurement posts the raw body "{body}"'))
def post_raw(app: RunningApp, memo: Memo, body: str) -> None:
    memo.response = app.call("procurement", "POST", "/suppliers", content=body,
                             headers={"Content-Type": "application/json"})


# --- the reminder job (ADR 0027) --------------------------------------------------------------

REMINDERS = ("CERT_EXPIRING", "CERT_EXPIRED", "ACTION_DUE_SOON", "ACTION_OVERDUE", "ACTION_ESCALATED")


def _reminder_job(app: RunningApp):
    """One worker's reminder job, as a worker process builds it at start (a new one: a restart)."""
    from application.reminders import RunReminders

    return RunReminders(app.container.uow.provider(), app.clock)


@when("the reminder job runs")
def reminder_job_runs(app: RunningApp) -> None:
    _reminder_job(app)()


@when("two workers run the reminder job at the same time")
def two_workers_remind(app: RunningApp) -> None:
    import threading

    jobs, start = [_reminder_job(app), _reminder_job(app)], threading.Barrier(2)
    failures: list[BaseException] = []

    def run(job) -> None:
        start.wait()
        try:
            job()
        except BaseException as error:  # noqa: BLE001 - reported by the step
            failures.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures


@then("the reminders sent are")
def reminders_sent(app: RunningApp, datatable: list[list[str]]) -> None:
    """Read where a quality team sees them: the audit log, once the worker delivered them."""
    app.run_worker()
    sent = sorted((e for e in audit(app) if e["event_type"] in REMINDERS), key=lambda e: e["id"])
    columns = datatable[0]
    found = [[str(e["details"].get(column, e["event_type"] if column == "event" else "")) if column != "notify"
              else ", ".join(e["details"]["notify"]) for column in columns] for e in sent]
    assert found == datatable[1:], found
