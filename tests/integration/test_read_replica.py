"""Queries read from a real PostgreSQL streaming replica; commands write to the primary (ADR 0023).

The test makes its own primary (initdb, wal_level=replica) on a free port and a hot standby from its
pg_basebackup -R on another, both run as the `postgres` OS user (PostgreSQL refuses root) in
temporary folders, and stops both at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.replica import CONSISTENCY, TOKEN_HEADER, Consistency, parse_lsn
from tests.support.harness import RunningApp

BIN = Path("/usr/lib/postgresql/15/bin")
TOOLS = [BIN / "initdb", BIN / "pg_ctl", BIN / "pg_basebackup"]
REQUIRED = os.environ.get("SUPPLYTRACE_TEST_REQUIRE_SERVICES") == "1" or bool(os.environ.get("CI"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(*command: object) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *map(str, command)], check=True, capture_output=True, timeout=60)


def _wait(predicate, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Clusters:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="supplytrace-replica-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.primary_dir, self.standby_dir = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = _free_port(), _free_port()
        self.started: list[Path] = []

    def url(self, port: int) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        _as_postgres(BIN / "initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", self.primary_dir)
        with open(self.primary_dir / "postgresql.conf", "a") as conf:  # appended as root: root may write it
            conf.write(f"\nport = {self.primary_port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nwal_level = replica\nmax_wal_senders = 4\n"
                       "fsync = off\nsynchronous_commit = on\n")
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("\nhost replication all 127.0.0.1/32 trust\n")
        self._pg_ctl(self.primary_dir, "primary.log")
        _as_postgres(BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.primary_port, "-U", "postgres",
                     "-D", self.standby_dir, "-R", "-X", "stream", "--no-sync")
        self._pg_ctl(self.standby_dir, "standby.log", f"-p {self.standby_port}")

    def _pg_ctl(self, folder: Path, log: str, options: str = "") -> None:
        args = [BIN / "pg_ctl", "-D", folder, "-l", self.root / log, "-w", "-t", "30"]
        _as_postgres(*args, *(["-o", options] if options else []), "start")
        self.started.append(folder)

    def stop(self) -> None:
        for folder in reversed(self.started):
            try:
                _as_postgres(BIN / "pg_ctl", "-D", folder, "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    missing = [str(tool) for tool in TOOLS if not tool.exists()]
    if missing and not REQUIRED:
        pytest.skip(f"PostgreSQL server tools missing: {', '.join(missing)}")
    running = Clusters()
    try:
        running.start()
        primary = sa.create_engine(running.url(running.primary_port))
        with primary.connect() as conn:
            _wait(lambda: conn.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")) == 1, "streaming")
        migrate.upgrade(primary)
        primary.dispose()
        yield running
    finally:
        running.stop()


def test_queries_read_from_the_replica_and_a_token_reads_your_writes(clusters: Clusters) -> None:
    standby = sa.create_engine(clusters.url(clusters.standby_port), isolation_level="AUTOCOMMIT")
    app = RunningApp("postgres-replica", clusters.url(clusters.primary_port),
                     read_database_url=clusters.url(clusters.standby_port))
    try:
        container = app.container
        # the engines: the queries' unit of work is on the standby, the commands' on the primary
        with container.read_uow().reading() as read, container.uow() as write:
            assert read.served_by == "replica"
            assert read.conn.scalar(sa.text("SELECT pg_is_in_recovery()")) is True
            assert write.conn.scalar(sa.text("SELECT pg_is_in_recovery()")) is False
            # the read engine's sessions refuse writes, should its URL ever point at a primary
            assert read.conn.scalar(sa.text("SHOW default_transaction_read_only")) == "on"
            assert write.conn.scalar(sa.text("SHOW default_transaction_read_only")) == "off"
        assert app.call(None, "GET", "/ready").json() == {
            "status": "ok", "database": "ok", "schema": "ok", "replica": "ok"}

        # the standby stops replaying: what is written now exists on the primary only
        with standby.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_pause()"))
            _wait(lambda: conn.scalar(sa.text("SELECT pg_get_wal_replay_pause_state()")) == "paused", "pause")
        created = app.call("procurement", "POST", "/suppliers",
                           json={"name": "Replica Metals", "certification_expiry": "2030-06-30"})
        assert created.status_code == 201, created.text
        assert created.json()["name"] == "Replica Metals"  # the write's own response: from the primary
        token = created.headers[TOKEN_HEADER]
        supplier = created.json()["id"]

        def names(**headers: str) -> list[str]:
            response = app.call("auditor", "GET", "/suppliers", headers=headers)
            assert response.status_code == 200, response.text
            return [s["name"] for s in response.json()["items"]]

        assert names() == []  # served by the paused replica
        assert app.call("auditor", "GET", f"/suppliers/{supplier}").status_code == 404
        assert names(**{TOKEN_HEADER: token}) == ["Replica Metals"]  # the replica is behind it: the primary
        assert app.call("auditor", "GET", f"/suppliers/{supplier}", headers={TOKEN_HEADER: token}).status_code == 200
        refused = app.call("auditor", "GET", "/suppliers", headers={TOKEN_HEADER: "yesterday"})
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["header", TOKEN_HEADER]
        assert TOKEN_HEADER not in app.call("auditor", "GET", "/suppliers").headers  # reads write nothing

        # replay resumes: the replica catches up with the token, and serves the read itself
        with standby.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_resume()"))
            _wait(lambda: conn.scalar(sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"),
                                      {"t": token}), "replay")
        assert names() == ["Replica Metals"]
        box = Consistency(after=None)
        reset = CONSISTENCY.set(box)
        try:
            box.after = parse_lsn(token)
            with container.read_uow().reading() as read:
                assert read.served_by == "replica"  # caught up: the token no longer sends it to the primary
        finally:
            CONSISTENCY.reset(reset)
        assert names(**{TOKEN_HEADER: token}) == ["Replica Metals"]
        kpi = app.call("auditor", "GET", "/kpi")
        assert kpi.status_code == 200 and kpi.json()["outbox_pending"] == 1  # the KPI read on the replica
    finally:
        app.client.close()
        container.engine().dispose()
        container.read_engine().dispose()
        standby.dispose()
