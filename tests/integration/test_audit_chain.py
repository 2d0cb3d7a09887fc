"""The audit log's hash chain on SQLite and PostgreSQL: concurrent appends never fork it, an edit made
behind the append-only triggers' back is named by `VerifyAuditLog`, the API and the CLI."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from adapters.inbound.cli import app as cli
from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import audit_log
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit_chain import GENESIS, VerifyAuditLog
from application.envelope import Origin
from application.pagination import PageRequest
from application.ports.consumption import AuditEntry, AuditFilter
from tests.support.harness import running_app

APPEND_ONLY_TRIGGER = {  # the UPDATE trigger of migration 0001, as its owner would drop and recreate it
    "postgresql": ("DROP TRIGGER audit_log_append_only ON audit_log",
                   "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"),
    "sqlite": ("DROP TRIGGER audit_log_no_update",
               "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"),
}


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")  # PostgreSQL: the runtime role, as the service


@pytest.fixture
def engine(url: str):
    engine = create_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def owner(engine: sa.Engine, request: pytest.FixtureRequest):
    """Who owns the tables (PostgreSQL) or the file (SQLite): may drop a trigger."""
    if engine.dialect.name == "sqlite":
        yield engine
        return
    owner = create_engine(request.getfixturevalue("postgres_owner_url"))
    yield owner
    owner.dispose()


def entry(n: int, event_id: uuid.UUID | None = None) -> AuditEntry:
    now = datetime.now(UTC)
    return AuditEntry(event_id=event_id or uuid.uuid4(), event_type="NC_CREATED", entity_type="nc",
                      entity_id=str(n), actor="alice", correlation_id="c", occurred_at=now, recorded_at=now,
                      details={"n": n, "ratio": 0.5, "big": 1e20, "nested": {"z": [1, "é"], "a": None}})


def append(engine: sa.Engine, entries: list[AuditEntry]) -> None:
    with SqlUnitOfWork(engine, SystemClock()) as uow:
        uow.audit.append(entries)
        uow.commit()


def verify(engine: sa.Engine, page_size: int = 1000) -> dict:
    return VerifyAuditLog(lambda: SqlUnitOfWork(engine, SystemClock()), page_size)()


def records(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()


def tamper(owner: sa.Engine, record_id: int) -> None:
    """An owner's edit behind the triggers' back: drop the trigger, rewrite a record, put the trigger back."""
    drop, create = APPEND_ONLY_TRIGGER[owner.dialect.name]
    with owner.begin() as conn:
        conn.exec_driver_sql(drop)
        conn.execute(sa.update(audit_log).where(audit_log.c.id == record_id).values(details={"forged": True}))
        conn.exec_driver_sql(create)


def test_appends_chain_in_id_order_and_an_event_already_recorded_is_skipped(engine: sa.Engine) -> None:
    first, second = entry(1), entry(2)
    append(engine, [first, second, first])
    append(engine, [entry(3), second])  # a second delivery of `second`: not chained twice
    rows = records(engine)
    assert [r.entity_id for r in rows] == ["1", "2", "3"]
    assert [r.prev_hash for r in rows] == [GENESIS, rows[0].hash, rows[1].hash]
    assert verify(engine, page_size=2) == {"ok": True, "records": 3, "head": rows[-1].hash}
    with SqlUnitOfWork(engine, SystemClock()).reading() as uow:
        assert uow.audit.count() == 3  # the counters count what was chained (ADR 0012)


def test_concurrent_transactions_append_one_linear_chain(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    threads, transactions, per_transaction = 4, 50, 3
    start, errors = threading.Barrier(threads), []

    def writer(t: int) -> None:
        start.wait()
        try:
            for i in range(transactions):
                append(engine, [entry(1000 * t + 10 * i + k) for k in range(per_transaction)])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    workers = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        assert errors == []
        rows = records(engine)
        total = threads * transactions * per_transaction
        assert len(rows) == len({r.prev_hash for r in rows}) == total  # no two records link onto one
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]  # id order is chain order
        assert verify(engine, page_size=128) == {"ok": True, "records": total, "head": rows[-1].hash}
    finally:
        engine.dispose()


def test_an_edit_behind_the_triggers_back_is_named(engine: sa.Engine, owner: sa.Engine) -> None:
    for n in range(5):
        append(engine, [entry(n)])
    rows = records(engine)
    tamper(owner, rows[2].id)
    assert verify(engine, page_size=2) == {"ok": False, "records": 2, "broken": {
        "id": rows[2].id, "event_id": str(rows[2].event_id), "reason": "hash mismatch"}}


def test_a_plain_update_or_delete_of_the_audit_log_is_refused(engine: sa.Engine, owner: sa.Engine) -> None:
    append(engine, [entry(1)])
    # even the owner (PostgreSQL; the runtime role has no such privilege at all: test_least_privilege.py)
    for statement in (sa.update(audit_log).values(details={"forged": True}), sa.delete(audit_log)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), owner.begin() as conn:
            conn.execute(statement)
    assert verify(engine)["ok"] is True


def test_the_api_lets_auditors_verify_the_log(url: str, owner: sa.Engine) -> None:
    stack = "sqlite" if url.startswith("sqlite") else "postgres"
    with running_app(stack, url) as app:
        supplier = app.call("procurement", "POST", "/suppliers",
                            json={"name": "Beta Metals", "certification_expiry": "2027-06-30"})
        assert supplier.status_code == 201, supplier.text
        app.call("quality", "POST", "/ncs", json={"supplier_id": 1, "severity": "high", "description": "x"})
        app.run_worker()

        answer = app.call("auditor", "GET", "/audit-log/verify")
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"ok": True, "records": 2, "head": records(owner)[-1].hash}
        assert app.call("quality", "GET", "/audit-log/verify").status_code == 403
        assert app.call(None, "GET", "/audit-log/verify").status_code == 401

        first = records(owner)[0]
        tamper(owner, first.id)
        assert app.call("admin", "GET", "/audit-log/verify").json() == {"ok": False, "records": 0, "broken": {
            "id": first.id, "event_id": str(first.event_id), "reason": "hash mismatch"}}


def test_the_cli_prints_the_result_and_exits_1_when_broken(url: str, owner: sa.Engine,
                                                            monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    container = build_container(Settings(_env_file=None, database_url=url))
    container.create_supplier()("Beta Metals", date(2027, 6, 30), Origin("alice", "c"))
    container.relay().drain()
    container.engine().dispose()

    ok = CliRunner().invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout) == {"ok": True, "records": 1, "head": records(owner)[0].hash}

    tamper(owner, records(owner)[0].id)
    broken = CliRunner().invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1, broken.output
    assert json.loads(broken.stdout)["broken"]["reason"] == "hash mismatch"


# --- changes and reason (hash rule 2, ADR 0026) ----------------------------------------------------


def test_changes_and_reason_are_stored_as_given_and_covered_by_the_hash(engine: sa.Engine, owner: sa.Engine) -> None:
    changes = [["certification_expiry", "2027-06-30", "2028-01-31"], ["score", 1e20, 0.5],
               ["lines[7]", None, {"z": [1, "é"], "a": None}]]
    append(engine, [dataclasses.replace(entry(1), changes=changes, reason="new certificate: ISO 9001 é"),
                    entry(2)])
    rows = records(engine)
    assert [(r.changes, r.reason, r.hash_version) for r in rows] == [
        (changes, "new certificate: ISO 9001 é", 2), ([], None, 2)]
    assert verify(engine)["ok"] is True  # the JSON the database gives back hashes as what was chained
    with SqlUnitOfWork(engine, SystemClock()).reading() as uow:
        listed = uow.audit.list(AuditFilter(actor="alice"), PageRequest())
        assert [(e.entity_id, e.changes) for e in listed.items] == [("2", []), ("1", changes)]
        assert uow.audit.list(AuditFilter(actor="bob"), PageRequest()).total == 0


def test_rewriting_an_audit_records_changes_makes_audit_verify_fail(url: str, owner: sa.Engine,
                                                                   monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The owner (PostgreSQL: the tables' owner, not the runtime role) rewrites what a record says changed."""
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url)
    container = build_container(Settings(_env_file=None, database_url=url))
    container.create_supplier()("Beta Metals", date(2027, 6, 30), Origin("alice", "c"))
    container.update_certification()(1, date(2028, 1, 31), Origin("procurement", "c"))
    container.relay().drain()
    container.engine().dispose()
    assert CliRunner().invoke(cli, ["audit", "verify"]).exit_code == 0
    updated = records(owner)[-1]
    assert updated.changes == [["certification_expiry", "2027-06-30", "2028-01-31"]]

    drop, create = APPEND_ONLY_TRIGGER[owner.dialect.name]
    with owner.begin() as conn:
        conn.exec_driver_sql(drop)
        conn.execute(sa.update(audit_log).where(audit_log.c.id == updated.id).values(
            changes=[["certification_expiry", "2026-01-31", "2028-01-31"]]))
        conn.exec_driver_sql(create)
    broken = CliRunner().invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1, broken.output
    assert json.loads(broken.stdout)["broken"] == {"id": updated.id, "event_id": str(updated.event_id),
                                                   "reason": "hash mismatch"}
