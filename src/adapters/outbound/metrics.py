"""Prometheus metrics (prometheus_client): the delivery observer, the outbox gauges, what a process exposes.

The counters and histograms are process-wide (prometheus_client's default registry: one series per
label set, however many containers a process builds). The outbox gauges come from the database at
scrape time, through a collector with a short cache, so scrapes never pile up on the database; a
scrape while the database is away leaves them out (and logs why) and still answers. Names and
meanings: README, Operations › Metrics (ADR 0016).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from application.error_text import describe
from application.kpi import OutboxBacklog
from application.ports.metrics import NO_METRICS, DeliveryMetrics

log = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` series beside every counter and histogram: half the scrape

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

EVENTS_PUBLISHED = Counter("supplytrace_events_published", "Events delivered by a relay (polling: to the "
                           "handlers in process; kafka: acknowledged by the broker)", ["event_type"])
EVENTS_HANDLED = Counter("supplytrace_events_handled", "Events that reached a handler, by outcome "
                         "(ok, failed, held_back, unhandled)", ["handler", "outcome"])
HANDLER_DURATION = Histogram("supplytrace_handler_duration_seconds", "One call of a handler: a batch on the "
                             "fast path, one event when isolated", ["handler"], buckets=SECONDS)
COMMIT_TO_HANDLED = Histogram("supplytrace_commit_to_handled_seconds", "From an event's commit (its "
                              "occurred_at) to its handling by every handler", buckets=SECONDS)
RELAY_BATCH_SIZE = Histogram("supplytrace_relay_batch_size", "Events claimed per relay batch",
                             buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000))
LEASE_LOST = Counter("supplytrace_lease_lost", "Completions refused by the fence: another relay took the "
                     "events after this one's lease lapsed")
CONSUMER_LAG = Gauge("supplytrace_kafka_consumer_lag", "Records of an assigned partition not consumed yet "
                     "(high watermark of the last fetch minus the position)", ["topic", "partition"])
RABBITMQ_QUEUE_DEPTH = Gauge("supplytrace_rabbitmq_queue_messages", "Messages ready in a RabbitMQ queue, not "
                             "delivered to a consumer yet (partition queues and the dead-letter queue)", ["queue"])
HTTP_REQUESTS = Counter("supplytrace_http_requests", "HTTP requests by method, route template and status",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("supplytrace_http_request_duration_seconds", "HTTP request latency by method and "
                          "route template", ["method", "route"], buckets=SECONDS)


class PrometheusMetrics(DeliveryMetrics):
    def __init__(self) -> None:
        self._lag_lock = threading.Lock()
        self._lag_labels: set[tuple[str, str]] = set()

    def batch_claimed(self, size: int) -> None:
        RELAY_BATCH_SIZE.observe(size)

    def published(self, event_types: Mapping[str, int]) -> None:
        for event_type, count in event_types.items():
            EVENTS_PUBLISHED.labels(event_type).inc(count)

    def handled(self, handler: str, outcome: str, count: int = 1) -> None:
        EVENTS_HANDLED.labels(handler, outcome).inc(count)

    def handler_duration(self, handler: str, seconds: float) -> None:
        HANDLER_DURATION.labels(handler).observe(seconds)

    def commit_to_handled(self, seconds: float) -> None:
        COMMIT_TO_HANDLED.observe(seconds)

    def lease_lost(self, count: int) -> None:
        LEASE_LOST.inc(count)

    def consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """The whole assignment: partitions no longer assigned are dropped, not left at their last value."""
        labels = {(topic, str(partition)): lag for (topic, partition), lag in lags.items()}
        with self._lag_lock:
            for gone in self._lag_labels - labels.keys():
                CONSUMER_LAG.remove(*gone)
            for key, lag in labels.items():
                CONSUMER_LAG.labels(*key).set(lag)
            self._lag_labels = set(labels)


def rabbitmq_queue_depth(depths: Mapping[str, int]) -> None:
    """What a RabbitMQ consumer last read of its queues (a passive declare each)."""
    for queue, depth in depths.items():
        RABBITMQ_QUEUE_DEPTH.labels(queue).set(depth)


def delivery_metrics(enabled: bool) -> DeliveryMetrics:
    return PrometheusMetrics() if enabled else NO_METRICS


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


class OutboxGauges(Collector):
    """pending, failed, parked and the oldest pending event's age, read at scrape time at most once
    per `ttl` seconds, in a thread of its own: concurrent scrapes share one read, and a scrape waits
    for it `wait` seconds at most. A database that fails or hangs leaves the gauges out; the scrape
    still answers at once (a liveness probe may be pointed at a worker's /metrics)."""

    def __init__(self, read: Callable[[], OutboxBacklog], ttl: float = 1.0, wait: float = 0.5) -> None:
        self.read, self.ttl, self.wait = read, ttl, wait
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="supplytrace-gauges")
        self._reading: Future[None] | None = None
        self._read_at, self._backlog = float("-inf"), None

    def _refresh(self) -> None:
        try:
            backlog = self.read()
        except Exception as error:  # noqa: BLE001 - the gauges are left out until a read succeeds
            log.warning("metrics: outbox gauges unavailable: %s", describe(error))
            backlog = None
        self._backlog, self._read_at = backlog, time.monotonic()

    def backlog(self) -> OutboxBacklog | None:
        with self._lock:
            if time.monotonic() - self._read_at >= self.ttl and (self._reading is None or self._reading.done()):
                self._reading = self._pool.submit(self._refresh)
            reading = self._reading
        try:
            reading.result(timeout=self.wait)  # at once when the last read is fresh
        except TimeoutError:
            log.warning("metrics: outbox gauges not read within %s s: left out", self.wait)
            return None
        return self._backlog

    def collect(self) -> Iterator[Metric]:
        backlog = self.backlog()
        if backlog is None:
            return
        yield GaugeMetricFamily("supplytrace_outbox_pending", "Events waiting for delivery (PENDING)",
                                value=backlog.pending)
        yield GaugeMetricFamily("supplytrace_outbox_failed", "Events out of attempts (FAILED), waiting for an "
                                "operator", value=backlog.failed)
        yield GaugeMetricFamily("supplytrace_outbox_parked", "Events parked behind a FAILED event of their "
                                "aggregate", value=backlog.parked)
        yield GaugeMetricFamily("supplytrace_outbox_oldest_pending_age_seconds", "Age of the oldest PENDING "
                                "event (0: none)", value=backlog.oldest_pending_age_seconds or 0.0)


class _Shared(Collector):
    """The process-wide default registry, inside a process's own one."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()


def scrape_registry(backlog: Callable[[], OutboxBacklog]) -> CollectorRegistry:
    """What `/metrics` and `--metrics-port` expose: the process's metrics and this database's outbox gauges."""
    registry = CollectorRegistry()
    registry.register(_Shared())
    registry.register(OutboxGauges(backlog))
    return registry
