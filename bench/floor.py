"""The set-based floor: the least work per event, in raw psycopg, on the same database as the product.

Per batch of 100, in one transaction: claim the oldest PENDING rows with FOR UPDATE SKIP LOCKED, one
multi-row insert into an audit-like table and one into a processed-like table (INSERT … SELECT from the
claimed rows), mark the batch published, commit. Tables of
its own (floor_*) shaped like outbox_events / audit_log / processed_events, with a partial index on the
pending rows, in a database of their own. `workers` processes drain the same backlog.
"""

from __future__ import annotations

import multiprocessing
import time

import psycopg

SCHEMA = """
CREATE TABLE floor_outbox (
    position bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, event_type varchar(100) NOT NULL,
    aggregate_type varchar(50) NOT NULL, aggregate_id varchar(100) NOT NULL, occurred_at timestamptz NOT NULL,
    actor varchar(100) NOT NULL, correlation_id varchar(100) NOT NULL, payload jsonb NOT NULL,
    status varchar(10) NOT NULL, attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL, published_at timestamptz);
CREATE INDEX floor_outbox_due ON floor_outbox (position) WHERE status = 'PENDING';
CREATE TABLE floor_audit (
    id bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, action varchar(100) NOT NULL,
    entity_type varchar(50) NOT NULL, entity_id varchar(100) NOT NULL, actor varchar(100) NOT NULL,
    correlation_id varchar(100) NOT NULL, occurred_at timestamptz NOT NULL, recorded_at timestamptz NOT NULL,
    details jsonb NOT NULL);
CREATE TABLE floor_processed (
    handler varchar(100) NOT NULL, event_id uuid NOT NULL, processed_at timestamptz NOT NULL,
    PRIMARY KEY (handler, event_id));
"""

SEED = """
INSERT INTO floor_outbox (event_id, event_type, aggregate_type, aggregate_id, occurred_at, actor, correlation_id,
                          payload, status, next_attempt_at, created_at)
SELECT gen_random_uuid(), 'NC_CREATED', 'nc', n::text, now(), 'bench', gen_random_uuid()::text,
       jsonb_build_object('nc_id', n, 'supplier_id', n %% 20, 'severity', 'low',
                          'description', 'bench nc ' || n, 'status', 'OPEN', 'opened_at', now()),
       'PENDING', now(), now()
FROM generate_series(1, %s) AS n
"""

CLAIM = """
SELECT position FROM floor_outbox WHERE status = 'PENDING' AND next_attempt_at <= now()
ORDER BY position LIMIT %s FOR UPDATE SKIP LOCKED
"""

# the handlers' writes as multi-row inserts computed by the server from the claimed rows: the floor sends
# only the claimed positions back, not the rows (sending them costs the client ~10 ms a batch in adaptation)
AUDIT = """
INSERT INTO floor_audit (event_id, action, entity_type, entity_id, actor, correlation_id, occurred_at, recorded_at,
                         details)
SELECT event_id, event_type, aggregate_type, aggregate_id, actor, correlation_id, occurred_at, now(), payload
FROM floor_outbox WHERE position = ANY(%s)
"""
PROCESSED = "INSERT INTO floor_processed (handler, event_id, processed_at) " \
            "SELECT 'audit_trail', event_id, now() FROM floor_outbox WHERE position = ANY(%s)"
MARK = "UPDATE floor_outbox SET status = 'PUBLISHED', published_at = now() WHERE position = ANY(%s)"


def prepare(dsn: str, events: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(SEED, (events,))
        conn.execute("ANALYZE floor_outbox")  # the floor is the best plan: an index scan of the pending rows


def _drain(dsn: str, batch: int, start: multiprocessing.Event, results: multiprocessing.Queue) -> None:  # type: ignore[name-defined]
    handled = 0
    with psycopg.connect(dsn) as conn:
        conn.execute("SELECT 1")
        conn.commit()
        start.wait()
        while True:
            with conn.transaction():
                rows = conn.execute(CLAIM, (batch,)).fetchall()
                if rows:
                    positions = [row[0] for row in rows]
                    conn.execute(AUDIT, (positions,))
                    conn.execute(PROCESSED, (positions,))
                    conn.execute(MARK, (positions,))
            if not rows:
                break
            handled += len(rows)
    results.put((handled, time.monotonic()))


def measure(dsn: str, events: int, workers: int, batch: int = 100) -> float:
    """Events/s of `workers` processes draining a fresh backlog of `events` (the tables must be new)."""
    prepare(dsn, events)
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_drain, args=(dsn, batch, start, results)) for _ in range(workers)]
    for process in processes:
        process.start()
    time.sleep(0.5)  # connected and waiting
    began = time.monotonic()
    start.set()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join()
    handled = sum(h for h, _ in outcomes)
    assert handled == events, (handled, events)
    return handled / (max(at for _, at in outcomes) - began)
