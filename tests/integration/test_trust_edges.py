"""Where the trust promise met hostile input and faults: each test reproduces a finding of issue 9.

A real `supplytrace serve` (uvicorn, default console logging) for what only a served process shows —
a stalled event loop, the banner, the logs — and in-process apps for outages and leaks.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dependency_injector import providers

from adapters.inbound.api.app import create_app
from adapters.outbound.security import Argon2Hasher
from tests.support.broker import free_port
from tests.support.harness import PASSWORD, running_app
from tests.support.tcp_proxy import TcpProxy

SRC = Path(__file__).resolve().parents[2] / "src"


class Served:
    def __init__(self, url: str, database: Path, log: Path) -> None:
        self.url, self.database, self.log = url, database, log

    def token(self, role: str) -> str:
        response = httpx.post(f"{self.url}/auth/login", data={"username": role, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A server of its own (a test that breaks its database)."""
    yield from serve(tmp_path)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server for the tests that only read what it answers."""
    yield from serve(tmp_path_factory.mktemp("served"))


def serve(tmp_path: Path) -> Iterator[Served]:
    port, database, log = free_port(), tmp_path / "served.db", tmp_path / "served.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SUPPLYTRACE_")},
           "PYTHONPATH": str(SRC), "SUPPLYTRACE_DATABASE_URL": f"sqlite:///{database}",
           "SUPPLYTRACE_DEMO_PASSWORD": PASSWORD}
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "adapters.inbound.cli", "serve", "--port", str(port)],
                                   cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Served(url, database, log)
    finally:
        process.terminate()
        process.wait(10)


def health_latencies(url: str, seconds: float) -> list[float]:
    latencies, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        httpx.get(f"{url}/health", timeout=30)
        latencies.append(time.monotonic() - started)
        time.sleep(0.05)
    return latencies


# --- 1. an unexpected error is a JSON 500 that neither stalls the server nor prints secrets ----

def test_unexpected_errors_answer_json_500_without_stalling_or_printing_the_token(served: Served) -> None:
    token = served.token("auditor")
    with sqlite3.connect(served.database) as db:  # a fault no input validation can prevent
        db.execute("ALTER TABLE non_conformities RENAME TO non_conformities_gone")
    with ThreadPoolExecutor(8) as pool:
        probes = pool.submit(health_latencies, served.url, 2.0)
        answers = list(pool.map(lambda _: httpx.get(f"{served.url}/ncs?supplier_id=1", timeout=30,
                                                    headers={"Authorization": f"Bearer {token}"}), range(16)))
        latencies = probes.result()
    for answer in answers:
        assert answer.status_code == 500
        assert answer.headers["content-type"] == "application/json"
        assert set(answer.json()) == {"detail", "error_id"} and answer.json()["detail"] == "internal server error"
    print(f"/health while 16 requests failed: max {max(latencies) * 1000:.0f} ms over {len(latencies)} probes")
    assert max(latencies) < 1.0
    time.sleep(0.5)  # the log is written by its own thread
    log = served.log.read_text()
    assert "request.failed" in log and "no such table" in log
    assert token not in log and token[-20:] not in log
    assert "locals" not in log.lower()


# --- 8. abuse: logins off the event loop, banner, headers, body limits ------------------------

class GatedHasher(Argon2Hasher):
    """Verifying waits until the test opens the gate (at most 10 s), without holding the GIL (as Argon2's
    C code does): a login hashed on the event loop would hold every other request behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def verify(self, password: str, password_hash: str) -> bool:
        self.gate.wait(timeout=10)
        return super().verify(password, password_hash)


def test_logins_do_not_stall_other_requests(sqlite_url: str) -> None:
    """Causal, not timed (the machines are shared): /health answers while four logins are still hashing."""
    hasher = GatedHasher()
    with running_app("sqlite", sqlite_url) as running:
        running.container.hasher.override(providers.Object(hasher))
        app = create_app(running.container)

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                logins = [asyncio.create_task(client.post("/auth/login", data={"username": "auditor",
                                                                               "password": PASSWORD}))
                          for _ in range(4)]
                await asyncio.sleep(0.1)  # the logins are hashing, behind the closed gate
                assert (await client.get("/health")).status_code == 200
                assert not any(login.done() for login in logins)  # on the event loop, they would be
                hasher.gate.set()
                assert [r.status_code for r in await asyncio.gather(*logins)] == [200] * 4

        asyncio.run(scenario())


