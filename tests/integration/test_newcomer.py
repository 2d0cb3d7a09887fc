"""What a newcomer types: `make run` (serve) says where the docs are and who can log in once it listens;
`alembic upgrade head` from the repository root; `supplytrace db downgrade REV`."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from adapters.inbound.cli import app, welcome
from adapters.outbound.sqlalchemy import migrate
from bootstrap.settings import PREFIX, Settings, UserSetting

ROOT = Path(__file__).resolve().parents[2]


def _environment(**extra: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    for name in ("DATABASE_URL", "WRITE_DATABASE_URL", "READ_DATABASE_URL", "LOG_LEVEL"):
        environment.pop(name, None)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**environment, **extra}


def test_serve_prints_the_docs_and_the_demo_users_once_it_listens(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "adapters.inbound.cli", "serve", "--port", "0", "--no-worker"], cwd=tmp_path,
        env=_environment(SUPPLYTRACE_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}"),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=30)
        assert first.startswith("SupplyTrace is up at http://127.0.0.1:"), first
        base = first.split()[4]
        # printed once the socket listens: the first request right after it is answered
        assert httpx.get(f"{base}/live").json() == {"status": "ok"}
        console, *shown = [lines.get(timeout=5) for _ in range(4)]
        assert console.strip() == f"web console: {base}/console (the users below, offline: ADR 0030)"
        assert httpx.get(f"{base}/", follow_redirects=True).url.path == "/console/login"
        assert shown[0].strip() == f"API docs: {base}/docs (Swagger UI) and {base}/redoc"
        assert httpx.get(f"{base}/docs").status_code == 200
        assert shown[1].strip() == ('demo users (password "demo"), one per role, named after it: '
                                    "quality, procurement, logistics, auditor, admin")
        assert shown[2].strip() == f"log in: curl -d username=admin -d password=demo {base}/auth/login"
        login = httpx.post(f"{base}/auth/login", data={"username": "admin", "password": "demo"})
        assert login.status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_the_welcome_hides_a_password_of_your_own_and_names_configured_users() -> None:
    settings = Settings(_env_file=None, demo_password="s3cret-of-mine", docs_enabled=False,
                        jwt_secret="x" * 40, users=[UserSetting(username="ada", role="quality",
                                                                 password_hash="$argon2id$" + "x" * 20)])
    lines = welcome(settings, "http://127.0.0.1:8000")
    assert lines[2].strip() == "API docs: off (SUPPLYTRACE_DOCS_ENABLED=false)"
    assert "password: SUPPLYTRACE_DEMO_PASSWORD" in lines[3] and "s3cret" not in " ".join(lines)
    assert lines[-1].strip() == "users (SUPPLYTRACE_USERS): ada (quality)"


def test_alembic_upgrade_head_works_from_the_repository_root(tmp_path: Path) -> None:
    database = tmp_path / "qhse.db"
    done = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=_environment(DATABASE_URL=f"sqlite:///{database}"))
    assert done.returncode == 0, done.stderr
    engine = sa.create_engine(f"sqlite:///{database}")  # DATABASE_URL: the QHSE backend's own name
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    refused = subprocess.run([sys.executable, "-m", "alembic", "current"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, env=_environment(SUPPLYTRACE_LOG_LEVEL="verbose"))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == ["invalid configuration: SUPPLYTRACE_LOG_LEVEL: Input should be "
                                                   "'DEBUG', 'INFO', 'WARNING', 'ERROR' or 'CRITICAL' (got 'verbose')"]


def test_db_downgrade_undoes_the_later_migrations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [*(n for n in os.environ if n.startswith(PREFIX)), "DATABASE_URL", "WRITE_DATABASE_URL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", f"sqlite:///{tmp_path / 'down.db'}")
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'down.db'}")
    assert "traceparent" in {c["name"] for c in sa.inspect(engine).get_columns("outbox_events")}

    result = runner.invoke(app, ["db", "downgrade", "0009"])
    assert result.exit_code == 0, result.output
    assert "database at revision 0009" in result.output
    assert "traceparent" not in {c["name"] for c in sa.inspect(engine).get_columns("outbox_events")}  # 0010 undone
    result = runner.invoke(app, ["db", "downgrade", "base"])
    assert result.exit_code == 0 and "database at revision base (no tables)" in result.output
    assert "suppliers" not in sa.inspect(engine).get_table_names()

    refused = runner.invoke(app, ["db", "downgrade", "9999"])
    assert refused.exit_code == 2 and "refused: Can't locate revision identified by '9999'" in refused.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0  # and back to head
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
