"""What every scenario shares: scratch databases and their clones, the product's processes, reads of the audit log.

The bench drives SupplyTrace only through its public surfaces: the `supplytrace` CLI as real processes,
HTTP, the use cases of `bootstrap.container`, and SQL reads of the audit log (what "handled" means: every
handled event leaves exactly one audit row). It never imports the relay, the dispatcher or the loops, so it
keeps working while the delivery engine is rebuilt.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BENCH = ROOT / "bench"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.databases import ScratchPostgres, postgres_admin_url  # noqa: E402

PASSWORD = "bench-demo-password"
SUPPLIERS = 20  # created in every template: their SUPPLIER_CREATED events come first
LOGS = Path(tempfile.mkdtemp(prefix="supplytrace-bench-"))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {loadavg()}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def libpq(url: str) -> str:
    """A SQLAlchemy URL (postgresql+psycopg://…) as a libpq one for raw psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- databases ----------------------------------------------------------------------------------

class Databases:
    """One ScratchPostgres (migrated, with its runtime role) and the clones made from templates of it.

    A template is seeded once through the use cases; each measured run gets a clone
    (`CREATE DATABASE … TEMPLATE …`, a file copy), so seeding is never counted and every run starts from
    the same backlog. A clone keeps the runtime role's grants (they live in the database).
    """

    def __init__(self) -> None:
        self.base = ScratchPostgres()
        self.admin = psycopg.connect(libpq(postgres_admin_url()), autocommit=True)
        self.created: list[str] = []

    def url(self, name: str, owner: bool = False) -> str:
        template = self.base.owner_url if owner else self.base.url
        return template.rsplit("/", 1)[0] + "/" + name

    def clone(self, template: str | None = None) -> str:
        """A new database copied from `template` (default: the migrated, empty base); returns its name."""
        name = f"{self.base.name}_{uuid.uuid4().hex[:6]}"
        source = template or self.base.name
        for attempt in range(50):
            try:
                self.admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
                break
            except psycopg.errors.ObjectInUse:  # a connection to the template is still closing
                time.sleep(0.1)
        else:
            raise RuntimeError(f"template {source} stays in use")
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(name)
        self.admin.close()
        self.base.drop()


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq(url), autocommit=True)


def scalar(conn: psycopg.Connection, sql: str, *args: Any) -> Any:
    return conn.execute(sql, args or None).fetchone()[0]


@dataclass
class AuditSpan:
    rows: int
    first: datetime | None
    last: datetime | None
    at_first: int

    def rate(self) -> float:
        """Events/s from the audit log's own clock: the rows after the first instant over the span.

        Neither the processes' start-up nor the bench's polling period is counted."""
        if self.first is None or self.last is None or self.last <= self.first:
            return float("nan")
        return (self.rows - self.at_first) / (self.last - self.first).total_seconds()


def audit_count(conn: psycopg.Connection) -> int:
    return scalar(conn, "SELECT count(*) FROM audit_log")


def audit_span(conn: psycopg.Connection) -> AuditSpan:
    rows, first, last = conn.execute("SELECT count(*), min(recorded_at), max(recorded_at) FROM audit_log").fetchone()
    at_first = scalar(conn, "SELECT count(*) FROM audit_log WHERE recorded_at = %s", first) if first else 0
    return AuditSpan(rows, first, last, at_first)


def dead_tuples(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT relname, n_dead_tup FROM pg_stat_user_tables ORDER BY relname").fetchall()
    return {name: dead for name, dead in rows}


# --- the product's processes --------------------------------------------------------------------

def product_env(database_url: str, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPLYTRACE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT)])
    env["SUPPLYTRACE_DATABASE_URL"] = database_url
    env["SUPPLYTRACE_DEMO_PASSWORD"] = PASSWORD
    for key, value in settings.items():
        env[f"SUPPLYTRACE_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def rss_kb(self) -> tuple[int, int]:
        """VmRSS and VmHWM (peak) of the process, in kB."""
        values = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
        return values["VmRSS"], values["VmHWM"]

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn(name: str, args: Iterable[str], env: dict[str, str]) -> Process:
    """`python -m adapters.inbound.cli ARGS` (= the `supplytrace` command of this tree), logs to a file."""
    path = LOGS / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with path.open("w") as output:
        popen = subprocess.Popen([sys.executable, "-m", "adapters.inbound.cli", *args], cwd=str(LOGS), env=env,
                                 stdout=output, stderr=subprocess.STDOUT)
    return Process(name, popen, path)


def spawn_script(name: str, script: str, args: Iterable[str], env: dict[str, str] | None = None) -> Process:
    path = LOGS / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with path.open("w") as output:
        popen = subprocess.Popen([sys.executable, str(BENCH / script), *args], cwd=str(LOGS),
                                 env=env or product_env(""), stdout=output, stderr=subprocess.STDOUT)
    return Process(name, popen, path)


def wait_http(url: str, process: Process, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        process.check()
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not answer {url} within {timeout} s:\n{process.tail()}")
        time.sleep(0.1)


@dataclass
class Drain:
    """The outcome of one drain: how many events the audit log holds, at what rate, and whether it finished."""

    handled: int
    expected: int
    rate: float
    wall_seconds: float
    finished: bool


def wait_drained(url: str, expected: int, processes: Sequence[Process], timeout: float,
                 done: Any = None, poll: float = 0.2) -> Drain:
    """Polls the audit row count until `expected` rows (or `done(conn)`), the processes alive; then the rate
    from the audit log's recorded_at span. A timeout reports the rate of what was handled by then."""
    started = time.monotonic()
    finished = False
    with connect(url) as conn:
        while time.monotonic() - started < timeout:
            for process in processes:
                process.check()
            count = audit_count(conn)
            if (done(conn) if done is not None else count >= expected):
                finished = True
                break
            time.sleep(poll)
        span = audit_span(conn)
    return Drain(span.rows, expected, span.rate(), time.monotonic() - started, finished)


def median_range(values: Sequence[float]) -> tuple[float, float, float]:
    clean = [v for v in values if v == v]
    if not clean:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(clean), min(clean), max(clean)
