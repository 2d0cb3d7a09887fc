"""The KPI growth and write path benchmarks still run: each once, a few seconds (the real runs print the figures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.postgres
BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("script, args, expected", [
    ("kpi_growth.py", ["--ncs", "50,150", "--requests", "5"],
     ["GET /kpi at 150 NCs", "GET /ncs", "KpiQuery()", "SQL the counters",
      "SQL the counts (at risk", "/kpi at 150 NCs: nc_by_status"]),
    ("ncs_write_path.py", ["--requests", "20", "--threads", "1,2"], ["supplytrace", "bare"]),
])
def test_benchmark_runs_and_prints_its_figures(script: str, args: list[str], expected: list[str]) -> None:
    done = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    for label in expected:
        assert any(line.strip().startswith(label) for line in done.stdout.splitlines()), done.stdout
