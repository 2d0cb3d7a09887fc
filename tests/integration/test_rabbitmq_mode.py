"""RabbitMQ mode on PostgreSQL + the machine's RabbitMQ (a vhost per test session): the message format,
per-aggregate order with several consumers, a consumer killed mid-batch, poison messages, a broker
outage: the guarantees test_kafka_mode.py proves for Kafka."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pika
import pytest
from cloudevents.core.bindings import amqp as amqp_binding

from adapters.inbound.runtime import rabbitmq_consumer
from adapters.outbound.rabbitmq.connection import connect
from adapters.outbound.rabbitmq.topology import partition_of
from tests.integration.test_kafka_mode import audit, create_supplier, kpis, ok, outbox
from tests.support.harness import RunningApp, rabbitmq_overrides, running_app
from tests.support.rabbitmq import TestVhost, read_queue
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def rabbit_app(postgres_url: str, rabbitmq: TestVhost) -> Iterator[RunningApp]:
    with running_app("postgres+rabbitmq", postgres_url, **rabbitmq_overrides(rabbitmq.url)) as app:
        yield app


def topology(app: RunningApp):
    return app.container.rabbitmq_topology()


def url(app: RunningApp) -> str:
    return app.container.config.rabbitmq_url()


def publish_raw(app: RunningApp, queue: str, body: bytes, headers: dict | None = None,
                message_id: str | None = None) -> None:
    """A message someone else put on a partition queue (the default exchange routes by queue name)."""
    connection = connect(url(app), "test-producer", 0, 2.0)
    try:
        channel = connection.channel()
        topology(app).declare(channel)
        channel.confirm_delivery()
        channel.basic_publish("", queue, body, pika.BasicProperties(headers=headers, message_id=message_id,
                                                                    delivery_mode=2))
    finally:
        connection.close()


def stop_consuming(app: RunningApp) -> None:
    """The harness's consumer lets go of the queues (another one may take them)."""
    assert app.consumer is not None
    app.consumer.close()


# --- 1. message format ------------------------------------------------------------------------

def test_message_is_persistent_with_cloudevents_amqp_properties_and_the_json_envelope(rabbit_app: RunningApp) -> None:
    app = rabbit_app
    stop_consuming(app)  # read the queue ourselves
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    supplier_id = create_supplier(app, "Acme", headers={"X-Correlation-ID": "corr-1", "traceparent": traceparent})
    report = app.container.relay().drain()
    assert report.published == 1, report
    [event] = outbox(app, "PUBLISHED")
    partition = partition_of(str(supplier_id), topology(app).partitions)
    [(method, properties, body)] = read_queue(url(app), topology(app).queue(partition), expected=1)

    assert properties.delivery_mode == 2 and properties.content_type == "application/json"
    assert properties.message_id == event["event_id"] and properties.type == "SUPPLIER_CREATED"
    assert method.exchange == topology(app).exchange and method.routing_key == str(partition)
    message = amqp_binding.AMQPMessage(properties={"content-type": properties.content_type},
                                       application_properties=properties.headers, application_data=body)
    cloud_event = amqp_binding.from_binary_event(message)  # the official CloudEvents SDK, AMQP binding
    attributes = cloud_event.get_attributes()
    assert attributes == {
        "specversion": "1.0", "id": event["event_id"], "type": "SUPPLIER_CREATED", "source": "/supplytrace",
        "subject": str(supplier_id), "time": attributes["time"], "datacontenttype": "application/json",
        "correlationid": "corr-1", "traceparent": traceparent, "partitionkey": str(supplier_id),
    }
    assert attributes["time"] == datetime.fromisoformat(event["occurred_at"])
    data = cloud_event.get_data()  # the same envelope as the Kafka record's value
    assert (data["event_id"], data["aggregate_id"], data["actor"]) == (event["event_id"], str(supplier_id),
                                                                       "procurement")
    steps = ok(app.call("auditor", "GET", f"/events/{event['event_id']}"), 200)["steps"]
    [published] = [s for s in steps if s["step"] == "PUBLISHED"]
    assert (published["detail"]["topic"], published["detail"]["partition"]) == (topology(app).queue(partition),
                                                                                partition)


# --- 2. per-aggregate ordering with several consumers -----------------------------------------

