"""Broker mode on PostgreSQL + the test broker: record format, ordering, outages, redelivery, dead letters."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cloudevents.core.bindings import kafka as kafka_binding
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from dependency_injector import providers
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.inbound.runtime import kafka_consumer
from adapters.outbound.kafka.messages import dead_letter_topic, ensure_topics, topic_for
from adapters.outbound.sqlalchemy.tables import outbox_events
from adapters.outbound.tracing import tracer_provider
from bootstrap.tracing import build_tracer
from tests.support.broker import TestBroker
from tests.support.harness import RunningApp, running_app



# --- helpers ----------------------------------------------------------------------------------

def kafka_overrides(bootstrap_servers: str, **extra: Any) -> dict[str, Any]:
    test_id = uuid.uuid4().hex[:12]
    return {
        "event_mode": "kafka",
        "kafka_bootstrap_servers": bootstrap_servers,
        "kafka_topic_prefix": f"t{test_id}",
        "kafka_consumer_group": f"g{test_id}",
        "kafka_session_timeout_ms": 2000,
        "kafka_delivery_timeout_ms": 5000,
        **extra,
    }


@pytest.fixture
def kafka_app(postgres_url: str, kafka_broker: TestBroker) -> Iterator[RunningApp]:
    with running_app("postgres+kafka", postgres_url, **kafka_overrides(kafka_broker.bootstrap_servers)) as app:
        yield app


def prefix(app: RunningApp) -> str:
    return app.container.config.kafka_topic_prefix()


def bootstrap(app: RunningApp) -> str:
    return app.container.config.kafka_bootstrap_servers()


def ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    return response.json()


def create_supplier(app: RunningApp, name: str, expiry: str = "2026-12-31", **kwargs: Any) -> int:
    return ok(app.call("procurement", "POST", "/suppliers",
                       json={"name": name, "certification_expiry": expiry}, **kwargs), 201)["id"]


def read_topic(servers: str, topic: str, expected: int | None = None, timeout: float = 10.0,
               idle: float = 1.5) -> list[Any]:
    """Every record of `topic` (all partitions, from the beginning) read by a plain consumer of its own group.
    Stops once `expected` records were read, or after `idle` seconds without news when expected is None."""
    consumer = Consumer({
        "bootstrap.servers": servers,
        "group.id": f"reader-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 2000,
    })
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        last_news = time.monotonic()
        while time.monotonic() < deadline:
            if expected is not None and len(records) >= expected:
                break
            if expected is None and time.monotonic() - last_news > idle:
                break
            for message in consumer.consume(100, 0.2):
                if message.error():
                    continue
                records.append(message)
                last_news = time.monotonic()
        return records
    finally:
        consumer.close()


def headers_of(message: Any) -> dict[str, bytes]:
    return {k: v for k, v in (message.headers() or [])}


def audit(app: RunningApp) -> list[dict]:
    return ok(app.call("auditor", "GET", "/audit-log?limit=500"), 200)["items"]


def outbox(app: RunningApp, status: str | None = None) -> list[dict]:
    query = f"?status={status}&limit=500" if status else "?limit=500"
    return ok(app.call("auditor", "GET", f"/outbox{query}"), 200)["items"]


def kpis(app: RunningApp) -> dict[str, int]:
    return ok(app.call("auditor", "GET", "/kpi"), 200)


# --- 1. record format -------------------------------------------------------------------------

def test_record_carries_key_cloudevents_headers_and_json_envelope(kafka_app: RunningApp) -> None:
    app = kafka_app
    correlation = f"corr-{uuid.uuid4().hex[:8]}"
    supplier_id = create_supplier(app, "Acme", headers={"X-Correlation-ID": correlation})
    report = app.container.relay().drain()
    assert report.published == 1, report

    [event] = outbox(app, "PUBLISHED")
    records = read_topic(bootstrap(app), topic_for(prefix(app), "supplier"), expected=1)
    assert len(records) == 1
    record = records[0]

    assert record.key() == str(supplier_id).encode()
    headers = headers_of(record)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == event["event_id"].encode()
    assert headers["ce_type"] == b"SUPPLIER_CREATED"
    assert headers["ce_source"] == b"/supplytrace"
    assert headers["ce_subject"] == str(supplier_id).encode()
    assert headers["ce_correlationid"] == headers["correlation_id"] == correlation.encode()  # old name: one release
    ce_time = datetime.fromisoformat(headers["ce_time"].decode())
    assert ce_time.tzinfo is not None

    value = json.loads(record.value())
    assert value["event_id"] == event["event_id"]
    assert value["event_type"] == "SUPPLIER_CREATED"
    assert value["aggregate_type"] == "supplier"
    assert value["aggregate_id"] == str(supplier_id)
    assert value["correlation_id"] == correlation
    assert value["actor"] == "procurement"
    assert datetime.fromisoformat(value["occurred_at"]) == ce_time
    assert value["payload"]["certification_expiry"] == "2026-12-31"


def test_a_requests_trace_context_survives_to_the_kafka_record_as_cloudevents_read_it(kafka_app: RunningApp) -> None:
    app = kafka_app
    supplier_id = create_supplier(app, "Traced")
    traceparent, tracestate = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE"
    nc = ok(app.call("quality", "POST", "/ncs",
                     json={"supplier_id": supplier_id, "severity": "low", "description": "x"},
                     headers={"traceparent": traceparent, "tracestate": tracestate, "X-Correlation-ID": "corr-nc"}),
            201)
    with app.container.engine().connect() as conn:
        row = conn.execute(sa.select(outbox_events).where(outbox_events.c.aggregate_type == "nc",
                                                          outbox_events.c.aggregate_id == str(nc["id"]))).one()
    assert (row.traceparent, row.tracestate) == (traceparent, tracestate)
    exporter = InMemorySpanExporter()
    tracer = build_tracer(provider=tracer_provider(SimpleSpanProcessor(exporter)))
    app.container.tracer.override(providers.Object(tracer))  # the relay's
    app.container.apply_events().tracer = tracer  # the consumer's, built with the app
    app.consume(app.container.relay().drain().published)

    [record] = read_topic(bootstrap(app), topic_for(prefix(app), "nc"), expected=1)
    message = kafka_binding.KafkaMessage(headers_of(record), record.key(), record.value())
    event = kafka_binding.from_binary_event(message)  # the official CloudEvents SDK
    assert event.get_attributes() == {  # every attribute, extensions included
        "specversion": "1.0", "id": str(row.event_id), "type": row.event_type, "source": "/supplytrace",
        "subject": str(nc["id"]), "time": row.occurred_at, "datacontenttype": "application/json",
        "correlationid": "corr-nc", "traceparent": traceparent, "tracestate": tracestate,
        "partitionkey": str(nc["id"]),
    }
    data = event.get_data()
    assert (data["event_id"], data["traceparent"], data["tracestate"]) == (str(row.event_id), traceparent, tracestate)
    spans = [s for s in exporter.get_finished_spans() if s.attributes.get("supplytrace.event_id") == str(row.event_id)]
    assert {s.name for s in spans} == {"publish", "handle"}
    for span in spans:  # publish restored from the outbox row, handle from the record: the request's children
        assert span.parent is not None and span.parent.is_remote
        assert (format(span.context.trace_id, "032x"), format(span.parent.span_id, "016x")) == (
            "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")


# --- 2. per-aggregate ordering ----------------------------------------------------------------

def test_events_of_one_aggregate_arrive_in_commit_order_in_one_partition(kafka_app: RunningApp) -> None:
    app = kafka_app
    supplier_id = create_supplier(app, "Ordered", expiry="2026-01-01")
    other_id = create_supplier(app, "Other", expiry="2026-01-01")  # interleaved noise on another key
    expiries = [date(2026, 1, 1) + timedelta(days=7 * i) for i in range(1, 21)]
    for expiry in expiries:
        ok(app.call("procurement", "PATCH", f"/suppliers/{supplier_id}/certification",
                    json={"certification_expiry": expiry.isoformat()}), 200)
        ok(app.call("procurement", "PATCH", f"/suppliers/{other_id}/certification",
                    json={"certification_expiry": (expiry + timedelta(days=1)).isoformat()}), 200)
    report = app.container.relay().drain()
    assert report.published == 2 + 2 * len(expiries), report

    records = read_topic(bootstrap(app), topic_for(prefix(app), "supplier"), expected=2 + 2 * len(expiries))
    mine = [r for r in records if r.key() == str(supplier_id).encode()]
    assert len(mine) == 1 + len(expiries)
    assert len({r.partition() for r in mine}) == 1
    mine.sort(key=lambda r: r.offset())
    values = [json.loads(r.value()) for r in mine]
    assert values[0]["event_type"] == "SUPPLIER_CREATED"
    chain = [values[0]["payload"]["certification_expiry"]]
    for value in values[1:]:
        assert value["event_type"] == "SUPPLIER_CERT_UPDATED"
        assert value["payload"]["previous_expiry"] == chain[-1]
        chain.append(value["payload"]["certification_expiry"])
    assert chain == ["2026-01-01"] + [e.isoformat() for e in expiries]


# --- 3. broker outage -------------------------------------------------------------------------

def test_broker_outage_keeps_events_pending_then_publishes_each_once(postgres_url: str) -> None:
    broker = TestBroker()
    broker.start()
    try:
        overrides = kafka_overrides(broker.bootstrap_servers, kafka_delivery_timeout_ms=2000)
        with running_app("postgres+kafka", postgres_url, **overrides) as app:
            broker.stop()
            ids = [create_supplier(app, f"Outage {i}") for i in range(3)]
            ok(app.call("procurement", "PATCH", f"/suppliers/{ids[0]}/certification",
                        json={"certification_expiry": "2027-06-30"}), 200)

            report = app.container.relay().run_once()
            assert report.claimed == 4 and report.published == 0, report
            assert report.unavailable >= 1, report
            pending = outbox(app, "PENDING")
            assert len(pending) == 4
            assert all(e["attempts"] == 0 for e in pending), pending
            assert kpis(app)["outbox_pending"] == 4

            broker.start()  # same port; in-memory storage: topics are gone
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline:
                app.run_worker()
                if len(outbox(app, "PUBLISHED")) == 4 and len(audit(app)) >= 4:
                    break
                time.sleep(0.5)
            published = outbox(app, "PUBLISHED")
            assert len(published) == 4, outbox(app)
            assert all(e["attempts"] == 0 for e in published)
            per_event = Counter(e["event_id"] for e in audit(app))
            assert per_event == Counter({e["event_id"]: 1 for e in published})
            assert kpis(app)["outbox_pending"] == 0
    finally:
        broker.stop()


# --- 4. consumer killed mid-batch -------------------------------------------------------------

class Killed(Exception):
    pass


def test_consumer_killed_mid_batch_loses_nothing_and_duplicates_nothing(kafka_app: RunningApp) -> None:
    """Killed after the handlers' transaction committed and before the offsets did: the batch is read
    again and changes nothing. Killed inside the transaction: nothing of the batch was kept."""
    app = kafka_app
    total = 30
    for i in range(total):
        create_supplier(app, f"Batch {i}")
    assert app.container.relay().drain().published == total

    dying = app.consumer
    assert dying is not None
    dying.batch_size = 10
    real_deliver, calls = dying.deliver, {"n": 0}

    def deliver_then_die(envelopes: Any) -> Any:
        real_deliver(envelopes)  # the handlers' transaction committed…
        calls["n"] += len(envelopes)
        raise Killed("consumer process killed")  # …and the offsets never will

    dying.deliver = deliver_then_die  # type: ignore[method-assign]
    deadline = time.monotonic() + 20
    with pytest.raises(Killed):
        while time.monotonic() < deadline:  # the first non-empty batch dies before its commit
            dying.run_once(timeout=0.5)
    handled_before_kill = calls["n"]
    assert 0 < handled_before_kill <= 10
    assert len(audit(app)) == handled_before_kill  # handled, but offsets not committed
    dying.close()

    fresh = kafka_consumer(app.container)
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and len(audit(app)) < total:
            fresh.run_once(timeout=0.5)
        # drain whatever is left (the redelivered, already handled records)
        while time.monotonic() < deadline and fresh.run_once(timeout=0.5):
            pass
    finally:
        fresh.close()

    published = outbox(app, "PUBLISHED")
    assert len(published) == total
    per_event = Counter(e["event_id"] for e in audit(app))
    assert per_event == Counter({e["event_id"]: 1 for e in published})
    assert fresh.handled >= total - handled_before_kill


# --- 5. dead letters --------------------------------------------------------------------------

def test_poison_records_are_dead_lettered_and_later_events_handled(kafka_app: RunningApp) -> None:
    app = kafka_app
    servers, topic = bootstrap(app), topic_for(prefix(app), "supplier")
    ensure_topics({"bootstrap.servers": servers}, [topic])
    producer = Producer({"bootstrap.servers": servers})
    producer.produce(topic, key=b"poison", value=b"this is {not json")
    no_id = {"event_type": "SUPPLIER_CREATED", "aggregate_type": "supplier", "aggregate_id": "poison",
             "occurred_at": "2026-03-10T09:00:00+00:00", "actor": "x", "correlation_id": "c", "payload": {}}
    producer.produce(topic, key=b"poison", value=json.dumps(no_id).encode())
    assert producer.flush(10) == 0

    ids = [create_supplier(app, f"After poison {i}") for i in range(3)]
    report = app.container.relay().drain()
    assert report.published == 3
    app.consume(2 + 3)

    per_event = Counter(e["event_id"] for e in audit(app))
    published = outbox(app, "PUBLISHED")
    assert per_event == Counter({e["event_id"]: 1 for e in published})
    assert sorted(e["entity_id"] for e in audit(app)) == sorted(str(i) for i in ids)

    dead = read_topic(servers, dead_letter_topic(topic), expected=2)
    assert sorted(r.value() for r in dead) == sorted([b"this is {not json", json.dumps(no_id).encode()])
    for record in dead:
        headers = headers_of(record)
        assert b"cannot be deserialized" in headers["dlq_error"]
        assert headers["dlq_original_topic"] == topic.encode()


def test_an_undecodable_record_is_a_dead_letter_an_admin_replays_once_corrected(kafka_app: RunningApp) -> None:
    app = kafka_app
    servers, topic = bootstrap(app), topic_for(prefix(app), "supplier")
    ensure_topics({"bootstrap.servers": servers}, [topic])
    poison_id = str(uuid.uuid4())
    producer = Producer({"bootstrap.servers": servers})
    producer.produce(topic, key=b"poison", value=b"\xff\xfe not UTF-8", headers=[("ce_id", poison_id.encode()),
                                                                               ("ce_type", b"SUPPLIER_CREATED")])
    assert producer.flush(10) == 0
    app.consume(1)

    [letter] = ok(app.call("auditor", "GET", "/dead-letters?source=kafka"), 200)["items"]
    assert (letter["status"], letter["event_id"], letter["event_type"], letter["topic"]) == (
        "OPEN", poison_id, "SUPPLIER_CREATED", topic)
    assert letter["payload_encoding"] == "base64" and letter["offset"] is not None and letter["partition"] is not None
    assert "cannot be deserialized" in letter["error"] and letter["headers"]["ce_id"] == poison_id

    path = f"/dead-letters/{letter['id']}/replay"
    still_broken = app.call("admin", "POST", path, json={"reason": "try as it is"})
    assert still_broken.status_code == 422 and "event" in still_broken.text  # the bytes are still no event
    create_supplier(app, "Template")
    [template] = outbox(app, "PENDING")
    corrected = {**{k: template[k] for k in ("event_type", "aggregate_type", "aggregate_id", "occurred_at", "actor",
                                            "correlation_id", "payload")}, "event_id": poison_id}
    replayed = ok(app.call("admin", "POST", path, json={"reason": "producer fixed the encoding", "event": corrected}),
                  200)
    assert (replayed["event_id"], replayed["before"], replayed["after"]) == (poison_id, "DEAD_LETTER", "PENDING")
    assert app.call("admin", "POST", path, json={"reason": "again", "event": corrected}).status_code == 409

    app.run_worker()
    assert poison_id in {e["event_id"] for e in audit(app)}
    steps = [s["step"] for s in ok(app.call("auditor", "GET", f"/events/{poison_id}"), 200)["steps"]]
    assert steps[:2] == ["WRITTEN", "REPLAYED"] and "PUBLISHED" in steps and "HANDLED" in steps
    replays = [e for e in audit(app) if e["event_type"] == "EVENT_REPLAYED"]
    assert [(e["actor"], e["entity_id"], e["details"]["dead_letter"]) for e in replays] == [
        ("admin", poison_id, letter["id"])]


def test_event_whose_handler_keeps_failing_ends_failed_and_dead_lettered(kafka_app: RunningApp) -> None:
    app = kafka_app
    app.failure.failing = True
    supplier_id = create_supplier(app, "Unlucky")
    [event] = outbox(app, "PENDING")

    end = app.clock.now() + timedelta(minutes=2)
    while app.clock.now() < end and not outbox(app, "FAILED"):
        app.run_worker()
        app.clock.advance(5)

    failed = outbox(app, "FAILED")
    assert [e["event_id"] for e in failed] == [event["event_id"]]
    assert failed[0]["attempts"] == 5
    assert "downstream system unavailable" in failed[0]["last_error"]
    # each handler has its own transaction and is idempotent: 5 deliveries, still one audit row
    assert [e["event_id"] for e in audit(app)] == [event["event_id"]]

    topic = topic_for(prefix(app), "supplier")
    dead = read_topic(bootstrap(app), dead_letter_topic(topic), expected=1, timeout=5)
    assert len(dead) >= 1
    record = dead[-1]
    assert record.key() == str(supplier_id).encode()
    assert json.loads(record.value())["event_id"] == event["event_id"]
    headers = headers_of(record)
    assert b"downstream system unavailable" in headers["dlq_error"]
    assert headers["ce_id"] == event["event_id"].encode()


# --- 6. a producer that went fatal after an idle broker restart -------------------------------

def other_relays_start_first(servers: str, topic: str, relays: int = 3) -> None:
    """Other relays' producers initialise first on the restarted broker, which hands out producer ids
    from 1 again: one of them is given the id this relay's session still uses. Once they wrote to
    every partition, this relay's next batch is out of sequence, and librdkafka declares it fatal."""
    ensure_topics({"bootstrap.servers": servers}, [topic])
    for _ in range(relays):
        other = Producer({"bootstrap.servers": servers, "enable.idempotence": True})
        for partition in range(4):
            for _ in range(3):
                other.produce(topic, key=b"other", value=b"not an event", partition=partition)
        assert other.flush(10) == 0