def test_answers_carry_security_headers_and_no_server_banner(shared_server: Served) -> None:
    served = shared_server
    answer = httpx.post(f"{served.url}/auth/login", data={"username": "auditor", "password": PASSWORD})
    assert "server" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_bodies_over_the_limit_are_refused_and_422_bodies_stay_short(shared_server: Served) -> None:
    served = shared_server
    huge = httpx.post(f"{served.url}/auth/login", content=b'{"username": "' + b"a" * 2_000_000 + b'"}',
                      headers={"content-type": "application/json"}, timeout=30)
    assert huge.status_code == 413 and "detail" in huge.json()
    token = served.token("procurement")
    long_name = httpx.post(f"{served.url}/suppliers", json={"name": "x" * 500_000, "certification_expiry": "2030-01-01"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert long_name.status_code == 422
    assert len(long_name.content) < 2000


# --- 7. outages: JSON 503 with Retry-After, within a bound -------------------------------------

def outage_settings(**extra: Any) -> dict[str, Any]:
    return {"database_connect_timeout_seconds": 1, "database_statement_timeout_seconds": 1,
            "database_pool_timeout_seconds": 1, **extra}


def assert_unavailable(answer: Any) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert "detail" in answer.json() and int(answer.headers["Retry-After"]) >= 1


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


@pytest.mark.postgres
def test_a_database_that_refuses_connections_is_a_503(postgres_url: str) -> None:
    down = sa.engine.make_url(postgres_url).set(port=free_port()).render_as_string(hide_password=False)
    with running_app("postgres", down, **outage_settings()) as app:
        answer, seconds = timed(lambda: app.call("auditor", "GET", "/suppliers"))
        assert_unavailable(answer)
        assert seconds < 3
        health = app.client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert str(sa.engine.make_url(down).port) not in health.text and "127.0.0.1" not in health.text


@pytest.mark.postgres
def test_a_database_that_never_answers_is_a_503_after_the_connect_timeout(postgres_url: str) -> None:
    black_hole = socket.socket()
    black_hole.bind(("127.0.0.1", 0))
    black_hole.listen(64)  # the kernel completes the handshake; nothing ever answers
    try:
        url = sa.engine.make_url(postgres_url).set(port=black_hole.getsockname()[1])
        with running_app("postgres", url.render_as_string(hide_password=False), **outage_settings()) as app:
            answer, seconds = timed(lambda: app.call("auditor", "GET", "/suppliers"))
            assert_unavailable(answer)
            assert seconds < 4
    finally:
        black_hole.close()


@pytest.mark.postgres
def test_a_statement_blocked_past_the_timeout_is_a_503(postgres_url: str, postgres_owner_url: str) -> None:
    owner = sa.create_engine(postgres_owner_url, poolclass=sa.pool.NullPool)
    with running_app("postgres", postgres_url, **outage_settings()) as app, owner.connect() as lock:
        app.call("auditor", "GET", "/suppliers")  # warm: token, pool
        lock.execute(sa.text("LOCK TABLE suppliers IN ACCESS EXCLUSIVE MODE"))
        answer, seconds = timed(lambda: app.call("auditor", "GET", "/suppliers"))
        lock.rollback()
        assert_unavailable(answer)
        assert seconds < 3
        assert app.call("auditor", "GET", "/suppliers").status_code == 200
    owner.dispose()


def test_a_locked_sqlite_file_is_a_503_after_the_timeout(sqlite_url: str) -> None:
    with running_app("sqlite", sqlite_url, **outage_settings()) as app:
        app.call("procurement", "GET", "/suppliers")
        writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            answer, seconds = timed(lambda: app.call("procurement", "POST", "/suppliers",
                                                     json={"name": "Locked", "certification_expiry": "2030-01-01"}))
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert_unavailable(answer)
        assert seconds < 3
        assert app.call("auditor", "GET", "/outbox").json()["total"] == 0  # nothing half-written


@pytest.mark.postgres
def test_a_database_restart_gives_json_503s_then_recovers_by_itself(postgres_url: str) -> None:
    url = sa.engine.make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    try:
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        with running_app("postgres", via_proxy, **outage_settings()) as app:
            statuses, slowest = [], 0.0
            for i in range(120):
                if i == 30:
                    proxy.cut()  # the server goes away; the pool's connections die with it
                if i == 60:
                    proxy.restore()
                answer, seconds = timed(lambda: app.call(
                    "procurement", "POST", "/suppliers", json={"name": f"S{i}", "certification_expiry": "2030-01-01"}))
                slowest = max(slowest, seconds)
                assert answer.headers["content-type"] == "application/json", answer.text
                if answer.status_code == 503:
                    assert int(answer.headers["Retry-After"]) >= 1
                statuses.append(answer.status_code)
            print(f"during the restart: {statuses.count(503)} × 503, slowest {slowest:.2f} s")
            assert set(statuses) <= {201, 503}
            assert statuses[:30] == [201] * 30 and statuses[-30:] == [201] * 30
            assert 503 in statuses[30:60]
            assert slowest < 3
            created = app.call("auditor", "GET", "/suppliers?limit=500").json()["total"]
            assert created == statuses.count(201)  # a 503 wrote nothing
    finally:
        proxy.cut()


# --- 9. leaks: stored errors carry no SQL ------------------------------------------------------

def test_stored_delivery_errors_carry_no_sql(sqlite_url: str) -> None:
    with running_app("sqlite", sqlite_url) as app:
        with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
            db.execute("CREATE TRIGGER audit_outage BEFORE INSERT ON audit_log "
                       "BEGIN SELECT * FROM audit_store_offline; END;")
        app.call("procurement", "POST", "/suppliers", json={"name": "Leaky", "certification_expiry": "2030-01-01"})
        app.run_worker()
        [event] = app.call("auditor", "GET", "/outbox?status=PENDING").json()["items"]
        error = event["last_error"]
        assert "audit_store_offline" in error
        for leak in ("[SQL", "INSERT INTO", "parameters", "sqlalche.me", "Leaky"):
            assert leak not in error, error
        assert json.dumps(event).count("\n") == 0


def test_interactive_docs_are_off_in_production_unless_asked_for() -> None:
    from fastapi.testclient import TestClient

    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    user = {"username": "ops", "role": "admin", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$abcdefghijklmnop"}
    production = {"_env_file": None, "env": "production", "database_url": "memory://", "demo_users": False,
                  "users": [user], "jwt_secret": "a-production-secret-of-32-characters!!"}
    for docs, status in ((None, 404), (True, 200)):
        client = TestClient(create_app(build_container(Settings(**production, docs_enabled=docs))))
        assert [client.get(path).status_code for path in ("/docs", "/redoc", "/openapi.json")] == [status] * 3
