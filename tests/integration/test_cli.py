"""The `supplytrace` command line, as a user runs it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from adapters.inbound.cli import app
from adapters.outbound.sqlalchemy import migrate

runner = CliRunner()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env, and the default SQLite file lands in a scratch folder
    for name in ("SUPPLYTRACE_ENV", "SUPPLYTRACE_DATABASE_URL", "SUPPLYTRACE_JWT_SECRET", "SUPPLYTRACE_DEMO_USERS"):
        monkeypatch.delenv(name, raising=False)


def test_demo_runs_the_qhse_order_and_inventory_workflows_end_to_end() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "suppliers_at_risk 0 -> 1" in result.output
    assert "closing it again is refused: 409" in result.output
    assert "worker consumed NC_CREATED" in result.output
    assert "worker wrote the history: RECEIVED -> PICKING -> IN_TRANSIT -> DELIVERED" in result.output
    assert "worker updated the projection: total_items 12, line_count 2" in result.output
    assert "inventory deleted: 204, then reading it: 404" in result.output
    assert "its owner may not verify it: 403" in result.output
    assert "NC CLOSED, closed_without_capa False" in result.output
    assert "the reminder job run twice sent 1, then 0 CERT_EXPIRING" in result.output


def test_db_upgrade_migrates_the_configured_database(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    assert f"database at revision {migrate.head_revision(engine)}" in result.output
    assert "outbox_events" in sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'cli.db'}")).get_table_names()


@pytest.mark.parametrize("environment", [
    {"SUPPLYTRACE_ENV": "production"},
    {"SUPPLYTRACE_ENV": "production", "SUPPLYTRACE_JWT_SECRET": "x" * 40},
])
def test_production_refuses_the_default_secret_and_demo_users(monkeypatch: pytest.MonkeyPatch, environment) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2  # a one-line error, not a traceback
    assert result.output.startswith("invalid configuration: ") and "production" in result.output


def test_worker_once_drains_the_outbox(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "published=0 retried=0 failed=0" in result.output


def test_projections_rebuild_inventory_repairs_the_projection_and_reports_it(monkeypatch: pytest.MonkeyPatch,
                                                                             tmp_path) -> None:
    from datetime import date

    from application.envelope import Origin
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    url = f"sqlite:///{tmp_path / 'projection.db'}"
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    container = build_container(Settings(_env_file=None, database_url=url))
    for customer in ("ACME", "Beta"):
        container.create_inventory()(customer, date(2027, 1, 31), Origin())
    container.add_inventory_line()(1, "bolts", 5, Origin())
    container.relay().drain()
    container.create_inventory()("Gamma", date(2027, 1, 31), Origin())  # its event still pending
    with container.engine().begin() as conn:
        conn.exec_driver_sql("UPDATE inventory_summary SET total_items = 50 WHERE inventory_id = 1")
        conn.exec_driver_sql("DELETE FROM inventory_summary WHERE inventory_id = 2")
    container.engine().dispose()

    result = runner.invoke(app, ["projections", "rebuild", "inventory"])

    assert result.exit_code == 0, result.output
    assert "inventory_summary: 2 inserted, 1 updated, 0 deleted; 1 pending events marked applied" in result.output
    with sa.create_engine(url).connect() as conn:
        rows = conn.exec_driver_sql("SELECT inventory_id, total_items FROM inventory_summary ORDER BY 1").all()
    assert [tuple(r) for r in rows] == [(1, 5), (2, 0), (3, 0)]
    assert runner.invoke(app, ["projections", "rebuild", "orders"]).exit_code != 0


def test_outbox_purge_removes_what_is_older_than_the_retention_and_says_what(monkeypatch: pytest.MonkeyPatch,
                                                                            tmp_path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.support.outbox_rows import archived, keys

    url = f"sqlite:///{tmp_path / 'purge.db'}"
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    now = datetime.now(UTC)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        keys(conn, now - timedelta(days=10), archived(conn, 1, now - timedelta(days=10)))
        archived(conn, 2, now - timedelta(days=2))

    for age in ("12h", "0.5", "soon"):
        refused = runner.invoke(app, ["outbox", "purge", "--older-than", age])
        assert refused.exit_code == 2, refused.output
    assert "--older-than 12h is under the 1-day floor" in runner.invoke(
        app, ["outbox", "purge", "--older-than", "12h"]).output

    dry = runner.invoke(app, ["outbox", "purge", "--dry-run"])  # SUPPLYTRACE_RETENTION_DAYS: 7
    assert dry.exit_code == 0, dry.output
    assert "\nwould remove outbox_archive 1, processed_events 1" in dry.output and "(older than " in dry.output

    done = runner.invoke(app, ["outbox", "purge", "--older-than", "36h"])
    assert done.exit_code == 0, done.output
    said = [line for line in done.output.splitlines() if "[alembic" not in line]  # SQLite is migrated on start
    assert said[0].startswith("batch 1: removed outbox_archive 2, processed_events 1")
    assert said[1].startswith("removed outbox_archive 2, processed_events 1") and len(said) == 2
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM outbox_archive").scalar_one() == 0
        actor, details = conn.exec_driver_sql(
            "SELECT actor, details FROM audit_log WHERE action = 'OUTBOX_PURGED'").one()
    assert actor.startswith("cli") and '"outbox_archive": 2' in details
    assert "removed nothing" in runner.invoke(app, ["outbox", "purge", "--older-than", "1d"]).output
    engine.dispose()


def test_scorecard_compute_stores_a_complete_month_once_and_refuses_an_open_one(monkeypatch: pytest.MonkeyPatch,
                                                                              tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a supplier of 2020, APPROVED as the suppliers of before migration 0015
        conn.exec_driver_sql("INSERT INTO suppliers (name, certification_expiry, created_at, updated_at) VALUES "
                             "('Beta Metals', '2030-01-01', '2020-01-01 00:00:00', '2020-01-01 00:00:00')")

    done = runner.invoke(app, ["scorecard", "compute", "--month", "2025-06"])
    assert done.exit_code == 0, done.output
    assert "2025-06: 1 supplier score stored" in done.output
    assert "2025-06: 0 supplier scores stored" in runner.invoke(app, ["scorecard", "compute", "--month",
                                                                     "2025-06-15"]).output
    assert runner.invoke(app, ["scorecard", "compute"]).exit_code == 0  # the last complete month
    for month, problem in (("2999-01", "is not over yet"), ("2025-13", "must be a month YYYY-MM")):
        refused = runner.invoke(app, ["scorecard", "compute", "--month", month])
        assert refused.exit_code == 2 and problem in refused.output, refused.output
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT period_start, standing, total_score FROM supplier_score_periods "
                                    "ORDER BY period_start").all()
        events = conn.exec_driver_sql("SELECT event_type, actor FROM outbox_events").all()
    assert [tuple(r) for r in rows][0] == ("2025-06-01", "N/A", None) and len(rows) == 2
    assert [tuple(e) for e in events][0][0] == "SUPPLIER_SCORED" and events[0][1].startswith("cli")
    engine.dispose()


def test_events_replay_replays_failed_events_with_a_reason_and_shows_their_timeline(monkeypatch: pytest.MonkeyPatch,
                                                                                     tmp_path) -> None:
    import json
    from datetime import date

    from application.envelope import Origin
    from application.ports.outbox import OutboxStatus
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    url = f"sqlite:///{tmp_path / 'replay.db'}"
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    container = build_container(Settings(_env_file=None, database_url=url))
    container.create_supplier()("A", date(2027, 1, 31), Origin())
    with container.uow() as uow:  # out of attempts
        [record] = uow.outbox.claim(10, container.clock().now()).records
        uow.outbox.record_failure(record, 5, "RuntimeError: down", OutboxStatus.FAILED, record.next_attempt_at,
                                  record.next_attempt_at)
        uow.commit()
    container.engine().dispose()
    event_id = str(record.envelope.event_id)

    monkeypatch.setenv("SUPPLYTRACE_LOG_JSON", "true")

    def printed(result: Any) -> Any:  # stdout is the JSON alone: the log lines (alembic's too) go to stderr
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    dry = printed(runner.invoke(app, ["events", "replay", "--failed-since", "2000-01-01", "--dry-run", "--reason", "x"]))
    assert (dry["count"], dry["dry_run"]) == (1, True)
    no_reason = runner.invoke(app, ["events", "replay", event_id])
    assert no_reason.exit_code == 2 and "reason" in no_reason.output
    done = printed(runner.invoke(app, ["events", "replay", event_id, "--reason", "handler fixed"]))
    assert (done["before"], done["after"]) == ("FAILED", "PENDING")
    again = runner.invoke(app, ["events", "replay", event_id, "--reason", "again"])
    assert again.exit_code == 2 and "only FAILED events are replayed" in again.output
    shown = printed(runner.invoke(app, ["events", "show", event_id]))
    replayed = [s for s in shown["steps"] if s["step"] == "REPLAYED"]
    assert shown["status"] == "PENDING" and replayed[0]["detail"]["reason"] == "handler fixed"
    assert replayed[0]["detail"]["actor"].startswith("cli")
    assert printed(runner.invoke(app, ["audit", "verify"]))["ok"] is True