def test_several_consumers_handle_each_aggregates_events_in_commit_order(rabbit_app: RunningApp) -> None:
    """Three consumers on the four partition queues: each queue has one active consumer at a time, so
    every aggregate's events reach one consumer, in commit order, and none is held back or redriven."""
    app = rabbit_app
    stop_consuming(app)
    ids = [create_supplier(app, f"Ordered {i}", expiry="2026-01-01") for i in range(6)]
    for week in range(1, 11):
        for supplier_id in ids:
            ok(app.call("procurement", "PATCH", f"/suppliers/{supplier_id}/certification",
                        json={"certification_expiry": (date(2026, 1, 1) + timedelta(days=7 * week)).isoformat()}),
               200)
    total = len(ids) * 11
    consumers = [rabbitmq_consumer(app.container) for _ in range(3)]
    seen: dict[str, list[tuple[int, str]]] = defaultdict(list)
    lock = threading.Lock()
    for number, consumer in enumerate(consumers):
        consumer.batch_size = 7  # many small batches, interleaved between the consumers
        real = consumer.deliver

        def deliver(envelopes: Any, real: Any = real, number: int = number) -> Any:
            with lock:
                for envelope in envelopes:
                    seen[envelope.aggregate_id].append((number, envelope.payload["certification_expiry"]))
            return real(envelopes)

        consumer.deliver = deliver  # type: ignore[method-assign]
        consumer.subscribe()  # all three wait on every queue before anything is published
    for consumer in consumers:
        consumer.start()
    try:
        assert app.container.relay().drain().published == total
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(audit(app)) < total:
            time.sleep(0.1)
    finally:
        for consumer in consumers:
            consumer.stop()
    expected = ["2026-01-01"] + [(date(2026, 1, 1) + timedelta(days=7 * w)).isoformat() for w in range(1, 11)]
    for supplier_id in ids:
        deliveries = seen[str(supplier_id)]
        assert [expiry for _, expiry in deliveries] == expected, deliveries
        assert len({number for number, _ in deliveries}) == 1  # one active consumer per partition queue
    assert all(e["attempts"] == 0 for e in outbox(app, "PUBLISHED"))
    assert Counter(e["event_id"] for e in audit(app)) == Counter({e["event_id"]: 1 for e in outbox(app, "PUBLISHED")})
    for supplier_id in ids[:1]:  # nothing was held back: no step but the straight way
        [first] = [e for e in outbox(app, "PUBLISHED") if e["aggregate_id"] == str(supplier_id)][:1]
        steps = [s["step"] for s in ok(app.call("auditor", "GET", f"/events/{first['event_id']}"), 200)["steps"]]
        assert "REDRIVEN" not in steps, steps


def test_a_standby_consumer_takes_over_a_queue_in_order_when_the_active_one_stops(rabbit_app: RunningApp) -> None:
    app = rabbit_app
    active = app.consumer
    standby = rabbitmq_consumer(app.container)
    try:
        active.run_once(timeout=0.2)  # registered first: the active consumer of every queue
        standby.subscribe()
        supplier_id = create_supplier(app, "Handover", expiry="2026-01-01")
        assert app.container.relay().drain().published == 1
        assert standby.run_once(timeout=0.5) == 0  # standing by
        app.consume(1)
        for week in range(1, 6):
            ok(app.call("procurement", "PATCH", f"/suppliers/{supplier_id}/certification",
                        json={"certification_expiry": f"2026-02-0{week}"}), 200)
        assert app.container.relay().drain().published == 5
        active.close()  # stops before taking them: the standby becomes active, from the first
        deadline, taken = time.monotonic() + 10, 0
        while time.monotonic() < deadline and taken < 5:
            taken += standby.run_once(timeout=0.5)
        assert taken == 5
    finally:
        standby.close()
    entries = [e for e in audit(app) if e["entity_id"] == str(supplier_id)]
    assert len(entries) == 6 and all(e["attempts"] == 0 for e in outbox(app, "PUBLISHED"))


# --- 3. broker outage -------------------------------------------------------------------------

