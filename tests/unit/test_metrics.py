"""Metrics and probes on the memory stack: the observer's counts, the outbox gauges, /metrics, /live, /ready."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from application.kpi import OutboxBacklog
from application.ports.metrics import NO_METRICS

from adapters.outbound.metrics import OutboxGauges
from adapters.inbound.api.routes.probes import Readiness
from tests.support.broker import free_port
from tests.support.harness import running_app
from tests.support.metrics import Scrape

NC = {"supplier_id": 1, "severity": "high", "description": "Material certificate missing"}


@pytest.fixture
def app():
    with running_app("memory", "memory://") as running:
        yield running


def scrape(app) -> Scrape:
    answer = app.client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return Scrape(answer.text)


def write(app, ncs: int = 2) -> None:
    assert app.call("procurement", "POST", "/suppliers",
                    json={"name": "Beta Metals", "certification_expiry": "2030-06-30"}).status_code == 201
    for _ in range(ncs):
        assert app.call("quality", "POST", "/ncs", json=NC).status_code == 201


def test_delivery_moves_the_counters_histograms_and_gauges(app) -> None:
    before = scrape(app)
    write(app)
    time.sleep(1.0)  # the gauges' cache
    written = scrape(app)
    assert written.value("supplytrace_outbox_pending") == 3
    assert written.value("supplytrace_outbox_oldest_pending_age_seconds") >= 0
    assert written.value("supplytrace_http_requests_total", method="POST", route="/ncs", status="201") \
        - before.value("supplytrace_http_requests_total", method="POST", route="/ncs", status="201") == 2

    app.run_worker()
    time.sleep(1.0)
    after = scrape(app)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert after.value("supplytrace_outbox_pending") == 0
    assert moved("supplytrace_events_published_total", event_type="NC_CREATED") == 2
    assert moved("supplytrace_events_handled_total", handler="audit_trail", outcome="ok") == 3
    assert moved("supplytrace_handler_duration_seconds_count", handler="audit_trail") >= 1
    assert moved("supplytrace_commit_to_handled_seconds_count") == 3
    assert moved("supplytrace_relay_batch_size_count") >= 1 and moved("supplytrace_relay_batch_size_sum") == 3
    assert "supplytrace_lease_lost_total" in after.names


def test_a_failing_handler_counts_failed_and_the_events_held_back_behind_it(app) -> None:
    before = scrape(app)
    app.failure.failing = True
    write(app, ncs=0)
    assert app.call("procurement", "PATCH", "/suppliers/1/certification",
                    json={"certification_expiry": "2031-01-31"}).status_code == 200
    app.run_worker()
    after = scrape(app)

    def moved(handler: str, outcome: str) -> float:
        return (after.value("supplytrace_events_handled_total", handler=handler, outcome=outcome)
                - before.value("supplytrace_events_handled_total", handler=handler, outcome=outcome))

    assert moved("switchable_failure", "failed") == 1  # SUPPLIER_CREATED (its retry is not due: a fixed clock)
    assert moved("audit_trail", "ok") == 1  # the other handlers keep what they did
    assert moved("switchable_failure", "held_back") == 1  # the certification update waits behind it
    assert moved("audit_trail", "held_back") == 1


def test_route_labels_are_templates_never_raw_paths(app) -> None:
    write(app, ncs=1)
    assert app.call("quality", "GET", "/ncs/1").status_code == 200
    assert app.call("quality", "GET", "/ncs/999").status_code == 404
    assert app.client.get("/no/such/path").status_code == 404
    result = scrape(app)
    assert result.value("supplytrace_http_requests_total", method="GET", route="/ncs/{nc_id}", status="200") >= 1
    assert result.value("supplytrace_http_requests_total", method="GET", route="/ncs/{nc_id}", status="404") >= 1
    routes = {s.labels.get("route") for s in result.samples if s.name == "supplytrace_http_requests_total"}
    assert "unmatched" in routes and not any(route.startswith(("/ncs/1", "/no/")) for route in routes)


def test_the_outbox_gauges_are_cached_and_an_outage_or_a_hang_leaves_them_out() -> None:
    reads, failing, hanging = [], False, threading.Event()

    def read() -> OutboxBacklog:
        reads.append(1)
        if failing:
            raise ConnectionError("database down")
        hanging.wait(5)
        return OutboxBacklog(pending=5, failed=1, parked=2, oldest_pending_age_seconds=None)

    hanging.set()
    gauges = OutboxGauges(read, ttl=0.3, wait=0.2)
    values = {m.name: m.samples[0].value for m in gauges.collect()}
    assert values == {"supplytrace_outbox_pending": 5, "supplytrace_outbox_failed": 1, "supplytrace_outbox_parked": 2,
                      "supplytrace_outbox_oldest_pending_age_seconds": 0.0}
    threads = [threading.Thread(target=lambda: list(gauges.collect())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reads) == 1  # eight scrapes within the cache: one read
    failing = True
    time.sleep(0.3)
    assert list(gauges.collect()) == []  # absent, and the scrape goes on
    assert len(reads) == 2
    failing = False
    hanging.clear()
    time.sleep(0.3)
    for _ in range(3):  # a database that never answers: each scrape waits 0.2 s, one read hangs
        started = time.monotonic()
        assert list(gauges.collect()) == []
        assert time.monotonic() - started < 0.4
    assert len(reads) == 3
    hanging.set()


def test_metrics_can_be_turned_off() -> None:
    with running_app("memory", "memory://", metrics_enabled=False) as off:
        assert off.client.get("/metrics").status_code == 404
        assert off.container.metrics() is NO_METRICS
        assert off.container.apply_events().metrics is NO_METRICS


def test_live_and_ready(app) -> None:
    assert app.client.get("/live").json() == {"status": "ok"}
    answer = app.client.get("/ready")
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "database": "ok", "schema": "ok"}


def test_a_hung_check_answers_unavailable_by_the_deadline_and_is_not_started_twice() -> None:
    release, calls = threading.Event(), []

    def hung() -> None:
        calls.append(1)
        release.wait(10)

    readiness = Readiness({"database": lambda: None, "events": hung}, deadline=0.3)
    try:
        for _ in range(3):
            started = time.monotonic()
            assert asyncio.run(readiness()) == {"database": "ok", "events": "unavailable"}
            assert time.monotonic() - started < 0.6
        assert len(calls) == 1
    finally:
        release.set()


def test_ready_is_503_within_a_second_while_the_broker_is_down() -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    with running_app("memory", "memory://", event_mode="kafka", kafka_bootstrap_servers=closed) as kafka:
        assert kafka.client.get("/live").status_code == 200  # the test client's start-up is not the probe's
        for _ in range(2):
            started = time.monotonic()
            answer = kafka.client.get("/ready")
            assert time.monotonic() - started < 1.0
            assert answer.status_code == 503
            assert answer.json() == {"status": "unavailable", "database": "ok", "schema": "ok", "events": "unavailable"}


class FakeConsumer:
    """What report_lag asks of a confluent_kafka Consumer: all local calls, no broker round trip."""

    def __init__(self, partitions: dict[tuple[str, int], tuple[int, int]]) -> None:
        self.partitions = partitions  # (topic, partition) → (position, cached high watermark)

    def assignment(self) -> list:
        from confluent_kafka import TopicPartition

        return [TopicPartition(topic, partition) for topic, partition in self.partitions]

    def position(self, assigned: list) -> list:
        for tp in assigned:
            tp.offset = self.partitions[tp.topic, tp.partition][0]
        return assigned

    def get_watermark_offsets(self, tp, cached: bool = False) -> tuple[int, int]:
        assert cached
        return 0, self.partitions[tp.topic, tp.partition][1]


def test_consumer_lag_per_assigned_partition_and_dropped_when_revoked() -> None:
    from adapters.inbound.kafka_consumer import KafkaEventConsumer
    from adapters.outbound.metrics import PrometheusMetrics

    consumer = KafkaEventConsumer(None, "127.0.0.1:1", ["t.lag"], "g", metrics=PrometheusMetrics())  # type: ignore[arg-type]
    consumer.consumer = FakeConsumer({("t.lag", 0): (5, 12), ("t.lag", 1): (-1001, 3), ("t.lag", 2): (7, 7)})
    consumer.report_lag()
    from prometheus_client import REGISTRY

    def lag(partition: int) -> float | None:
        return REGISTRY.get_sample_value("supplytrace_kafka_consumer_lag", {"topic": "t.lag", "partition": str(partition)})

    assert (lag(0), lag(1), lag(2)) == (7, None, 0)  # partition 1 has no position yet: left out
    consumer.consumer = FakeConsumer({("t.lag", 2): (8, 10)})
    consumer.report_lag()
    assert lag(2) == 0  # once a second at most: unchanged yet
    consumer._lag_due = 0.0
    consumer.report_lag()
    assert (lag(0), lag(2)) == (None, 2)  # revoked partitions are dropped
    consumer.consumer = None
    consumer.dead_letters.flush(0)
