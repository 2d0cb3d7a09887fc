"""Commit→handled latency, and the broker's own produce→consume floor.

Commit side: the writer process notes the monotonic time (system-wide on Linux) right after each use-case
call returned, i.e. after the business transaction with its outbox row committed.
Handled side: the bench adds to its scratch copy of the database an AFTER INSERT trigger on audit_log
that sends `pg_notify('bench_audit', entity_type:entity_id)`. PostgreSQL delivers a notification when the
inserting transaction commits, so the bench's listener sees the instant the audit row became visible —
the handler's commit — without any change to the product and without polling. The trigger costs the
handler's transaction one notify per row; it is installed only for this scenario.
Also reported (in the notes): the audit log's own occurred_at → recorded_at, which starts before the
writer's commit and ends before the handler's commit.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any


import common
from common import connect, log, percentile

TRIGGER = """
CREATE FUNCTION bench_audit_notify() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
    PERFORM pg_notify('bench_audit', NEW.entity_type || ':' || NEW.entity_id);
    RETURN NULL;
END $$;
CREATE TRIGGER bench_audit_notify AFTER INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION bench_audit_notify();
"""


class Listener(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.conn = connect(url)
        self.conn.execute("LISTEN bench_audit")
        self.seen: dict[str, float] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for notification in self.conn.notifies(timeout=0.2):
                self.seen[notification.payload] = time.monotonic()

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.conn.close()


def read_writes(paths: list[Path]) -> dict[str, float]:
    writes = {}
    for path in paths:
        for line in path.read_text().splitlines():
            key, at = line.split()
            writes[f"nc:{key}"] = float(at)
    return writes


def measure_latency(bench: Any, plans: list[tuple[str, float, float, bool]], settings: dict[str, Any]) -> dict[str, Any]:
    dbs = bench.databases
    template, _ = bench.template("nc", 0)
    name = dbs.clone(template)
    url, owner = dbs.url(name), dbs.url(name, owner=True)
    with connect(owner) as conn:
        conn.execute(TRIGGER)
    listener = Listener(owner)
    listener.start()
    worker = bench.worker(url, "worker-latency", **settings)
    results: dict[str, Any] = {}
    try:
        common.wait_drained(owner, common.SUPPLIERS, [worker], 90)  # warm: the suppliers' events handled
        for label, rate, seconds, jitter in plans:
            idle = label == "idle"
            running, outputs, _ = bench.writers(url, seconds=seconds, rate=rate, processes=1 if rate <= 200 else 2,
                                                threads=1 if idle else 8, out=True, jitter=jitter)
            bench.finish_writers(running)
            writes = read_writes(outputs)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(key not in listener.seen for key in writes):
                worker.check()
                time.sleep(0.05)
            latencies = [1000 * (listener.seen[key] - at) for key, at in writes.items() if key in listener.seen]
            with connect(owner) as conn:
                audit = [row[0] for row in conn.execute(
                    "SELECT 1000 * extract(epoch FROM recorded_at - occurred_at)::float FROM audit_log "
                    "WHERE entity_type = 'nc' AND entity_id = ANY(%s)", ([k[3:] for k in writes],))]
            results[label] = {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                              "offered": len(writes) / seconds, "lost": len(writes) - len(latencies),
                              "audit_p50": percentile(audit, 50), "audit_p99": percentile(audit, 99),
                              "events": len(writes)}
            log(f"latency {settings.get('event_mode', 'polling')} {label}: {results[label]}")
            time.sleep(0.5)
    finally:
        worker.stop()
        listener.stop()
        dbs.drop(name)
    return results


def kafka_floor(servers: str, plans: list[tuple[str, float, float, bool]]) -> dict[str, Any]:
    """confluent_kafka alone on the same broker: an idempotent acks=all producer (linger 0) and a consumer-group
    member polling in its own thread; latency = consumed − just before produce(), per message, same plans."""
    import random

    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"floor-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": servers})
    for future in admin.create_topics([NewTopic(topic, 4, 1)]).values():
        future.result(15)
    producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True, "acks": "all", "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": servers, "group.id": f"floor-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False, "session.timeout.ms": 6000})
    consumer.subscribe([topic])
    received: dict[str, float] = {}
    stopping = threading.Event()

    def consume() -> None:
        while not stopping.is_set():
            for message in consumer.consume(100, 0.1):
                if not message.error():
                    received[message.value().decode()] = time.monotonic()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    results: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 30
        while "warm" not in received and time.monotonic() < deadline:  # joined the group, partitions assigned
            producer.produce(topic, b"warm", key=b"warm")
            producer.flush(5)
            time.sleep(0.3)
        for label, rate, seconds, jitter in plans:
            sent: dict[str, float] = {}
            t0 = time.monotonic() + 0.2
            k = 0
            while True:
                due = t0 + (k + (random.random() if jitter else 0)) / rate
                if due >= t0 + seconds:
                    break
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                key = f"{label}-{k}"
                sent[key] = time.monotonic()
                producer.produce(topic, key.encode(), key=str(k % 97).encode())
                producer.poll(0)
                k += 1
            producer.flush(10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and any(key not in received for key in sent):
                time.sleep(0.02)
            latencies = [1000 * (received[key] - at) for key, at in sent.items() if key in received]
            results[label] = {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
                              "lost": len(sent) - len(latencies)}
            log(f"kafka floor {label}: {results[label]}")
    finally:
        stopping.set()
        thread.join(5)
        consumer.close()
    return results
