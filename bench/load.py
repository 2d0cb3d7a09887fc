"""The HTTP load generator: threads, each with one keep-alive connection (http.client: little client CPU)."""

from __future__ import annotations

import http.client
import json
import resource
import threading
import time
from typing import Any

import httpx

from common import Process, percentile

BODY = json.dumps({"supplier_id": 1, "severity": "low", "description": "bench write"}).encode()


def login(port: int, role: str, password: str) -> str:
    response = httpx.post(f"http://127.0.0.1:{port}/auth/login", data={"username": role, "password": password},
                          timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def hammer(port: int, headers: dict[str, str], clients: int, seconds: float, server: Process) -> dict[str, Any]:
    """`clients` threads POST /ncs back to back for `seconds`; writes/s, latency, CPU per write."""
    headers = {"Content-Type": "application/json", **headers}
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for _ in range(3):  # warm: connection, pool, token cache
            conn.request("POST", "/ncs", BODY, headers)
            conn.getresponse().read()
        barrier.wait()
        end = time.perf_counter() + seconds
        while True:
            started = time.perf_counter()
            if started >= end:
                break
            try:
                conn.request("POST", "/ncs", BODY, headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 201
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if ok:
                latencies[n].append(time.perf_counter() - started)
            else:
                errors[n] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    server_cpu, client_cpu = server.cpu_seconds(), _client_cpu()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    server_cpu, client_cpu = server.cpu_seconds() - server_cpu, _client_cpu() - client_cpu
    done = [latency for lane in latencies for latency in lane]
    writes = max(1, len(done))
    return {"rate": len(done) / elapsed, "p50": 1000 * percentile(done, 50), "p99": 1000 * percentile(done, 99),
            "errors": sum(errors), "server_cpu_ms": 1000 * server_cpu / writes, "client_cpu_ms": 1000 * client_cpu / writes}


def post_ncs(port: int, token: str, count: int) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"},
                      timeout=60) as client:
        for n in range(count):
            response = client.post("/ncs", json={"supplier_id": 1 + n % 20, "severity": "low",
                                                 "description": f"rss write {n}"})
            response.raise_for_status()
            if n % 20 == 0:
                client.get("/kpi").raise_for_status()
