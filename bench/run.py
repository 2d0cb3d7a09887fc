"""`make bench`: every benchmark of issues 10 and 11, one table.

    .venv/bin/python bench/run.py [--smoke] [--only NAME[,NAME…]] [--runs 3] [--events 20000] …

Each figure is the median of --runs runs (min–max beside it), next to the reference the bench measures in
the same run where one applies, and the machine's load average (os.getloadavg: 1, 5, 15 minutes) when the
figure was taken. The table is printed and written to bench/last-run.md and bench/last-run.json.

Scenarios (--only takes their names):
  polling  NC events fully handled/s, `supplytrace worker` ×1 and ×2 on PostgreSQL, all real handlers,
           against the set-based floor (bench/floor.py) measured with 1 and 2 connections in the same run
  timeline the same one-worker drain with and without the delivery timeline's steps (their cost)
  metrics  the same one-worker drain with metrics on and off (SUPPLYTRACE_METRICS_ENABLED: the observer's cost)
  observability  the drain and `POST /ncs` (4 clients) with neither metrics nor tracing, and with both (spans
           exported over OTLP/HTTP to a local sink the bench runs)
  logs     the same one-worker drain at SUPPLYTRACE_LOG_LEVEL=INFO (a line per handler and event) and WARNING
  baseline the same one-worker drain, this tree against --baseline DIR (a checkout of another commit), interleaved
  orders   order events fully handled/s, one worker, fulfilment on with step 0
  kafka    Kafka mode: the backlog delivered through the test broker and consumed with the handlers
  latency  commit→handled p50/p99, idle / 200/s / 1,000/s offered, polling and Kafka; Kafka's goal against
           the produce→consume floor of confluent_kafka on the same broker
  rabbitmq RabbitMQ mode (the machine's RabbitMQ, a vhost of the bench's own): the kafka scenario's drain and
           the latency scenario's commit→handled p50/p99, printed beside Kafka's and polling's of this run
  http     `POST /ncs` writes/s at 1, 4, 16 clients against bench/bare_app.py
  sustain  a writer at 80% of the measured one-worker drain rate for --sustain-seconds: handled/s per
           minute, backlog and dead tuples
  rss      VmRSS of `serve` and `worker` after --rss-events events
  sqlite   SQLite file, `serve` with its embedded worker: events handled/s (reported, no goal)

How "handled" is counted: an event is handled when its audit row exists (every handled event leaves exactly
one; the audit handler runs for every event type). Throughput is the audit rows after the first recorded
instant divided by the span of audit_log.recorded_at, so process start-up and the bench's polling are not
counted. Backlogs are seeded once per size through the use cases (bench/writer.py) into a template
database and every run drains a fresh copy of it (CREATE DATABASE … TEMPLATE).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import floor  # noqa: E402
from common import (  # noqa: E402
    LOGS,
    PASSWORD,
    Databases,
    Process,
    connect,
    free_port,
    libpq,
    loadavg,
    log,
    median_range,
    product_env,
    spawn,
    spawn_script,
    wait_drained,
    wait_http,
)

SCENARIOS = ["polling", "timeline", "observability", "metrics", "logs", "baseline", "orders", "kafka", "latency", "rabbitmq",
             "http",
             "sustain", "rss", "sqlite"]
SUPPLIERS = common.SUPPLIERS


class Writer:
    """One writer: a process running bench/writer.py, or a thread running its run_writer()."""

    def __init__(self, options: dict[str, Any], inprocess: bool) -> None:
        self.summary: dict[str, Any] | None = None
        self.process: Process | None = None
        self.thread: threading.Thread | None = None
        if inprocess:
            from writer import run_writer

            def target() -> None:
                try:
                    self.summary = run_writer(**options)
                except Exception as error:  # noqa: BLE001 - reported by wait()
                    self.summary = {"written": 0, "errors": [f"{type(error).__name__}: {error}"]}

            self.thread = threading.Thread(target=target, daemon=True)
            self.thread.start()
            return
        argv = []
        for key, value in options.items():
            if key == "suppliers":
                value = ",".join(map(str, value))
            if key == "jitter":
                argv += ["--jitter"] if value else []
            elif key == "t0":
                argv += ["--t0", f"{value:.6f}"]
            elif value not in ("", 0, 0.0):
                argv += [f"--{key}", str(value)]
        self.process = spawn_script(f"writer-{options['kind']}", "writer.py", argv)

    def wait(self, timeout: float = 3600) -> dict[str, Any]:
        if self.thread is not None:
            self.thread.join(timeout)
            return self.summary or {"written": 0, "errors": ["writer thread still running"]}
        assert self.process is not None
        try:
            self.process.popen.wait(timeout)
        except Exception:  # noqa: BLE001 - a writer past the cap is stopped; what it wrote counts
            self.process.stop()
        lines = [line for line in self.process.tail(20000).splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {"written": 0, "errors": [self.process.tail()]}


# --- the table ------------------------------------------------------------------------------------

@dataclass
class Row:
    figure: str
    goal: str
    measured: str
    reference: str = "—"
    met: str = "n/a"
    load: str = field(default_factory=loadavg)
    values: list[float] = field(default_factory=list)
    note: str = ""


def fmt_rate(values: list[float], unit: str = "/s") -> str:
    median, low, high = median_range(values)
    if math.isnan(median):
        return "none"
    if len(values) == 1:
        return f"{median:,.0f}{unit}"
    return f"{median:,.0f}{unit} ({low:,.0f}–{high:,.0f})"


def fmt_ms(values: list[float]) -> str:
    median, low, high = median_range(values)
    if math.isnan(median):
        return "none"
    if len(values) == 1:
        return f"{median:.1f} ms"
    return f"{median:.1f} ms ({low:.1f}–{high:.1f})"


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "NO")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[Row] = []
        self.details: dict[str, Any] = {}
        self.dbs: Databases | None = None
        self.broker: Any = None
        self.vhost: Any = None  # tests.support.rabbitmq.TestVhost, made on first use
        self.templates: dict[str, tuple[str, int]] = {}
        self.drain_rate_1w: float | None = None
        self.lock = threading.RLock()  # the smoke run runs the scenarios side by side
        self.local = threading.local()
        self.order: list[tuple[int, int]] = []

    # --- infrastructure ---------------------------------------------------------------------

    @property
    def databases(self) -> Databases:
        with self.lock:
            if self.dbs is None:
                self.dbs = Databases()
            return self.dbs

    def kafka(self) -> str:
        with self.lock:
            return self._kafka()

    def _kafka(self) -> str:
        if self.broker is None:
            from tests.support.broker import TestBroker

            self.broker = TestBroker()
            self.broker.start()
        return self.broker.bootstrap_servers

    def rabbitmq(self) -> str:
        with self.lock:
            if self.vhost is None:
                from tests.support.rabbitmq import create_vhost

                self.vhost = create_vhost()
            return self.vhost.url

    def rabbitmq_settings(self) -> dict[str, Any]:
        return {"event_mode": "rabbitmq", "rabbitmq_url": self.rabbitmq(), "rabbitmq_prefix": f"b{uuid.uuid4().hex[:8]}"}

    def close(self) -> None:
        if self.vhost is not None:
            from tests.support.rabbitmq import delete_vhost

            delete_vhost(self.vhost)
        if self.dbs is not None:
            self.dbs.close()
        if self.broker is not None:
            self.broker.stop()

    def add(self, row: Row) -> None:
        with self.lock:
            self.rows.append(row)
            self.order.append((SCENARIOS.index(getattr(self.local, "scenario", SCENARIOS[0])), len(self.rows)))
        log(f"{row.figure}: {row.measured} | ref {row.reference} | goal {row.goal} | met {row.met}")

    def kafka_settings(self) -> dict[str, Any]:
        tag = uuid.uuid4().hex[:8]
        return {"event_mode": "kafka", "kafka_bootstrap_servers": self.kafka(), "kafka_topic_prefix": f"b{tag}",
                "kafka_consumer_group": f"g{tag}", "kafka_session_timeout_ms": 6000}

    def writers(self, url: str, kind: str = "nc", count: int = 0, seconds: float = 0, rate: float = 0,
                processes: int = 2, threads: int = 4, out: bool = False, jitter: bool = False,
                delay: float = 4.0) -> tuple[list[Writer], list[Path], float]:
        """Writers (bench/writer.py) sharing one schedule that starts `delay` s from now: processes of their own,
        or, for the smoke run (a process start costs seconds of CPU), threads of the bench process."""
        inprocess = self.args.smoke
        t0 = time.monotonic() + (min(delay, 0.2) if inprocess else delay)
        suppliers = list(range(1, SUPPLIERS + 1))
        running, outputs = [], []
        for p in range(processes):
            share = count // processes + (1 if p < count % processes else 0)
            output = LOGS / f"writes-{uuid.uuid4().hex[:6]}.txt"
            options = {"url": url, "kind": kind, "suppliers": suppliers, "count": share, "seconds": seconds,
                       "rate": rate, "threads": threads, "process": p, "processes": processes, "t0": t0,
                       "jitter": jitter, "out": str(output) if out else ""}
            if out:
                outputs.append(output)
            running.append(Writer(options, inprocess))
        return running, outputs, t0

    @staticmethod
    def finish_writers(running: list[Writer], timeout: float = 3600) -> dict[str, Any]:
        summaries = [writer.wait(timeout) for writer in running]
        errors = [e for summary in summaries for e in summary["errors"]]
        if errors:
            raise RuntimeError(f"writer failed: {errors[:2]}")
        return {"written": sum(summary["written"] for summary in summaries)}

    def template(self, kind: str, count: int) -> tuple[str, int]:
        """A database holding the suppliers and `count` NCs (or orders) with their events unhandled; cached.
        Returns its name and the number of events it holds (for orders: the orders placed)."""
        with self.lock:
            return self._template(kind, count)

    def _template(self, kind: str, count: int) -> tuple[str, int]:
        key = f"{kind}:{count}"
        if key in self.templates:
            return self.templates[key]
        dbs = self.databases
        name = dbs.clone()
        url = dbs.url(name)
        dbs.admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')  # seeding only; clones reset
        started = time.monotonic()
        from application.envelope import Origin
        from bootstrap.container import build_container
        from bootstrap.settings import Settings
        from datetime import date

        container = build_container(Settings(_env_file=None, database_url=url, demo_password=PASSWORD))
        create = container.create_supplier()
        for n in range(SUPPLIERS):
            create(f"Bench supplier {n}", date(2031, 1, 1), Origin("bench", "bench"))
        container.engine().dispose()
        events = SUPPLIERS
        if count:
            running, _, _ = self.writers(url, kind, count=count, delay=0)
            events += self.finish_writers(running)["written"]
        dbs.admin.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')
        log(f"template {key}: {events} events seeded in {time.monotonic() - started:.1f} s")
        self.templates[key] = (name, events)
        return name, events

    def worker(self, url: str, name: str = "worker", env: dict[str, str] | None = None, **settings: Any) -> Process:
        return spawn(name, ["worker"], {**product_env(url, **settings), **(env or {})})

    def drain(self, template: str, expected: int, workers: int = 1, done: Any = None, env: dict[str, str] | None = None,
              **settings: Any) -> common.Drain:
        """A fresh copy of `template`, `workers` worker processes until the audit log holds `expected` rows."""
        dbs = self.databases
        name = dbs.clone(template)
        url = dbs.url(name)
        processes = [self.worker(url, f"worker{n}", env, **settings) for n in range(workers)]
        try:
            result = wait_drained(dbs.url(name, owner=True), expected, processes, self.args.drain_timeout, done=done)
        finally:
            for process in processes:
                process.stop()
            dbs.drop(name)
        if not result.finished:
            log(f"drain timed out after {result.wall_seconds:.0f} s: {result.handled}/{expected} handled")
        return result

    # --- 1. polling -------------------------------------------------------------------------------

    def polling(self) -> None:
        template, expected = self.template("nc", self.args.events)
        floors: dict[int, list[float]] = {1: [], 2: []}
        product: dict[int, list[float]] = {1: [], 2: []}
        loads: dict[int, str] = {}
        timeouts = 0
        for run in range(self.args.runs):
            for workers in (1, 2):
                dbs = self.databases
                name = dbs.clone()
                floors[workers].append(floor.measure(libpq(dbs.url(name, owner=True)), self.args.events, workers))
                dbs.drop(name)
                result = self.drain(template, expected, workers)
                timeouts += not result.finished
                product[workers].append(result.rate)
                loads[workers] = loadavg()
                log(f"polling run {run + 1}, {workers} worker(s): {result.rate:,.0f}/s "
                    f"(floor {floors[workers][-1]:,.0f}/s)")
        self.details["polling"] = {"product": product, "floor": floors, "events": expected}
        for workers in (1, 2):
            median = statistics.median(product[workers])
            ref = statistics.median(floors[workers])
            self.add(Row(f"polling PG, NC events handled/s, {workers} worker{'s' * (workers > 1)}",
                         "≥ 10,000/s and ≥ 60% of floor", fmt_rate(product[workers]),
                         f"floor {fmt_rate(floors[workers])}; {100 * median / ref:.1f}% of it",
                         met(median >= 10_000 and median >= 0.6 * ref), loads[workers], product[workers],
                         f"{expected} events" + (f", {timeouts} run(s) timed out" if timeouts else "")))
        self.drain_rate_1w = statistics.median(product[1])

    def timeline(self) -> None:
        """The delivery timeline's cost: the same drain with and without its steps, interleaved."""
        self.cost_of("delivery_timeline", "polling PG, 1 worker: events/s with the delivery timeline (vs without)")

    def metrics(self) -> None:
        """The metrics' cost: the same drain with the observer on and off, interleaved."""
        self.cost_of("metrics_enabled", "polling PG, 1 worker: events/s with metrics (vs without)")

    def observability(self) -> None:
        """What metrics and tracing cost together, same run: one worker's drain and `POST /ncs` with 4
        clients, with neither, and with metrics on and spans exported over OTLP to a local sink."""
        from load import hammer, login

        sink = otlp_sink()
        variants = {"neither": ({"metrics_enabled": False}, {}),
                    "metrics + tracing": ({"metrics_enabled": True},
                                          {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_port}"})}
        template, expected = self.template("nc", self.args.events)
        drains: dict[str, list[float]] = {v: [] for v in variants}
        writes: dict[str, list[float]] = {v: [] for v in variants}
        dbs = self.databases
        try:
            for run in range(self.args.runs):
                for variant, (settings, env) in variants.items():
                    drains[variant].append(self.drain(template, expected, 1, env=env, **settings).rate)
                    name, port = dbs.clone(self.template("nc", 0)[0]), free_port()
                    served = spawn("serve", ["serve", "--port", str(port), "--no-worker"],
                                   {**product_env(dbs.url(name), **settings), **env})
                    try:
                        wait_http(f"http://127.0.0.1:{port}/live", served)
                        token = login(port, "quality", PASSWORD)
                        stats = hammer(port, {"Authorization": f"Bearer {token}"}, 4, self.args.http_seconds, served)
                        writes[variant].append(stats["rate"])
                    finally:
                        served.stop()
                        dbs.drop(name)
                    log(f"observability run {run + 1}, {variant}: drain {drains[variant][-1]:,.0f}/s, "
                        f"POST /ncs {writes[variant][-1]:,.0f}/s; spans received {sink.spans}")
        finally:
            sink.shutdown()
        for figure, rates in (("polling PG, 1 worker: events/s with metrics + tracing (vs neither)", drains),
                              ("POST /ncs, 4 clients: writes/s with metrics + tracing (vs neither)", writes)):
            on, off = statistics.median(rates["metrics + tracing"]), statistics.median(rates["neither"])
            self.add(Row(figure, "report only", fmt_rate(rates["metrics + tracing"]),
                         f"neither {fmt_rate(rates['neither'])}; cost {100 * (1 - on / off):.1f}%",
                         values=rates["metrics + tracing"], note=f"OTLP export requests received: {sink.spans}"))

    def logs(self) -> None:
        """The handler lines' cost: the same drain at INFO (a line per handler and event) and at WARNING."""
        self.cost_of("log_level", "polling PG, 1 worker: events/s with INFO handler lines (vs WARNING)",
                     on="INFO", off="WARNING")

    def cost_of(self, setting: str, figure: str, on: Any = True, off: Any = False) -> None:
        """One worker drains the same backlog with a setting on and off, runs interleaved."""
        template, expected = self.template("nc", self.args.events)
        rates: dict[bool, list[float]] = {True: [], False: []}
        for run in range(self.args.runs):
            for flag in (True, False):
                result = self.drain(template, expected, 1, **{setting: on if flag else off})
                rates[flag].append(result.rate)
                log(f"{setting} run {run + 1}, {'on' if flag else 'off'}: {result.rate:,.0f}/s")
        with_it, without = (statistics.median(rates[flag]) for flag in (True, False))
        self.add(Row(figure, "report only", fmt_rate(rates[True]),
                     f"without {fmt_rate(rates[False])}; cost {100 * (1 - with_it / without):.1f}%",
                     values=rates[True], note=f"{expected} events, runs interleaved"))

    def baseline(self) -> None:
        """This tree against another checkout (--baseline DIR, e.g. a `git worktree` of an earlier commit): the
        same one-worker drain of the same backlog, runs interleaved, so that a change's cost is measured in one
        run on the same machine. The backlog is seeded by this tree, so the other one must accept its schema."""
        if not self.args.baseline:
            log("baseline: no --baseline DIR given, nothing to compare")
            return
        other = Path(self.args.baseline).resolve()
        label = subprocess.run(["git", "-C", str(other), "log", "-1", "--format=%h"], capture_output=True,
                               text=True).stdout.strip() or other.name
        env = {"PYTHONPATH": os.pathsep.join([str(other / "src"), str(other)])}
        template, expected = self.template("nc", self.args.events)
        older = self.schema_of(template, other)
        rates: dict[bool, list[float]] = {True: [], False: []}
        try:
            for run in range(self.args.runs):
                for this in (True, False):
                    result = self.drain(template if this else older, expected, 1, env=None if this else env)
                    rates[this].append(result.rate)
                    log(f"baseline run {run + 1}, {'this tree' if this else label}: {result.rate:,.0f}/s")
        finally:
            self.databases.drop(older)
        this, then = (statistics.median(rates[flag]) for flag in (True, False))
        self.add(Row(f"polling PG, 1 worker: events/s of this tree (vs {label})", "report only",
                     fmt_rate(rates[True]), f"{label} {fmt_rate(rates[False])}; change {100 * (this / then - 1):+.1f}%",
                     values=rates[True], note=f"{expected} events, runs interleaved"))

    def schema_of(self, template: str, other: Path) -> str:
        """A copy of `template` taken down to the schema revision the other tree expects (its migrations' head),
        by this tree's own downgrade steps: the same rows, in the shape the other tree reads."""
        import sqlalchemy as sa
        from alembic import command
        from alembic.script import ScriptDirectory
        from adapters.outbound.sqlalchemy import migrate

        folder = other / "src" / "adapters" / "outbound" / "sqlalchemy" / "migrations"
        config = migrate.alembic_config(sa.create_engine("sqlite://"))
        config.set_main_option("script_location", str(folder))
        head = ScriptDirectory.from_config(config).get_current_head()
        name = self.databases.clone(template)
        engine = sa.create_engine(self.databases.url(name, owner=True), poolclass=sa.pool.NullPool)
        try:
            command.downgrade(migrate.alembic_config(engine), head)
        finally:
            engine.dispose()
        return name

    # --- 2. orders --------------------------------------------------------------------------------

    def orders(self) -> None:
        template, placed = self.template("order", self.args.orders)
        orders = placed - SUPPLIERS
        rates, handled = [], []

        def delivered(conn: Any) -> bool:
            count = common.scalar(conn, "SELECT count(*) FROM orders WHERE status = 'DELIVERED'")
            if count < orders:
                return False
            rows = common.audit_count(conn)
            time.sleep(1.0)  # the last events of the last orders: done when nothing more is audited for 1 s
            return common.audit_count(conn) == rows

        for run in range(self.args.runs):
            result = self.drain(template, 0, 1, done=delivered, fulfilment_auto=True, fulfilment_step_seconds=0)
            rates.append(result.rate)
            handled.append(result.handled)
            log(f"orders run {run + 1}: {result.rate:,.0f} events/s ({result.handled} events, "
                f"{'finished' if result.finished else 'TIMED OUT'})")
        self.details["orders"] = {"rates": rates, "events": handled, "orders": orders}
        self.add(Row("order events handled/s (fulfilment on, step 0), 1 worker", "≥ 3,000/s", fmt_rate(rates),
                     met=met(statistics.median(rates) >= 3000), values=rates,
                     note=f"{orders} orders → {statistics.median(handled):.0f} events"))

    # --- 3. kafka ---------------------------------------------------------------------------------

    def kafka_drain(self) -> None:
        template, expected = self.template("nc", self.args.events)
        rates = []
        for run in range(self.args.runs):
            result = self.drain(template, expected, 1, **self.kafka_settings())
            rates.append(result.rate)
            log(f"kafka run {run + 1}: {result.rate:,.0f}/s ({result.handled}/{expected})")
        self.details["kafka"] = {"rates": rates, "events": expected}
        self.add(Row("Kafka mode drain, delivered + consumed + handled/s, 1 worker", "≥ 10,000/s", fmt_rate(rates),
                     "faststream-outbox: not run", met(statistics.median(rates) >= 10_000), values=rates,
                     note=f"{expected} events, `worker` = relay + consumer, test broker (Tansu)"))

    # --- 4. latency -------------------------------------------------------------------------------

    def latency(self) -> None:
        from latency import kafka_floor, measure_latency

        args = self.args
        plans = [("idle", 1000 / args.idle_spacing_ms, args.idle_events * args.idle_spacing_ms / 1000, True),
                 ("200/s", 200.0, args.latency_seconds, False),
                 ("1,000/s", 1000.0, args.latency_seconds, False)]
        goals = {"idle": 5.0, "200/s": 5.0, "1,000/s": 50.0}
        results: dict[str, dict[str, list[Any]]] = {}
        for mode in ("polling", "kafka"):
            for run in range(args.runs):
                # a topic prefix and a consumer group per run: a run never consumes the backlog left by the last
                settings = self.kafka_settings() if mode == "kafka" else {}
                outcome = measure_latency(self, plans, settings)
                for label, stats in outcome.items():
                    entry = results.setdefault(f"{mode} {label}", {"p50": [], "p99": [], "offered": [], "lost": [],
                                                                  "audit_p50": [], "audit_p99": []})
                    for key in entry:
                        entry[key].append(stats[key])
        floors: dict[str, dict[str, list[float]]] = {}
        for run in range(args.runs):
            for label, stats in kafka_floor(self.kafka(), plans).items():
                entry = floors.setdefault(label, {"p50": [], "p99": []})
                entry["p50"].append(stats["p50"])
                entry["p99"].append(stats["p99"])
        self.details["latency"] = {"product": results, "kafka_floor": floors}
        for mode in ("polling", "kafka"):
            for label, _, _, _ in plans:
                entry = results[f"{mode} {label}"]
                p99 = statistics.median(entry["p99"])
                offered = statistics.median(entry["offered"])
                note = (f"offered {offered:,.0f}/s; p50 {fmt_ms(entry['p50'])}; "
                        f"audit occurred→recorded p50/p99 {statistics.median(entry['audit_p50']):.1f}/"
                        f"{statistics.median(entry['audit_p99']):.1f} ms")
                if sum(entry["lost"]):
                    note += f"; {sum(entry['lost'])} events never seen handled"
                if mode == "polling":
                    self.add(Row(f"latency polling, {label}: commit→handled p99", f"≤ {goals[label]:.0f} ms",
                                 fmt_ms(entry["p99"]), "—", met(p99 <= goals[label]), values=entry["p99"], note=note))
                else:
                    floor_p99 = statistics.median(floors[label]["p99"])
                    self.add(Row(f"latency Kafka, {label}: commit→handled p99", "≤ floor p99 + 3 ms",
                                 fmt_ms(entry["p99"]), f"produce→consume p99 {fmt_ms(floors[label]['p99'])}",
                                 met(p99 <= floor_p99 + 3), values=entry["p99"], note=note))

    # --- 4b. rabbitmq -------------------------------------------------------------------------------

    def rabbitmq_mode(self) -> None:
        """The kafka scenario's drain and the latency scenario's plans, in RabbitMQ mode (quorum queues,
        publisher confirms, the default settings); Kafka's and polling's figures of this run beside them."""
        from latency import measure_latency

        args = self.args
        template, expected = self.template("nc", self.args.events)
        rates = []
        for run in range(args.runs):
            result = self.drain(template, expected, 1, **self.rabbitmq_settings())
            rates.append(result.rate)
            log(f"rabbitmq run {run + 1}: {result.rate:,.0f}/s ({result.handled}/{expected})")
        self.details["rabbitmq"] = {"rates": rates, "events": expected}
        kafka = self.details.get("kafka", {}).get("rates")
        self.add(Row("RabbitMQ mode drain, delivered + consumed + handled/s, 1 worker", "report only",
                     fmt_rate(rates), f"Kafka {fmt_rate(kafka)}" if kafka else "Kafka: not run", values=rates,
                     note=f"{expected} events, `worker` = relay + consumer, RabbitMQ {rabbitmq_version()}, "
                          "quorum queues, publisher confirms"))
        plans = [("idle", 1000 / args.idle_spacing_ms, args.idle_events * args.idle_spacing_ms / 1000, True),
                 ("200/s", 200.0, args.latency_seconds, False),
                 ("1,000/s", 1000.0, args.latency_seconds, False)]
        results: dict[str, dict[str, list[Any]]] = {}
        for run in range(args.runs):
            for label, stats in measure_latency(self, plans, self.rabbitmq_settings()).items():
                entry = results.setdefault(label, {"p50": [], "p99": [], "offered": [], "lost": []})
                for key in entry:
                    entry[key].append(stats[key])
        self.details["latency_rabbitmq"] = results
        others = self.details.get("latency", {}).get("product", {})
        for label, _, _, _ in plans:
            entry = results[label]
            beside = "; ".join(f"{mode} p50/p99 {fmt_ms(others[f'{mode} {label}']['p50'])}/"
                               f"{fmt_ms(others[f'{mode} {label}']['p99'])}"
                               for mode in ("kafka", "polling") if f"{mode} {label}" in others) or "latency: not run"
            note = f"offered {statistics.median(entry['offered']):,.0f}/s; p50 {fmt_ms(entry['p50'])}"
            if sum(entry["lost"]):
                note += f"; {sum(entry['lost'])} events never seen handled"
            self.add(Row(f"latency RabbitMQ, {label}: commit→handled p50 / p99", "report only",
                         f"{fmt_ms(entry['p50'])} / {fmt_ms(entry['p99'])}", beside, values=entry["p99"], note=note))

    # --- 5. http ----------------------------------------------------------------------------------

    def http(self) -> None:
        from load import hammer, login

        dbs = self.databases
        template, _ = self.template("nc", 0)
        name = dbs.clone(template)
        port, bare_port = free_port(), free_port()
        served = spawn("serve", ["serve", "--port", str(port), "--no-worker"], product_env(dbs.url(name)))
        bare = spawn_script("bare", "bare_app.py", ["--url", dbs.url(name, owner=True), "--port", str(bare_port)])
        results: dict[int, dict[str, list[Any]]] = {}
        try:
            wait_http(f"http://127.0.0.1:{port}/health", served)
            wait_http(f"http://127.0.0.1:{bare_port}/health", bare)
            token = login(port, "quality", PASSWORD)
            targets = {"product": (port, served, {"Authorization": f"Bearer {token}"}), "bare": (bare_port, bare, {})}
            for run in range(self.args.runs):
                for clients in (1, 4, 16):
                    entry = results.setdefault(clients, {})
                    for label, (target_port, process, headers) in targets.items():
                        stats = hammer(target_port, headers, clients, self.args.http_seconds, process)
                        for key, value in stats.items():
                            entry.setdefault(f"{label}_{key}", []).append(value)
                        log(f"http run {run + 1}, {clients} clients, {label}: {stats['rate']:,.0f}/s "
                            f"p99 {stats['p99']:.1f} ms, server CPU {stats['server_cpu_ms']:.2f} ms/write")
        finally:
            served.stop()
            bare.stop()
            dbs.drop(name)
        self.details["http"] = results
        for clients, entry in results.items():
            product, bare_rates = entry["product_rate"], entry["bare_rate"]
            ratio = statistics.median(product) / statistics.median(bare_rates)
            note = (f"p99 {fmt_ms(entry['product_p99'])} vs bare {fmt_ms(entry['bare_p99'])}; server CPU/write "
                    f"{statistics.median(entry['product_server_cpu_ms']):.2f} vs "
                    f"{statistics.median(entry['bare_server_cpu_ms']):.2f} ms; client CPU/write "
                    f"{statistics.median(entry['product_client_cpu_ms']):.2f} ms")
            if sum(entry["product_errors"]) or sum(entry["bare_errors"]):
                note += f"; errors {sum(entry['product_errors'])} / bare {sum(entry['bare_errors'])}"
            self.add(Row(f"POST /ncs writes/s, {clients} client{'s' * (clients > 1)}", "≥ 70% of bare",
                         fmt_rate(product), f"bare {fmt_rate(bare_rates)}; {100 * ratio:.0f}% of it",
                         met(ratio >= 0.7), values=product, note=note))

    # --- 6. sustain -------------------------------------------------------------------------------

    def sustain(self) -> None:
        args = self.args
        if args.sustain_rate:
            drain = args.sustain_rate / 0.8
        elif self.drain_rate_1w and self.drain_rate_1w == self.drain_rate_1w:
            drain = self.drain_rate_1w
        else:
            template, expected = self.template("nc", args.events)
            drain = self.drain(template, expected, 1).rate
        if not drain == drain or drain <= 0:  # NaN: nothing drained
            raise RuntimeError("no drain rate to offer 80% of")
        rate = 0.8 * drain
        dbs = self.databases
        template, _ = self.template("nc", 0)
        name = dbs.clone(template)
        url, owner = dbs.url(name), dbs.url(name, owner=True)
        window = min(60.0, args.sustain_seconds / 4)
        worker = self.worker(url)
        samples: list[dict[str, Any]] = []
        try:
            wait_drained(owner, SUPPLIERS, [worker], 60)  # warm: the suppliers' events handled
            processes = max(1, min(4, math.ceil(rate / 150)))
            running, _, t0 = self.writers(url, count=0, seconds=args.sustain_seconds, rate=rate,
                                          processes=processes, threads=8)
            with connect(owner) as conn:
                time.sleep(max(0.0, t0 - time.monotonic()))
                base_written = common.scalar(conn, "SELECT count(*) FROM non_conformities")
                base_handled = common.audit_count(conn)
                start = time.monotonic()
                for n in range(1, int(round(args.sustain_seconds / window)) + 1):
                    time.sleep(max(0.0, start + n * window - time.monotonic()))
                    worker.check()
                    written = common.scalar(conn, "SELECT count(*) FROM non_conformities") - base_written
                    handled = common.audit_count(conn) - base_handled
                    dead = common.dead_tuples(conn)
                    samples.append({"t": round(time.monotonic() - start, 1), "written": written, "handled": handled,
                                    "backlog": written - handled, "load": loadavg(),
                                    "dead_tuples": {k: v for k, v in dead.items() if v}})
                    log(f"sustain {samples[-1]}")
            self.finish_writers(running)
        finally:
            worker.stop()
            dbs.drop(name)
        per_window, previous = [], 0
        for sample in samples:
            per_window.append((sample["handled"] - previous) / window)
            previous = sample["handled"]
        offered = samples[-1]["written"] / (window * len(samples)) if samples else 0
        first, last = per_window[0], per_window[-1]
        bound = max(500.0, 5 * rate)
        backlog = samples[-1]["backlog"]
        hot = samples[-1]["dead_tuples"]
        self.details["sustain"] = {"target_rate": rate, "offered": offered, "window_seconds": window,
                                   "handled_per_s": per_window, "samples": samples}
        unit = "minute" if window == 60 else f"{window:.0f} s"
        self.add(Row(f"sustained {args.sustain_seconds:.0f} s, 1 worker: handled/s per {unit}",
                     "last ≥ 80% of first, backlog bounded",
                     " → ".join(f"{v:,.0f}" for v in per_window),
                     f"writer target {rate:,.0f}/s (80% of {drain:,.0f}), offered {offered:,.0f}/s",
                     met(last >= 0.8 * first and backlog <= bound), values=per_window,
                     note=f"backlog per {unit} {[s['backlog'] for s in samples]} (bound {bound:,.0f}); dead tuples at "
                          f"end {hot}"))

    # --- 7. rss -----------------------------------------------------------------------------------

    def rss(self) -> None:
        from load import login, post_ncs

        args = self.args
        dbs = self.databases
        template, _ = self.template("nc", 0)
        name = dbs.clone(template)
        url, owner = dbs.url(name), dbs.url(name, owner=True)
        port = free_port()
        served = spawn("serve", ["serve", "--port", str(port)], product_env(url))
        worker = self.worker(url)
        try:
            wait_http(f"http://127.0.0.1:{port}/health", served)
            wait_drained(owner, SUPPLIERS, [served, worker], 60)
            start = {p.name: p.rss_kb()[0] for p in (served, worker)}
            token = login(port, "quality", PASSWORD)
            http_writes = min(500, max(50, args.rss_events // 200))
            started = time.monotonic()  # the cap counts from the first write
            deadline = args.rss_seconds
            running, _, _ = self.writers(url, count=args.rss_events - http_writes, delay=0.5)
            post_ncs(port, token, http_writes)
            for writer in running:
                writer.wait(max(1, deadline - (time.monotonic() - started)))
            result = wait_drained(owner, args.rss_events + SUPPLIERS, [served, worker],
                                  max(5, deadline - (time.monotonic() - started)))
            end = {p.name: p.rss_kb() for p in (served, worker)}
        finally:
            served.stop()
            worker.stop()
            dbs.drop(name)
        self.details["rss"] = {"start_kb": start, "end_kb": end, "events": result.handled}
        for label in ("serve", "worker"):
            rss_mb, hwm_mb = end[label][0] / 1024, end[label][1] / 1024
            self.add(Row(f"RSS of `{label}` after {result.handled - SUPPLIERS:,} events", "≤ 150 MB",
                         f"{rss_mb:.0f} MB", f"at start {start[label] / 1024:.0f} MB",
                         met(rss_mb <= 150 and result.finished) if result.finished else "n/a (capped)",
                         values=[rss_mb], note=f"peak {hwm_mb:.0f} MB; serve (embedded worker, {http_writes} of the "
                                               "writes over HTTP) and worker drain one database together"))

    # --- 8. sqlite --------------------------------------------------------------------------------

    def sqlite(self) -> None:
        args = self.args
        folder = LOGS / f"sqlite-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        seeded = folder / "seeded.db"
        from typer.testing import CliRunner
        from adapters.inbound.cli import app as cli

        with self.lock:  # CliRunner sets os.environ for the call
            done = CliRunner().invoke(cli, ["db", "upgrade"], env={"SUPPLYTRACE_DATABASE_URL": f"sqlite:///{seeded}"})
        if done.exit_code != 0:
            raise RuntimeError(f"db upgrade: {done.output}")
        from application.envelope import Origin
        from bootstrap.container import build_container
        from bootstrap.settings import Settings
        from datetime import date

        container = build_container(Settings(_env_file=None, database_url=f"sqlite:///{seeded}", demo_password=PASSWORD))
        for n in range(SUPPLIERS):
            container.create_supplier()(f"Bench supplier {n}", date(2031, 1, 1), Origin("bench", "bench"))
        container.engine().dispose()
        running, _, _ = self.writers(f"sqlite:///{seeded}", count=args.sqlite_events, processes=1, threads=1, delay=0)
        expected = SUPPLIERS + self.finish_writers(running)["written"]
        rates = []
        for run in range(args.runs):
            database = folder / f"run{run}.db"
            with sqlite3.connect(seeded) as source, sqlite3.connect(database) as target:
                source.backup(target)  # with what is still in the WAL of open connections
            port = free_port()
            spawned_at = time.monotonic()
            served = spawn("serve-sqlite", ["serve", "--port", str(port)], product_env(f"sqlite:///{database}"))
            try:
                deadline = time.monotonic() + args.drain_timeout
                count, first, last = 0, None, None
                reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
                while time.monotonic() < deadline:
                    served.check()
                    try:
                        count, first, last = reader.execute(
                            "SELECT count(*), min(recorded_at), max(recorded_at) FROM audit_log").fetchone()
                    except sqlite3.OperationalError:  # not migrated yet
                        count = 0
                    if count >= expected:
                        break
                    time.sleep(0.2)
                if first is None:
                    raise RuntimeError(f"serve on SQLite handled nothing in {args.drain_timeout:.0f} s")
                at_first = reader.execute("SELECT count(*) FROM audit_log WHERE recorded_at = ?", (first,)).fetchone()[0]
                span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
                # one batch gets one recorded_at: a backlog drained in a batch or two has no span; then
                # the wall time since the process was started (start-up included) is the honest bound
                rates.append((count - at_first) / span if span > 0 and count > at_first
                             else count / (time.monotonic() - spawned_at))
                if count < expected:
                    log(f"sqlite run {run + 1} timed out: {count}/{expected}")
                reader.close()
            finally:
                served.stop()
            log(f"sqlite run {run + 1}: {rates[-1]:,.0f}/s")
        self.details["sqlite"] = {"rates": rates, "events": expected}
        self.add(Row("SQLite file, `serve` (embedded worker): events handled/s", "report only", fmt_rate(rates),
                     values=rates, note=f"{expected} NC events seeded, one process"))


# --- output ---------------------------------------------------------------------------------------

def otlp_sink() -> Any:
    """A local OTLP/HTTP endpoint that accepts every export (and counts them), in a thread."""
    import http.server

    class Sink(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the handler's protocol
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.server.spans += 1  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    server.spans = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def table(rows: list[Row], started: str, ended: str, header: str) -> str:
    lines = [header, "", f"load average (1/5/15 min) at start: {started}", "",
             "| figure | goal | measured (median of runs, min–max) | reference (same run) | met? | load |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.figure} | {row.goal} | {row.measured} | {row.reference} | {row.met} | {row.load} |")
    lines += ["", f"load average at end: {ended}", "", "Notes:"]
    lines += [f"- {row.figure}: {row.note}" for row in rows if row.note]
    return "\n".join(lines)


def rabbitmq_version() -> str:
    try:
        return subprocess.run(["rabbitmqctl", "-q", "version"], capture_output=True, text=True,
                              timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every scenario with tiny sizes, in seconds")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3; smoke 1)")
    parser.add_argument("--events", type=int, default=20000, help="NC backlog for polling, kafka")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--drain-timeout", type=float, default=300)
    parser.add_argument("--latency-seconds", type=float, default=8, help="per loaded latency run")
    parser.add_argument("--idle-events", type=int, default=60)
    parser.add_argument("--idle-spacing-ms", type=float, default=200, help="mean spacing of idle events")
    parser.add_argument("--http-seconds", type=float, default=5)
    parser.add_argument("--sustain-seconds", type=float, default=600)
    parser.add_argument("--sustain-rate", type=float, default=0, help="writer rate (default: 80%% of the drain)")
    parser.add_argument("--rss-events", type=int, default=100_000)
    parser.add_argument("--rss-seconds", type=float, default=420, help="cap of the RSS run")
    parser.add_argument("--sqlite-events", type=int, default=3000)
    parser.add_argument("--baseline", default="", help="a checkout of another commit for the baseline scenario")
    parser.add_argument("--output", default=str(Path(__file__).resolve().parent / "last-run"),
                        help="writes OUTPUT.md and OUTPUT.json")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.orders, args.drain_timeout = 300, 20, 60
        args.latency_seconds, args.idle_events, args.idle_spacing_ms = 0.6, 4, 50
        args.http_seconds, args.sustain_seconds, args.rss_events, args.rss_seconds = 0.4, 4, 300, 30
        args.sqlite_events = 50
        if args.output == parser.get_default("output"):
            args.output = str(LOGS / "smoke-run")
    args.runs = args.runs or (1 if args.smoke else 3)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or SCENARIOS
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIOS}")

    bench = Bench(args)
    started_load, began = loadavg(), time.monotonic()
    methods: dict[str, Callable[[], None]] = {
        "polling": bench.polling, "timeline": bench.timeline, "observability": bench.observability,
        "metrics": bench.metrics, "logs": bench.logs, "baseline": bench.baseline, "orders": bench.orders,
        "kafka": bench.kafka_drain, "latency": bench.latency, "rabbitmq": bench.rabbitmq_mode,
        "http": bench.http, "sustain": bench.sustain, "rss": bench.rss, "sqlite": bench.sqlite}
    failures = []

    def run(scenario: str) -> None:
        bench.local.scenario = scenario
        log(f"--- {scenario}")
        try:
            methods[scenario]()
        except Exception as error:  # noqa: BLE001 - one broken scenario must not hide the others
            failures.append(f"{scenario}: {type(error).__name__}: {error}")
            log(f"scenario {scenario} FAILED: {failures[-1][:3000]}")
            bench.add(Row(f"{scenario}: FAILED", "—", "failed", met="NO", note=failures[-1][:300]))

    selected = [scenario for scenario in SCENARIOS if scenario in chosen]
    try:
        if args.smoke:  # seconds, not figures: three scenarios side by side, the longest first
            from concurrent.futures import ThreadPoolExecutor

            longest = ["latency", "polling", "kafka", "rabbitmq", "rss", "sustain", "http", "orders", "sqlite", "timeline",
                       "observability", "metrics", "logs", "baseline"]
            with ThreadPoolExecutor(3) as pool:
                list(pool.map(run, sorted(selected, key=longest.index)))
        else:  # figures: one scenario at a time, nothing of the bench's own competing with it
            for scenario in selected:
                run(scenario)
    finally:
        bench.close()
    bench.rows = [bench.rows[index - 1] for _, index in sorted(bench.order)]
    header = (f"SupplyTrace bench, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
              f"{'smoke sizes' if args.smoke else 'full sizes'}, {args.runs} run(s) per figure, "
              f"{time.monotonic() - began:.0f} s; `{' '.join(['bench/run.py', *sys.argv[1:]])}`")
    text = table(bench.rows, started_load, loadavg(), header)
    print(text, flush=True)
    output = Path(args.output)
    output.with_suffix(".md").write_text(text + "\n")
    output.with_suffix(".json").write_text(json.dumps({"header": header, "load_start": started_load,
                                                       "load_end": loadavg(), "rows": [asdict(r) for r in bench.rows],
                                                       "details": bench.details, "args": vars(args)},
                                                      indent=1, default=str) + "\n")
    print(f"written to {output.with_suffix('.md')} and .json; process logs in {LOGS}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
