"""GET /kpi and the lists as history grows: p50/p99 at 10k and at 1M audit + outbox rows, on PostgreSQL.

    .venv/bin/python bench/kpi_growth.py [--sizes 10000,1000000] [--requests 300] [--postgres URL]

Fills a scratch database of its own (dropped at the end) with bulk SQL: the audit log and the outbox
at the size given, NCs (half as many, 95% closed; with migration 0014 one CAPA action each), orders (a tenth) and 2,000 suppliers, then starts
`supplytrace serve --no-worker` on it and times sequential requests. Autovacuum is left as the
cluster has it and nothing is analysed or vacuumed by the bench. The counters are recounted after
each bulk load (bulk SQL bypasses the application); on a tree without them (before 0006) that step
is skipped, so the same script measures the old code too.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from adapters.outbound.sqlalchemy import migrate  # noqa: E402

GOAL_KPI_P99_MS = 10.0
SUPPLIERS = 2000
ENDPOINTS = {  # what is timed; the goal is the for /kpi, the same for /ncs
    "GET /health (floor: HTTP, no auth, no query)": "/health",
    "GET /kpi": "/kpi",
    "GET /ncs": "/ncs",
    "GET /ncs?status=OPEN": "/ncs?status=OPEN",
    "GET /ncs?status=INVESTIGATING": "/ncs?status=INVESTIGATING",
    "GET /ncs?supplier_id=7": "/ncs?supplier_id=7",
    "GET /audit-log": "/audit-log",
    "GET /audit-log?entity_type=nc&entity_id=7": "/audit-log?entity_type=nc&entity_id=7",
    "GET /orders?status=DELIVERED": "/orders?status=DELIVERED",
}
PASSWORD = "bench-password"


def fill(engine: sa.Engine, start: int, stop: int) -> None:
    """Rows start..stop-1 of the audit log and the outbox, with NCs and orders in proportion."""
    params = {"a": start, "b": stop - 1, "na": start // 2, "nb": stop // 2 - 1, "oa": start // 10,
              "ob": stop // 10 - 1, "suppliers": SUPPLIERS}
    statements = [
        """INSERT INTO audit_log (event_id, action, entity_type, entity_id, actor, correlation_id, occurred_at,
                                  recorded_at, details{chain_columns})
           SELECT gen_random_uuid(), (ARRAY['NC_CREATED','NC_CLOSED','SUPPLIER_CERT_UPDATED'])[1 + i % 3],
                  CASE WHEN i % 3 = 2 THEN 'supplier' ELSE 'nc' END, (i % 50000)::text, 'bench', 'c',
                  now() - make_interval(secs => CAST(:b AS bigint) - i), now(), jsonb_build_object('n', i){chain_values}
           FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS i""",
        """INSERT INTO outbox_events (event_id, event_type, aggregate_type, aggregate_id, occurred_at, actor,
                                      correlation_id, payload, status, attempts, last_error, next_attempt_at,
                                      created_at, published_at, handled_at, handled_by)
           SELECT gen_random_uuid(), 'NC_CREATED', 'nc', (i % 50000)::text, now(), 'bench', 'c',
                  jsonb_build_object('nc_id', i), st, CASE WHEN st = 'FAILED' THEN 5 ELSE 0 END,
                  CASE WHEN st = 'FAILED' THEN 'boom' END, now() + interval '1 day', now(),
                  CASE WHEN st = 'PUBLISHED' THEN now() END, CASE WHEN st = 'PUBLISHED' THEN now() END,
                  CASE WHEN st = 'PUBLISHED' THEN 'in-process' END
           FROM (SELECT i, CASE WHEN i % 1000 = 1 THEN 'FAILED' WHEN i % 1000 = 2 THEN 'PENDING'
                               ELSE 'PUBLISHED' END AS st FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS i) AS s""",
        """INSERT INTO non_conformities (supplier_id, severity, description, status, opened_at, closed_at{stamps}{capa})
           SELECT 1 + i % CAST(:suppliers AS int), (ARRAY['low','medium','high'])[1 + i % 3], 'bench',
                  CASE WHEN i % 20 = 0 THEN 'OPEN' ELSE 'CLOSED' END, now(),
                  CASE WHEN i % 20 = 0 THEN NULL ELSE now() END{stamp_values}{capa_values}
           FROM generate_series(CAST(:na AS bigint), CAST(:nb AS bigint)) AS i""",
        """INSERT INTO orders (id, status, declared_total, total_amount, ordered_at, created_at, updated_at, version,
                               customer_id)
           SELECT gen_random_uuid(), (ARRAY['RECEIVED','PICKING','IN_TRANSIT','DELIVERED','DELIVERED',
                  'DELIVERED','CANCELLED'])[1 + i % 7], 0, 0, now(), now() - make_interval(secs => CAST(:ob AS bigint) - i), now(), 1,
                  'C' || (i % 1000)
           FROM generate_series(CAST(:oa AS bigint), CAST(:ob AS bigint)) AS i""",
    ]
    with engine.begin() as conn:
        # a tree with the audit hash chain (ADR 0014): placeholder hashes, the bench only reads the rows
        chained = "hash" in {c["name"] for c in sa.inspect(conn).get_columns("audit_log")}
        statements[0] = statements[0].format(chain_columns=", prev_hash, hash" if chained else "",
                                             chain_values=", repeat('0', 64), repeat('0', 64)" if chained else "")
        # a tree with migration 0013 (ADR 0021): created_at/updated_at on NCs, updated_at on suppliers
        stamped = "updated_at" in {c["name"] for c in sa.inspect(conn).get_columns("suppliers")}
        # a tree with migration 0014 (ADR 0024): the investigation's columns and the actions
        capa = sa.inspect(conn).has_table("nc_actions")
        statements[2] = statements[2].format(stamps=", created_at, updated_at" if stamped else "",
                                             stamp_values=", now(), now()" if stamped else "",
                                             capa=", root_cause_category, closed_without_capa" if capa else "",
                                             capa_values=CAPA_VALUES if capa else "")
        if capa:  # 1 in 20 NCs open, of them a third INVESTIGATING and a third ACTION_PLANNED; closings and
            # openings spread over 180 days (avg_days_to_close_90d reads about half of the closed NCs)
            statements[2] = statements[2].replace(
                "CASE WHEN i % 20 = 0 THEN 'OPEN' ELSE 'CLOSED' END, now(),\n                  "
                "CASE WHEN i % 20 = 0 THEN NULL ELSE now() END",
                "CASE WHEN i % 20 <> 0 THEN 'CLOSED' WHEN i % 3 = 1 THEN 'INVESTIGATING' WHEN i % 3 = 2 "
                "THEN 'ACTION_PLANNED' ELSE 'OPEN' END, now() - make_interval(days => CAST(i % 180 + 3 AS int)), "
                "CASE WHEN i % 20 = 0 THEN NULL ELSE now() - make_interval(days => CAST(i % 180 AS int)) END")
            assert "INVESTIGATING" in statements[2]
        if start == 0:
            conn.execute(sa.text(f"INSERT INTO suppliers (name, certification_expiry, created_at"
                                 f"{', updated_at' if stamped else ''}) "
                                 "SELECT 'S' || i, CASE WHEN i % 20 = 0 THEN date '2020-01-01' "
                                 f"ELSE date '2030-01-01' END, now(){', now()' if stamped else ''} "
                                 "FROM generate_series(1, CAST(:suppliers AS int)) AS i"),
                         params)
        for statement in statements:
            conn.execute(sa.text(statement), params)
        if sa.inspect(conn).has_table("nc_actions"):  # a tree with migration 0014 (ADR 0024)
            fill_capa(conn)
        try:
            from adapters.outbound.sqlalchemy.counters import reset
        except ImportError:
            return  # a tree without counters: nothing to recount
        reset(conn)


CAPA_VALUES = (", (ARRAY['MATERIAL','METHOD','MACHINE','PEOPLE','MEASUREMENT'])[1 + i % 5], "
               "i % 20 <> 0 AND i % 3 = 2 AND i % 2 = 0")


def fill_capa(conn: sa.Connection) -> None:
    """One action per new NC (ADR 0024), in every status, due from 30 days back to 30 days ahead
    (actions_overdue / actions_due_7d read the partial index of the open ones)."""
    first = conn.execute(sa.text("SELECT coalesce(max(nc_id), 0) FROM nc_actions")).scalar_one()
    conn.execute(sa.text(
        """INSERT INTO nc_actions (nc_id, id, type, description, owner, due_date, effectiveness_criteria, status,
                                   created_at, updated_at)
           SELECT n.id, 1, 'CORRECTIVE', 'bench', 'quality', current_date + CAST(n.id % 61 - 30 AS int), 'criteria',
                  (ARRAY['PLANNED','IN_PROGRESS','DONE','VERIFIED','VERIFIED','INEFFECTIVE','CANCELLED'])[1 + n.id % 7],
                  now(), now()
           FROM non_conformities n WHERE n.id > :first"""), {"first": first})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "SUPPLYTRACE_DATABASE_URL": url, "SUPPLYTRACE_DEMO_PASSWORD": PASSWORD,
           "SUPPLYTRACE_ENV": "development", "SUPPLYTRACE_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "adapters.inbound.cli", "serve", "--no-worker", "--port",
                                str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code < 500:
                return process, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError("supplytrace serve did not start")
        time.sleep(0.2)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(base: str, requests: int) -> dict[str, tuple[float, float, object]]:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post("/auth/login", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        results = {}
        for label, path in ENDPOINTS.items():
            for _ in range(10):  # warm-up: connections, caches, statement cache
                client.get(path).raise_for_status()
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            body = response.json()
            shown = body.get("total") if "total" in body else body.get("audit_events_total")
            results[label] = (percentile(times, 0.5), percentile(times, 0.99), shown)
        return results


def in_process(url: str, requests: int) -> tuple[float, float, object]:
    """KpiQuery called directly (no HTTP, no token): what the database work costs."""
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    container = build_container(Settings(_env_file=None, database_url=url))
    try:
        query = container.kpi()
        for _ in range(10):
            query()
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            kpi = query()
            times.append((time.perf_counter() - started) * 1000)
        return percentile(times, 0.5), percentile(times, 0.99), kpi.audit_events_total
    finally:
        container.engine().dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,1000000", help="audit and outbox rows, comma separated, rising")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("SUPPLYTRACE_TEST_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    base = make_url(args.postgres)
    name = f"supplytrace_kpi_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    print(f"kpi_growth: load {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs, code from {migrate.__file__}")
    try:
        migrate.upgrade(engine)
        filled = 0
        for size in sizes:
            started = time.monotonic()
            fill(engine, filled, size)
            filled = size
            print(f"\nload {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {size:,} audit + {size:,} outbox rows, {size // 2:,} NCs, {size // 10:,} orders "
                  f"(filled in {time.monotonic() - started:.1f} s); goal p99 <= {GOAL_KPI_P99_MS:g} ms")
            process, base_url = serve(url)
            try:
                results = measure(base_url, args.requests)
                results["KpiQuery() in process (no HTTP)"] = in_process(url, args.requests)
            finally:
                process.terminate()
                process.wait(10)
            print(f"  {'endpoint':<44} {'p50 ms':>8} {'p99 ms':>8}  goal   total")
            for label, (p50, p99, total) in results.items():
                verdict = ("ok" if p99 <= GOAL_KPI_P99_MS else "MISS") if "floor" not in label else "-"
                print(f"  {label:<44} {p50:8.2f} {p99:8.2f}  {verdict:<5}  {total}")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
