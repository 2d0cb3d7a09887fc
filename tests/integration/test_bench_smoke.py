"""The benchmark still runs: `bench/run.py --smoke`, every scenario with tiny sizes (the figures come from `make bench`).

The smoke run needs PostgreSQL and starts its own test broker (Tansu, as the kafka_broker fixture does) for
the Kafka rows, so it is never skipped; the RabbitMQ rows use the machine's RabbitMQ (a vhost of their own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]

FIGURES = [
    "polling PG, NC events handled/s, 1 worker",
    "polling PG, NC events handled/s, 2 workers",
    "polling PG, 1 worker: events/s with the delivery timeline",
    "polling PG, 1 worker: events/s with metrics (vs without)",
    "polling PG, 1 worker: events/s with metrics + tracing",
    "POST /ncs, 4 clients: writes/s with metrics + tracing",
    "polling PG, 1 worker: events/s with INFO handler lines",
    "order events handled/s",
    "Kafka mode drain",
    "latency polling, idle",
    "latency polling, 200/s",
    "latency polling, 1,000/s",
    "latency Kafka, idle",
    "latency Kafka, 200/s",
    "latency Kafka, 1,000/s",
    "RabbitMQ mode drain",
    "latency RabbitMQ, idle",
    "latency RabbitMQ, 200/s",
    "latency RabbitMQ, 1,000/s",
    "POST /ncs writes/s, 1 client",
    "POST /ncs writes/s, 4 clients",
    "POST /ncs writes/s, 16 clients",
    "sustained",
    "RSS of `serve`",
    "RSS of `worker`",
    "SQLite file",
]


def test_the_bench_prints_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "smoke"
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--output", str(output)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-4000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and not line.startswith("| figure")]
    for figure in FIGURES:
        matching = [row for row in rows if row.startswith(f"| {figure}")]
        assert len(matching) == 1, f"{figure!r} not printed once:\n{done.stdout}"
        cells = [cell.strip() for cell in matching[0].strip("|").split("|")]
        assert len(cells) == 6 and cells[2] not in ("", "none", "failed"), matching[0]
        assert cells[4].startswith(("yes", "NO", "n/a")) and cells[5].count(".") == 3, matching[0]  # met?, load average
    assert "load average at end" in done.stdout
    saved = json.loads(output.with_suffix(".json").read_text())
    assert len(saved["rows"]) == len(rows)
    assert output.with_suffix(".md").read_text().strip() == done.stdout.strip()
