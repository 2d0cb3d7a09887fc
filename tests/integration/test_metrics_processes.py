"""`curl /metrics` on a running `serve` and on a `worker --metrics-port`, on PostgreSQL: the values move.

The API writes events while no worker runs (the backlog gauges go up), then a worker drains them
(they go down; its counters and histograms count what it handled). Each process is scraped over HTTP
and the text format is parsed with prometheus_client's parser.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.test_kafka_mode import kafka_overrides
from tests.support.broker import TestBroker, free_port
from tests.support.harness import PASSWORD, running_app
from tests.support.metrics import Scrape

pytestmark = pytest.mark.postgres
SRC = Path(__file__).resolve().parents[2] / "src"


@contextmanager
def process(args: list[str], url: str, log: Path, **settings: Any) -> Iterator[subprocess.Popen]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SUPPLYTRACE_")}, "PYTHONPATH": str(SRC),
           "SUPPLYTRACE_DATABASE_URL": url, "SUPPLYTRACE_DEMO_PASSWORD": PASSWORD,
           "SUPPLYTRACE_RETENTION_EVERY_SECONDS": "0",
           **{f"SUPPLYTRACE_{key.upper()}": str(value) for key, value in settings.items()}}
    with log.open("w") as output:
        running = subprocess.Popen([sys.executable, "-m", "adapters.inbound.cli", *args], cwd=log.parent, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
    try:
        yield running
    finally:
        running.terminate()
        running.wait(10)


def eventually(read: Callable[[], Scrape], holds: Callable[[Scrape], bool], log: Path, seconds: float = 30) -> Scrape:
    deadline = time.monotonic() + seconds
    while True:
        try:
            scrape = read()
            if holds(scrape):
                return scrape
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def scrape(url: str) -> Scrape:
    answer = httpx.get(url, timeout=5)
    answer.raise_for_status()
    return Scrape(answer.text)


def test_serve_and_worker_expose_metrics_that_move(postgres_url: str, tmp_path: Path) -> None:
    api_port, worker_port = free_port(), free_port()
    api, worker = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{worker_port}/metrics"
    api_log, worker_log = tmp_path / "serve.log", tmp_path / "worker.log"

    with process(["serve", "--port", str(api_port), "--no-worker"], postgres_url, api_log):
        eventually(lambda: scrape(f"{api}/metrics"), lambda s: True, api_log)
        assert httpx.get(f"{api}/live").json() == {"status": "ok"}
        assert httpx.get(f"{api}/ready").json() == {"status": "ok", "database": "ok", "schema": "ok"}

        def login(role: str) -> dict[str, str]:
            token = httpx.post(f"{api}/auth/login", data={"username": role, "password": PASSWORD}).json()
            return {"Authorization": f"Bearer {token['access_token']}"}

        procurement, quality = login("procurement"), login("quality")
        supplier = httpx.post(f"{api}/suppliers", headers=procurement,
                              json={"name": "Beta Metals", "certification_expiry": "2030-06-30"}).json()
        for _ in range(5):
            assert httpx.post(f"{api}/ncs", headers=quality, json={"supplier_id": supplier["id"], "severity": "high",
                                                                   "description": "Certificate missing"}).status_code == 201
        assert httpx.get(f"{api}/ncs/1", headers=quality).status_code == 200
        backlog = eventually(lambda: scrape(f"{api}/metrics"), lambda s: s.value("supplytrace_outbox_pending") == 6,
                             api_log)
        assert backlog.value("supplytrace_outbox_oldest_pending_age_seconds") > 0
        assert backlog.value("supplytrace_http_requests_total", method="POST", route="/ncs", status="201") == 5
        assert backlog.value("supplytrace_http_requests_total", method="GET", route="/ncs/{nc_id}", status="200") == 1
        assert backlog.value("supplytrace_http_request_duration_seconds_count", method="POST", route="/ncs") == 5

        with process(["worker", "--metrics-port", str(worker_port)], postgres_url, worker_log):
            handled = eventually(lambda: scrape(worker), lambda s: s.value(
                "supplytrace_events_handled_total", handler="audit_trail", outcome="ok") == 6, worker_log)
            assert handled.value("supplytrace_events_published_total", event_type="NC_CREATED") == 5
            assert handled.value("supplytrace_events_published_total", event_type="SUPPLIER_CREATED") == 1
            assert handled.value("supplytrace_handler_duration_seconds_count", handler="audit_trail") >= 1
            assert handled.value("supplytrace_commit_to_handled_seconds_count") == 6
            assert handled.value("supplytrace_commit_to_handled_seconds_sum") > 0
            assert handled.value("supplytrace_relay_batch_size_sum") == 6
            assert handled.value("supplytrace_lease_lost_total") == 0
            eventually(lambda: scrape(worker), lambda s: s.value("supplytrace_outbox_pending") == 0,
                       worker_log)  # the worker reads the gauges as well (cached for a second)
            drained = eventually(lambda: scrape(f"{api}/metrics"),
                                 lambda s: s.value("supplytrace_outbox_pending") == 0, api_log)
            assert drained.value("supplytrace_outbox_oldest_pending_age_seconds") == 0
            assert drained.value("supplytrace_outbox_failed") == 0 and drained.value("supplytrace_outbox_parked") == 0


def test_relay_and_consume_expose_metrics_in_kafka_mode(postgres_url: str, kafka_broker: TestBroker,
                                                        tmp_path: Path) -> None:
    settings = kafka_overrides(kafka_broker.bootstrap_servers)
    with running_app("postgres+kafka", postgres_url, **settings) as app:
        for n in range(3):
            assert app.call("procurement", "POST", "/suppliers",
                            json={"name": f"Supplier {n}", "certification_expiry": "2030-06-30"}).status_code == 201
    relay_port, consumer_port = free_port(), free_port()
    relay, consumer = f"http://127.0.0.1:{relay_port}/metrics", f"http://127.0.0.1:{consumer_port}/metrics"
    relay_log, consumer_log = tmp_path / "relay.log", tmp_path / "consume.log"
    with process(["relay", "--metrics-port", str(relay_port)], postgres_url, relay_log, **settings), \
            process(["consume", "--metrics-port", str(consumer_port)], postgres_url, consumer_log, **settings):
        published = eventually(lambda: scrape(relay), lambda s: s.value(
            "supplytrace_events_published_total", event_type="SUPPLIER_CREATED") == 3, relay_log)
        assert published.value("supplytrace_relay_batch_size_sum") == 3
        handled = eventually(lambda: scrape(consumer), lambda s: s.value(
            "supplytrace_events_handled_total", handler="audit_trail", outcome="ok") == 3, consumer_log, seconds=60)
        assert handled.value("supplytrace_commit_to_handled_seconds_count") == 3
        lag = eventually(lambda: scrape(consumer), lambda s: "supplytrace_kafka_consumer_lag" in s.names, consumer_log)
        assert lag.value("supplytrace_kafka_consumer_lag") == 0  # caught up
        eventually(lambda: scrape(relay), lambda s: s.value("supplytrace_outbox_pending") == 0, relay_log)
