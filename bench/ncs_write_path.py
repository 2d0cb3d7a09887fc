"""POST /ncs against `supplytrace serve --no-worker` on PostgreSQL: writes/s, latency and the server's CPU
per request at 1, 4 and 16 client threads, beside a bare FastAPI + SQLAlchemy one-insert endpoint.

    .venv/bin/python bench/ncs_write_path.py [--requests 2000] [--threads 1,4,16] [--postgres URL]

A scratch database of its own (dropped at the end). CPU per request is the server process's
user + system time over the run divided by the requests (the client runs in this process).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from adapters.outbound.sqlalchemy import migrate  # noqa: E402

PASSWORD = "bench-password"
BARE_APP = """
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import BaseModel
engine = sa.create_engine(URL, pool_size=40, max_overflow=10, pool_pre_ping=True)
app = FastAPI()
class In(BaseModel):
    supplier_id: int
    severity: str
    description: str
@app.post("/ncs", status_code=201)
def create(body: In):
    with engine.begin() as conn:
        row = conn.execute(sa.text("INSERT INTO bare_ncs (supplier_id, severity, description) "
                                   "VALUES (:s, :v, :d) RETURNING id"), {"s": body.supplier_id, "v": body.severity,
                                                                          "d": body.description}).one()
    return {"id": row.id, **body.model_dump()}
@app.get("/health")
def health():
    return {"status": "ok"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{command} did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(base: str, headers: dict[str, str], body: dict, requests: int, threads: int, pid: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // threads

    def run() -> None:
        mine = []
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for _ in range(per_thread):
                started = time.perf_counter()
                response = client.post("/ncs", json=body)
                mine.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 201, response.text
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
            "cpu_ms": cpu / len(latencies) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", default="1,4,16")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare reference endpoint")
    parser.add_argument("--postgres", default=os.environ.get("SUPPLYTRACE_TEST_POSTGRES_URL",
                                                             "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    base = make_url(args.postgres)
    name = f"supplytrace_write_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    print(f"ncs_write_path: load {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, code from {migrate.__file__}")
    processes: list[subprocess.Popen] = []
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            # a tree with migration 0013 has suppliers.updated_at (ADR 0021); a baseline tree may not
            stamped = "updated_at" in {c["name"] for c in sa.inspect(conn).get_columns("suppliers")}
            conn.execute(sa.text(f"INSERT INTO suppliers (name, certification_expiry, created_at"
                                 f"{', updated_at' if stamped else ''}) "
                                 f"VALUES ('Beta', '2030-01-01', now(){', now()' if stamped else ''})"))
            conn.execute(sa.text("CREATE TABLE bare_ncs (id serial PRIMARY KEY, supplier_id int NOT NULL, "
                                 "severity text NOT NULL, description text NOT NULL)"))
        body = {"supplier_id": 1, "severity": "low", "description": "bench"}
        port = free_port()
        env = {**os.environ, "SUPPLYTRACE_DATABASE_URL": url, "SUPPLYTRACE_DEMO_PASSWORD": PASSWORD,
               "SUPPLYTRACE_LOG_LEVEL": "WARNING",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
        server = start([sys.executable, "-m", "adapters.inbound.cli", "serve", "--no-worker", "--port", str(port)],
                       env, port)
        processes.append(server)
        base_url = f"http://127.0.0.1:{port}"
        token = httpx.post(f"{base_url}/auth/login", data={"username": "quality", "password": PASSWORD}).json()
        targets = [("supplytrace", base_url, {"Authorization": f"Bearer {token['access_token']}"}, server.pid)]
        if not args.no_bare:
            bare_port = free_port()
            code = f"URL = {url!r}\n{BARE_APP}\nimport uvicorn\nuvicorn.run(app, port={bare_port}, access_log=False)"
            bare = start([sys.executable, "-c", code], env, bare_port)
            processes.append(bare)
            targets.append(("bare", f"http://127.0.0.1:{bare_port}", {}, bare.pid))
        print(f"  {'endpoint':<12} {'threads':>7} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}")
        for threads in (int(t) for t in args.threads.split(",")):
            for label, url_, headers, pid in targets:
                load(url_, headers, body, min(200, args.requests), threads, pid)  # warm-up
                r = load(url_, headers, body, args.requests, threads, pid)
                print(f"  {label:<12} {threads:>7} {r['rate']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
                      f"{r['cpu_ms']:>11.2f}")
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
