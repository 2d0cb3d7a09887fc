"""PostgreSQL: the service's runtime role cannot rewrite history, only append to it and deliver it.

`postgres_url` connects as the runtime role (tests/support/databases.py), as the service does;
`postgres_owner_url` as the owner of the tables, who runs the migrations and `db grant`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from adapters.inbound.cli import app
from adapters.outbound.sqlalchemy import runtime_role
from application.audit_chain import GENESIS
from adapters.outbound.sqlalchemy.tables import audit_log, outbox_archive, outbox_events, processed_events
from tests.support.outbox_rows import archived, keys

pytestmark = pytest.mark.postgres

INSUFFICIENT_PRIVILEGE = "42501"

FORGERIES = {
    "truncate the audit log": "TRUNCATE audit_log",
    "disable its triggers": "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "drop its append-only trigger": "DROP TRIGGER audit_log_append_only ON audit_log",
    "update an audit record": "UPDATE audit_log SET actor = 'mallory'",
    "rewrite an audit record's changes": "UPDATE audit_log SET changes = '[[\"status\", \"OPEN\", \"CLOSED\"]]'",
    "rewrite an audit record's reason": "UPDATE audit_log SET reason = 'a better story'",
    "pass an audit record off as rule 1": "UPDATE audit_log SET hash_version = 1",
    "delete an audit record": "DELETE FROM audit_log",
    "add a trigger": "CREATE TRIGGER forge BEFORE INSERT ON audit_log FOR EACH ROW "
                     "EXECUTE FUNCTION audit_log_append_only()",
    "drop the audit log": "DROP TABLE audit_log",
    "alter the audit log": "ALTER TABLE audit_log ADD COLUMN note text",
    "rewrite the order history": "UPDATE order_history SET actor = 'mallory'",
    "truncate the order history": "TRUNCATE order_history",
    "rewrite a pending payload": "UPDATE outbox_events SET payload = '{\"forged\": true}' WHERE status = 'PENDING'",
    "rewrite a pending actor": "UPDATE outbox_events SET actor = 'mallory' WHERE status = 'PENDING'",
    "rewrite a pending event type": "UPDATE outbox_events SET event_type = 'NC_CLOSED' WHERE status = 'PENDING'",
    "move a pending event": "UPDATE outbox_events SET aggregate_id = '999' WHERE status = 'PENDING'",
    "backdate a pending event": "UPDATE outbox_events SET occurred_at = now() - interval '1 year' "
                                "WHERE status = 'PENDING'",
    "delete a pending event": "DELETE FROM outbox_events WHERE status = 'PENDING'",
    "truncate the outbox": "TRUNCATE outbox_events",
    "rewrite a delivered event": "UPDATE outbox_archive SET payload = '{\"forged\": true}'",
    "truncate the archive": "TRUNCATE outbox_archive",
    "disable the outbox triggers": "ALTER TABLE outbox_events DISABLE TRIGGER ALL",
    "delete a delivered event": "DELETE FROM outbox_archive",
    "backdate a delivered event to purge it": "UPDATE outbox_archive SET handled_at = now() - interval '1 year'",
    "forget a handled event": "DELETE FROM processed_events",
    "backdate a handled event's key to purge it":
        "UPDATE processed_events SET processed_at = now() - interval '1 year'",
    "delete a certificate record": "DELETE FROM supplier_certificates",  # withdrawn, never deleted (ADR 0025)
    "truncate the certificate records": "TRUNCATE supplier_certificates",
    # a stored month of the scorecard never changes, a receipt is a record of fact (ADR 0028)
    "rewrite a stored score": "UPDATE supplier_score_periods SET total_score = 100, standing = 'EXCELLENT'",
    "delete a stored score": "DELETE FROM supplier_score_periods",
    "rewrite a receipt": "UPDATE supplier_receipts SET qty_rejected = 0",
    "delete a receipt": "DELETE FROM supplier_receipts",
    "rewrite the schema revision": "UPDATE alembic_version SET version_num = '0001'",
    "create a table": "CREATE TABLE shadow (id int)",
    "create a function": "CREATE FUNCTION public.forge() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "turn every trigger off": "SET session_replication_role = replica",
}


@pytest.fixture
def runtime(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    now = datetime.now(UTC)
    with engine.begin() as conn:  # what the service does: append
        conn.execute(sa.insert(audit_log).values(
            event_id=uuid.uuid4(), action="SUPPLIER_CREATED", entity_type="supplier", entity_id="1", actor="alice",
            correlation_id="c", occurred_at=now, recorded_at=now, details={}, prev_hash=GENESIS, hash=GENESIS))
        conn.execute(sa.insert(outbox_events).values(
            event_id=uuid.uuid4(), event_type="SUPPLIER_CREATED", aggregate_type="supplier", aggregate_id="1",
            occurred_at=now, actor="alice", correlation_id="c", payload={"name": "Beta"}, status="PENDING",
            attempts=0, next_attempt_at=now, created_at=now))
        archived(conn, 10**9, now)
        keys(conn, now, uuid.uuid4())
    yield engine
    engine.dispose()


@pytest.mark.parametrize("statement", FORGERIES.values(), ids=FORGERIES.keys())
def test_the_runtime_role_cannot_rewrite_history(runtime: sa.Engine, statement: str) -> None:
    # rolled back whatever happens: a forgery that got through must not spoil the next test
    with runtime.connect() as conn, conn.begin():
        with pytest.raises(sa.exc.ProgrammingError) as raised:
            conn.exec_driver_sql(statement)
    assert raised.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE, raised.value.orig


def test_the_runtime_role_still_delivers_an_event(runtime: sa.Engine) -> None:
    o = outbox_events.c
    later = datetime.now(UTC) + timedelta(seconds=60)
    with runtime.begin() as conn:  # claim, fail once, then publish: the delivery-state columns only
        claimed = conn.execute(
            sa.select(o.position).where(o.status == "PENDING").with_for_update(skip_locked=True)).scalar_one()
        conn.execute(sa.update(outbox_events).where(o.position == claimed).values(locked_until=later))
        conn.execute(sa.update(outbox_events).where(o.position == claimed).values(
            attempts=o.attempts + 1, last_error="boom", next_attempt_at=later, locked_until=None))
        conn.execute(sa.update(outbox_events).where(o.position == claimed).values(
            status="PUBLISHED", published_at=later))
    with runtime.connect() as conn:
        row = conn.execute(sa.select(outbox_events)).one()
    assert (row.status, row.attempts, row.last_error, row.actor) == ("PUBLISHED", 1, "boom", "alice")


def test_the_runtime_role_purges_only_what_is_older_than_the_floor(runtime: sa.Engine) -> None:
    old = datetime.now(UTC) - timedelta(hours=25)  # the fixture's rows are from now
    with runtime.begin() as conn:
        archived(conn, 10**9 + 1, old)
        keys(conn, old, uuid.uuid4())
    for table, at in ((outbox_archive, outbox_archive.c.handled_at),
                      (processed_events, processed_events.c.processed_at)):
        refused = {"retention floor": sa.delete(table).where(at > old),  # the trigger of migration 0009
                   "permission denied": sa.update(table).where(at == old).values(event_id=uuid.uuid4())}  # no grant
        for reason, statement in refused.items():
            with runtime.connect() as conn, conn.begin(), pytest.raises(sa.exc.ProgrammingError) as raised:
                conn.execute(statement)
            assert raised.value.orig.sqlstate == INSUFFICIENT_PRIVILEGE and reason in str(raised.value.orig)
        with runtime.begin() as conn:
            assert conn.execute(sa.delete(table).where(at == old)).rowcount == 1


@pytest.fixture
def owner(postgres_owner_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_owner_url, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def test_applying_the_grants_again_revokes_what_the_rules_do_not_give(
        runtime: sa.Engine, owner: sa.Engine, postgres_database) -> None:
    role = postgres_database.role
    with owner.begin() as conn:
        conn.exec_driver_sql(f"GRANT UPDATE (payload), TRUNCATE ON outbox_events TO {role}")
        conn.exec_driver_sql(f"GRANT TRUNCATE, TRIGGER ON audit_log TO {role}")
        conn.exec_driver_sql(f"GRANT CREATE ON SCHEMA public TO {role}")
        report = runtime_role.apply_grants(conn, role)
    assert report.problems == []
    assert report.revoked() == {"table outbox_events": {"TRUNCATE", "UPDATE (payload)"},
                                "table audit_log": {"TRUNCATE", "TRIGGER"}, "schema public": {"CREATE"}}
    with runtime.connect() as conn, pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        conn.exec_driver_sql("UPDATE outbox_events SET payload = '{}'")


@pytest.mark.parametrize("danger, problem", [
    ("ALTER ROLE {role} CREATEROLE", "has CREATEROLE"),
    ("GRANT {owner} TO {role}", "owns (or may become the owner of) alembic_version, audit_log"),
])
def test_a_role_that_could_still_become_the_owner_is_refused(owner: sa.Engine, danger: str, problem: str) -> None:
    role = f"supplytrace_rt_{uuid.uuid4().hex[:10]}"
    with owner.connect() as conn:  # never committed: the role does not outlive the test
        runtime_role.ensure_role(conn, role, login=False, password=None)
        table_owner = conn.execute(sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log'"))
        conn.exec_driver_sql(danger.format(role=role, owner=table_owner.scalar_one()))
        report = runtime_role.apply_grants(conn, role)
        conn.rollback()
    assert any(problem in line for line in report.problems), report.problems
    assert all(line.startswith("refused, nothing changed") for line in report.lines())


@pytest.fixture
def cli_role(owner: sa.Engine, postgres_owner_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", postgres_owner_url)
    role = f"supplytrace_rt_{uuid.uuid4().hex[:10]}"
    yield role
    with owner.begin() as conn:
        if runtime_role.role_exists(conn, role):
            conn.exec_driver_sql(f"DROP OWNED BY {role}")  # its privileges in this database
            conn.exec_driver_sql(f"DROP ROLE {role}")


def test_db_grant_creates_the_runtime_role_and_applying_again_changes_nothing(
        cli_role: str, owner: sa.Engine, postgres_owner_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["db", "grant", "--runtime-role", cli_role], input="s3cret%'pw\ns3cret%'pw\n")
    assert first.exit_code == 0, first.output
    assert f"role {cli_role} created (LOGIN)" in first.output
    assert "  table audit_log: SELECT, INSERT\n" in first.output
    outbox = next(line for line in first.output.splitlines() if line.startswith("  table outbox_events: "))
    assert outbox.startswith("  table outbox_events: SELECT, INSERT, DELETE, UPDATE (attempts, ")
    assert "last_error, lease_token, locked_until, next_attempt_at, published_at, status)" in outbox
    assert "payload" not in outbox and "actor" not in outbox
    assert f"checked: {cli_role} owns nothing and holds exactly these privileges" in first.output
    with owner.connect() as conn:  # libpq computed the verifier: the password never reached the server
        stored = conn.execute(sa.text("SELECT rolpassword FROM pg_authid WHERE rolname = :r"), {"r": cli_role})
        assert stored.scalar_one().startswith("SCRAM-SHA-256$")

    monkeypatch.setenv("RUNTIME_PASSWORD", "another")
    again = runner.invoke(app, ["db", "grant", "--runtime-role", cli_role, "--password-env", "RUNTIME_PASSWORD"])
    assert again.exit_code == 0, again.output
    assert f"role {cli_role} exists, password set" in again.output
    assert "revoked: nothing" in again.output

    upgrade = runner.invoke(app, ["db", "upgrade", "--runtime-role", cli_role])
    assert upgrade.exit_code == 0, upgrade.output
    assert "database at revision" in upgrade.output and "revoked: nothing" in upgrade.output

    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", make_url(postgres_owner_url).set(
        username=cli_role, password="another").render_as_string(hide_password=False))
    served = runner.invoke(app, ["worker", "--once"])
    assert served.exit_code == 0, served.output


def test_db_upgrade_without_a_runtime_role_says_how_to_make_one(cli_role: str) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "supplytrace db grant --runtime-role NAME" in result.output.splitlines()[-1]
    missing = CliRunner().invoke(app, ["db", "upgrade", "--runtime-role", cli_role])
    assert missing.exit_code == 2 and f"role {cli_role} does not exist" in missing.output


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/app.db", "memory://"])
def test_db_grant_refuses_a_database_without_roles(url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPLYTRACE_DATABASE_URL", url.format(tmp=tmp_path))
    result = CliRunner().invoke(app, ["db", "grant", "--runtime-role", "supplytrace_app", "--no-login"])
    assert result.exit_code == 2
    assert "refused: a runtime role needs PostgreSQL" in result.output