def test_broker_outage_keeps_events_pending_counts_no_attempt_then_delivers_each_once(
        postgres_url: str, rabbitmq: TestVhost) -> None:
    proxy = TcpProxy(rabbitmq.host, rabbitmq.port)
    proxy.start()
    try:
        overrides = rabbitmq_overrides(rabbitmq.url_via("127.0.0.1", proxy.port), rabbitmq_confirm_timeout_seconds=2)
        with running_app("postgres+rabbitmq", postgres_url, **overrides) as app:
            create_supplier(app, "Before")
            app.run_worker()  # relay and consumer connected
            assert len(audit(app)) == 1
            assert ok(app.client.get("/ready"), 200)["events"] == "ok"

            proxy.cut()
            ids = [create_supplier(app, f"Outage {i}") for i in range(3)]
            ok(app.call("procurement", "PATCH", f"/suppliers/{ids[0]}/certification",
                        json={"certification_expiry": "2027-06-30"}), 200)
            report = app.container.relay().run_once()
            assert report.claimed == 4 and report.published == 0 and report.unavailable >= 1, report
            pending = outbox(app, "PENDING")
            assert len(pending) == 4 and all(e["attempts"] == 0 for e in pending), pending
            ready = app.client.get("/ready")
            assert ready.status_code == 503 and ready.json()["events"] == "unavailable"
            assert app.consumer.run_once(timeout=0.2) == 0  # its connection is gone: nothing, no error

            proxy.restore()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (len(outbox(app, "PUBLISHED")) < 5 or len(audit(app)) < 5):
                try:
                    app.run_worker()
                except Exception:  # noqa: BLE001 - the consumer reconnecting, as its loop would retry
                    app.consumer._rewind()
                time.sleep(0.1)
            published = outbox(app, "PUBLISHED")
            assert len(published) == 5 and all(e["attempts"] == 0 for e in published), outbox(app)
            assert Counter(e["event_id"] for e in audit(app)) == Counter({e["event_id"]: 1 for e in published})
            assert kpis(app)["outbox_pending"] == 0
            assert ok(app.client.get("/ready"), 200)["events"] == "ok"
    finally:
        proxy.stop()


def test_a_connection_the_broker_closed_while_idle_is_replaced_without_failing_a_batch(
        postgres_url: str, rabbitmq: TestVhost) -> None:
    """An idle relay misses heartbeats, the broker closes its connection: the next batch opens a new one."""
    proxy = TcpProxy(rabbitmq.host, rabbitmq.port)
    proxy.start()
    try:
        overrides = rabbitmq_overrides(rabbitmq.url_via("127.0.0.1", proxy.port))
        with running_app("postgres+rabbitmq", postgres_url, **overrides) as app:
            create_supplier(app, "First")
            app.run_worker()
            proxy.cut()  # the open connections are reset…
            proxy.restore()  # …and the broker can be reached again before the next batch
            create_supplier(app, "Second")
            report = app.container.relay().run_once()
            assert (report.published, report.unavailable) == (1, 0), report
            assert all(e["attempts"] == 0 for e in outbox(app))
    finally:
        proxy.stop()


# --- 4. consumer killed mid-batch -------------------------------------------------------------

class Killed(Exception):
    pass


def test_consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing(rabbit_app: RunningApp) -> None:
    """Killed after the handlers' transaction committed and before the ack: the batch is delivered
    again (to the next consumer) and changes nothing."""
    app = rabbit_app
    total = 30
    for i in range(total):
        create_supplier(app, f"Batch {i}")
    assert app.container.relay().drain().published == total

    dying = app.consumer
    dying.batch_size = 10
    real_deliver, calls = dying.deliver, {"n": 0}

    def deliver_then_die(envelopes: Any) -> Any:
        real_deliver(envelopes)  # the handlers' transaction committed…
        calls["n"] += len(envelopes)
        raise Killed("consumer process killed")  # …and the ack never will

    dying.deliver = deliver_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        for _ in range(50):
            dying.run_once(timeout=0.5)
    handled_before_kill = calls["n"]
    assert 0 < handled_before_kill <= 10 and len(audit(app)) == handled_before_kill
    dying.close()  # the connection drops: the broker requeues what was not acknowledged

    fresh = rabbitmq_consumer(app.container)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and fresh.handled < total:
            fresh.run_once(timeout=0.5)
    finally:
        fresh.close()
    assert fresh.handled == total  # the killed batch came again, with the rest
    published = outbox(app, "PUBLISHED")
    assert len(published) == total
    assert Counter(e["event_id"] for e in audit(app)) == Counter({e["event_id"]: 1 for e in published})


# --- 5. dead letters --------------------------------------------------------------------------

