"""JSON logs of a real `supplytrace serve` (issue 12): every line on stdout and stderr parses as JSON,
in polling mode and in Kafka mode through a broker outage, and a request's correlation id is on its
access line, on the handler lines of the events it caused and on their audit records."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.broker import TestBroker, free_port
from tests.support.harness import PASSWORD

SRC = Path(__file__).resolve().parents[2] / "src"


class JsonServer:
    def __init__(self, url: str, database: Path, out: Path, err: Path) -> None:
        self.url, self.database, self.out, self.err = url, database, out, err
        self.tokens: dict[str, str] = {}

    def call(self, role: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if role not in self.tokens:
            answer = httpx.post(f"{self.url}/auth/login", data={"username": role, "password": PASSWORD})
            assert answer.status_code == 200, answer.text
            self.tokens[role] = answer.json()["access_token"]
        headers = {"Authorization": f"Bearer {self.tokens[role]}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)

    def audit_records(self, correlation_id: str) -> list[dict[str, Any]]:
        items = self.call("auditor", "GET", "/audit-log", params={"limit": 500}).json()["items"]
        return [item for item in items if item["correlation_id"] == correlation_id]

    def lines(self) -> list[dict[str, Any]]:
        """Every line of both streams, each parsed with json.loads (a line that is not JSON fails here)."""
        parsed = []
        for stream in (self.out, self.err):
            for number, line in enumerate(stream.read_text().splitlines(), 1):
                try:
                    parsed.append(json.loads(line))
                except ValueError as error:
                    raise AssertionError(f"{stream.name} line {number} is not JSON: {line!r}") from error
        return parsed


@contextmanager
def json_server(tmp_path: Path, ready: Callable[[httpx.Response], bool] = lambda r: r.status_code == 200,
                **settings: str) -> Iterator[JsonServer]:
    port, database = free_port(), tmp_path / "served.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SUPPLYTRACE_")},
           "PYTHONPATH": str(SRC), "SUPPLYTRACE_DATABASE_URL": f"sqlite:///{database}",
           "SUPPLYTRACE_DEMO_PASSWORD": PASSWORD, "SUPPLYTRACE_LOG_JSON": "true",
           **{f"SUPPLYTRACE_{key.upper()}": value for key, value in settings.items()}}
    server = JsonServer(f"http://127.0.0.1:{port}", database, tmp_path / "stdout.log", tmp_path / "stderr.log")
    with server.out.open("w") as out, server.err.open("w") as err:
        process = subprocess.Popen([sys.executable, "-m", "adapters.inbound.cli", "serve", "--port", str(port)],
                                   cwd=tmp_path, env=env, stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, server.err.read_text()
            try:
                if ready(httpx.get(f"{server.url}/health", timeout=5)):
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, server.err.read_text()
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(20)


def wait_for(condition: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return result


def create_supplier(server: JsonServer, correlation_id: str) -> None:
    answer = server.call("procurement", "POST", "/suppliers", headers={"X-Correlation-ID": correlation_id},
                         json={"name": f"Supplier {correlation_id}", "certification_expiry": "2030-01-01"})
    assert answer.status_code == 201, answer.text


def assert_correlated(lines: list[dict[str, Any]], correlation_id: str) -> None:
    access = [line for line in lines if line["event"] == "http.request" and line.get("route") == "/suppliers"
              and line["correlation_id"] == correlation_id]
    assert len(access) == 1, access
    assert access[0]["method"] == "POST" and access[0]["status"] == 201 and access[0]["path"] == "/suppliers"
    assert access[0]["client"] == "127.0.0.1" and access[0]["duration_ms"] >= 0 and access[0]["request_id"]
    handled = [line for line in lines if line["event"] == "handler.applied" and line["correlation_id"] == correlation_id]
    assert {line["event_type"] for line in handled} == {"SUPPLIER_CREATED"}, handled
    assert "audit_trail" in {line["handler"] for line in handled}, handled
    assert all(line["event_id"] and line["duration_ms"] >= 0 for line in handled)


def test_polling_mode_logs_json_lines_with_the_request_ids(tmp_path: Path) -> None:
    with json_server(tmp_path) as server:
        create_supplier(server, "logs-polling-1")
        audited = wait_for(lambda: server.audit_records("logs-polling-1"))
        with sqlite3.connect(server.database) as db:  # a fault no input validation can prevent
            db.execute("ALTER TABLE non_conformities RENAME TO non_conformities_gone")
        failed = server.call("quality", "GET", "/ncs", headers={"X-Correlation-ID": "logs-polling-500"})
        assert failed.status_code == 500
        time.sleep(0.5)  # the log is written by its own thread
    lines = server.lines()
    print(f"polling: {len(lines)} JSON lines; audit records of the request: {len(audited)}")
    assert_correlated(lines, "logs-polling-1")
    assert {record["event_type"] for record in audited} == {"SUPPLIER_CREATED"}
    error = next(line for line in lines if line["event"] == "request.failed")
    assert error["correlation_id"] == "logs-polling-500" and error["request_id"]
    assert error["exception"][0]["exc_type"] == "OperationalError" and error["exception"][0]["frames"]
    assert all("<traceback" not in json.dumps(line) for line in lines)
    requests = [line for line in lines if line["event"] == "http.request"]
    assert all(line["request_id"] and line["correlation_id"] for line in requests)
    assert len({line["request_id"] for line in requests}) == len(requests)
    assert not [line for line in lines if line.get("logger") == "uvicorn.access"]


def test_kafka_mode_logs_json_lines_through_a_broker_outage(tmp_path: Path) -> None:
    broker = TestBroker()
    broker.start()
    try:
        with json_server(tmp_path, event_mode="kafka", kafka_bootstrap_servers=broker.bootstrap_servers,
                         kafka_session_timeout_ms="2000", kafka_delivery_timeout_ms="2000") as server:
            create_supplier(server, "logs-kafka-1")
            audited = wait_for(lambda: server.audit_records("logs-kafka-1"))
            broker.stop()
            create_supplier(server, "logs-kafka-outage")
            wait_for(lambda: httpx.get(f"{server.url}/health", timeout=10).status_code == 503)
            time.sleep(3)  # the relay tries, the consumer polls: librdkafka has things to say
    finally:
        broker.stop()
    lines = server.lines()
    kafka = [line for line in lines if line.get("logger") == "librdkafka"]
    print(f"kafka: {len(lines)} JSON lines, {len(kafka)} from librdkafka, e.g. {kafka[:1]}")
    assert_correlated(lines, "logs-kafka-1")
    assert {record["event_type"] for record in audited} == {"SUPPLIER_CREATED"}
    assert kafka and all(line["facility"] and line["client"] for line in kafka), "librdkafka said nothing"
    assert [line for line in lines if line["event"] == "http.request" and line["correlation_id"] == "logs-kafka-outage"]
