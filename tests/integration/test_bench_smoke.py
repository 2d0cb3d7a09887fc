"""The benchmarks still run: each once, seconds long (the real runs are `make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres
BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script, args", [
    ("outbox_throughput.py", ["--events", "200", "--handled-events", "40"]),
    ("order_flow.py", ["--orders", "4", "--lines", "12"]),
])
def test_benchmark_runs_and_prints_its_figures(script: str, args: list[str]) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith(("sqlite", "postgresql"))]
    assert len(lines) == 2 and all("/s" in line for line in lines), done.stdout