def test_poison_messages_are_dead_lettered_and_later_events_handled(rabbit_app: RunningApp) -> None:
    app = rabbit_app
    queue = topology(app).queue(0)
    poison_id = str(uuid.uuid4())
    publish_raw(app, queue, b"this is {not json", message_id="poison-1")
    publish_raw(app, queue, b"\xff\xfe not UTF-8", headers={"cloudEvents:id": poison_id,
                                                           "cloudEvents:type": "SUPPLIER_CREATED"})
    ids = [create_supplier(app, f"After poison {i}") for i in range(3)]
    assert app.container.relay().drain().published == 3
    app.consume(2 + 3)

    assert sorted(e["entity_id"] for e in audit(app)) == sorted(str(i) for i in ids)
    letters = ok(app.call("auditor", "GET", "/dead-letters?source=rabbitmq"), 200)["items"]
    assert len(letters) == 2
    [named] = [letter for letter in letters if letter["event_id"] is not None]
    assert (named["event_id"], named["event_type"]) == (poison_id, "SUPPLIER_CREATED")
    assert named["headers"]["ce_id"] == poison_id  # one spelling in the store, whatever the broker
    assert named["payload_encoding"] == "base64"
    assert {letter["topic"] for letter in letters} == {queue}
    assert all("cannot be deserialized" in letter["error"] for letter in letters)

    dead = read_queue(url(app), topology(app).dead_letter_queue, expected=2)
    assert sorted(body for _, _, body in dead) == sorted([b"this is {not json", b"\xff\xfe not UTF-8"])
    for _, properties, _ in dead:
        assert b"cannot be deserialized" in properties.headers["dlq_error"].encode()
        assert properties.headers["dlq_original_queue"] == queue

    corrected = {**{k: v for k, v in outbox(app, "PUBLISHED")[0].items()
                    if k in ("event_type", "aggregate_type", "aggregate_id", "occurred_at", "actor",
                             "correlation_id", "payload")}, "event_id": poison_id}
    replayed = ok(app.call("admin", "POST", f"/dead-letters/{named['id']}/replay",
                           json={"reason": "producer fixed the encoding", "event": corrected}), 200)
    assert (replayed["before"], replayed["after"]) == ("DEAD_LETTER", "PENDING")
    app.run_worker()
    assert poison_id in {e["event_id"] for e in audit(app)}


def test_event_whose_handler_keeps_failing_ends_failed_and_dead_lettered(rabbit_app: RunningApp) -> None:
    app = rabbit_app
    app.failure.failing = True
    supplier_id = create_supplier(app, "Unlucky")
    [event] = outbox(app, "PENDING")
    end = app.clock.now() + timedelta(minutes=2)
    while app.clock.now() < end and not outbox(app, "FAILED"):
        app.run_worker()
        app.clock.advance(5)

    [failed] = outbox(app, "FAILED")
    assert failed["event_id"] == event["event_id"] and failed["attempts"] == 5
    assert "downstream system unavailable" in failed["last_error"]
    assert [e["event_id"] for e in audit(app)] == [event["event_id"]]
    dead = read_queue(url(app), topology(app).dead_letter_queue, expected=1)
    _, properties, body = dead[-1]
    assert json.loads(body)["event_id"] == event["event_id"] and json.loads(body)["aggregate_id"] == str(supplier_id)
    assert "downstream system unavailable" in properties.headers["dlq_error"]
    assert properties.headers["cloudEvents:id"] == event["event_id"]

    app.failure.failing = False  # replayed by an admin: delivered again, once
    ok(app.call("admin", "POST", f"/events/{event['event_id']}/replay", json={"reason": "back"}), 200)
    app.run_worker()
    assert [e["status"] for e in outbox(app) if e["event_id"] == event["event_id"]] == ["PUBLISHED"]


# --- 6. metrics -------------------------------------------------------------------------------

def test_the_consumer_reports_the_depth_of_its_queues(rabbit_app: RunningApp) -> None:
    from prometheus_client import REGISTRY

    app = rabbit_app
    stop_consuming(app)
    supplier_id = create_supplier(app, "Deep")
    for day in range(1, 8):
        ok(app.call("procurement", "PATCH", f"/suppliers/{supplier_id}/certification",
                    json={"certification_expiry": f"2027-01-0{day}"}), 200)
    assert app.container.relay().drain().published == 8
    consumer = rabbitmq_consumer(app.container)
    consumer.prefetch = 1  # one message in flight per queue: the others wait in it
    try:
        consumer.subscribe()
        consumer.report_metrics(every=0)
    finally:
        consumer.close()
    depths = {q: REGISTRY.get_sample_value("supplytrace_rabbitmq_queue_messages", {"queue": q})
              for q in [*topology(app).queues, topology(app).dead_letter_queue]}
    mine = topology(app).queue(partition_of(str(supplier_id), topology(app).partitions))
    assert depths.pop(mine) in (7, 8) and set(depths.values()) == {0}, depths