def test_a_broker_restart_neither_wedges_the_relay_nor_loses_what_nobody_consumed(postgres_url: str) -> None:
    """One restart, both findings: events acknowledged but never consumed are lost with the broker's
    storage (re-driven after the window), and the relay's producer goes fatal (renewed, no attempt)."""
    broker = TestBroker()
    broker.start()
    try:
        with running_app("postgres+kafka", postgres_url, **kafka_overrides(broker.bootstrap_servers)) as app:
            for i in range(40):  # the relay's sequence numbers get past what the other relays will write
                create_supplier(app, f"Before {i}")
            assert app.run_worker().published == 40
            app.consumer.close()  # the consumers are stopped
            supplier_id = create_supplier(app, "Lossy")
            for i in range(50):
                ok(app.call("quality", "POST", "/ncs", json={"supplier_id": supplier_id, "severity": "low",
                                                             "description": f"finding {i}"}), 201)
            assert app.container.relay().drain().published == 51  # acknowledged; nobody consumes them
            broker.stop()
            broker.start()  # same port, empty: records, topics, groups and producer ids are gone
            other_relays_start_first(broker.bootstrap_servers, topic_for(prefix(app), "supplier"))
            app.consumer = kafka_consumer(app.container)  # and started again
            for i in range(100):
                create_supplier(app, f"After {i}")

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(audit(app)) < 140:
                app.run_worker()
                app.consumer.run_once(timeout=0.5)  # the other relays' records are dead-lettered meanwhile
            assert outbox(app, "FAILED") == []
            assert len(audit(app)) == 140 and kpis(app)["outbox_pending"] == 0
            assert all(e["attempts"] == 0 for e in outbox(app)), [e["last_error"] for e in outbox(app) if e["attempts"]]

            assert kpis(app)["events_unhandled"] == 0  # the 51 are not overdue yet
            app.clock.advance(301)
            assert kpis(app)["events_unhandled"] == 51
            while time.monotonic() < deadline + 30 and len(audit(app)) < 191:
                app.run_worker()
                app.consumer.run_once(timeout=0.5)
            published = outbox(app, "PUBLISHED")
            assert len(published) == 191
            per_event = Counter(e["event_id"] for e in audit(app))
            assert per_event == Counter({e["event_id"]: 1 for e in published})
            assert kpis(app)["events_unhandled"] == 0
            assert {e["handled_by"] for e in published} == {app.container.config.kafka_consumer_group()}
    finally:
        broker.stop()
