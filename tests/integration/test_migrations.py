"""Migrations build the schema the code expects, on an empty PostgreSQL database and on SQLite."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url

from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy.tables import audit_log, metadata
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit_chain import GENESIS, VerifyAuditLog, entry_hash
from application.ports.consumption import AuditEntry
from tests.support.databases import postgres_admin_url


@pytest.fixture
def empty_postgres():
    base = make_url(postgres_admin_url())
    name = f"supplytrace_migrate_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(base.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_sqlite(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    yield engine
    engine.dispose()


def _differences(engine: sa.Engine) -> list:
    def of_this_dialect(item, _name, kind, _reflected, _compare_to) -> bool:
        # an index declared for one dialect only (`ddl_if`, e.g. the pg_trgm indexes) exists on that one only
        condition = getattr(item, "_ddl_if", None) if kind == "index" else None
        return condition is None or condition.dialect in (None, engine.dialect.name)

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": of_this_dialect})
        return compare_metadata(context, metadata)


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_upgrade_builds_the_schema_of_the_code(database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision(engine)
    assert _differences(engine) == []


def test_an_owner_that_is_not_a_superuser_migrates_with_pg_trgm() -> None:
    """Migration 0013 creates pg_trgm (a trusted extension): the database's owner needs no superuser rights."""
    base = make_url(postgres_admin_url())
    suffix = uuid.uuid4().hex[:8]
    role, name = f"supplytrace_owner_{suffix}", f"supplytrace_owned_{suffix}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER PASSWORD \'{suffix}\''))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    engine = create_engine(base.set(database=name, username=role, password=suffix)
                           .render_as_string(hide_password=False))
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar() is False
            assert conn.execute(sa.text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%_trgm'")).scalar() == 6
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_downgrade_then_upgrade_again(database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine)
    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "base")
    assert not sa.inspect(engine).has_table("outbox_events")
    migrate.upgrade(engine)
    assert _differences(engine) == []


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_the_audit_log_is_append_only_in_the_database(database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(audit_log).values(
            event_id=uuid.uuid4(), action="SUPPLIER_CREATED", entity_type="supplier", entity_id="1", actor="a",
            correlation_id="c", occurred_at=now, recorded_at=now, details={}, prev_hash=GENESIS, hash=GENESIS))
    for statement in (sa.update(audit_log).values(actor="someone else"), sa.delete(audit_log)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    with engine.connect() as conn:
        assert conn.execute(sa.select(audit_log.c.actor)).scalars().all() == ["a"]


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0006_backfills_the_kpi_counters_from_the_rows(database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0004")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO suppliers (name, certification_expiry, created_at) VALUES "
                             "('a', '2030-01-01', :now), ('b', '2030-01-01', :now)"), {"now": now})
        conn.execute(sa.text("INSERT INTO non_conformities (supplier_id, severity, description, status, opened_at) "
                             "VALUES (1, 'high', 'd', 'OPEN', :now), (1, 'high', 'd', 'OPEN', :now), "
                             "(2, 'low', 'd', 'CLOSED', :now)"), {"now": now})
        conn.execute(sa.insert(audit_log), [
            {"event_id": uuid.uuid4(), "action": "NC_CREATED", "entity_type": "nc", "entity_id": "1", "actor": "a",
             "correlation_id": "c", "occurred_at": now, "recorded_at": now, "details": {}} for _ in range(3)])
    migrate.upgrade(engine)
    with engine.connect() as conn:
        values = dict(conn.execute(sa.text("SELECT name, value FROM kpi_counters WHERE value <> 0")).all())
    assert values == {"suppliers": 2, "nc:OPEN:high": 2, "nc:CLOSED:low": 1, "audit:nc:NC_CREATED": 3}


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0008_chains_the_existing_records_in_id_order_and_keeps_them_append_only(
        database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0007")
    now = datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC)
    rows = [{"event_id": uuid.uuid4(), "action": "NC_CREATED", "entity_type": "nc", "entity_id": str(n),
             "actor": "a", "correlation_id": "c", "occurred_at": now, "recorded_at": now,
             "details": {"n": n, "big": 1e20, "nested": {"b": [1, 2.5], "a": "é"}}} for n in range(2500)]
    with engine.begin() as conn:
        conn.execute(sa.insert(audit_log), rows)  # the columns before revision 0008
    migrate.upgrade(engine)
    assert _differences(engine) == []

    with engine.connect() as conn:
        chained = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    first, second = chained[:2]
    assert VerifyAuditLog(lambda: SqlUnitOfWork(engine, SystemClock()), page_size=1000)() == {
        "ok": True, "records": 2500, "head": chained[-1].hash}
    entry = AuditEntry(event_id=rows[0]["event_id"], event_type="NC_CREATED", entity_type="nc", entity_id="0",
                       actor="a", correlation_id="c", occurred_at=now, recorded_at=now, details=rows[0]["details"])
    assert (first.prev_hash, first.hash, second.prev_hash) == (GENESIS, entry_hash(entry, GENESIS), first.hash)
    for statement in (sa.update(audit_log).values(hash=GENESIS), sa.delete(audit_log)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)

    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "0007")
    assert {c["name"] for c in sa.inspect(engine).get_columns("audit_log")} == set(rows[0]) | {"id"}
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_log"))


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0014_keeps_existing_ncs_counts_their_closings_and_downgrades_the_new_states(
        database: str, request: pytest.FixtureRequest) -> None:
    from adapters.outbound.sqlalchemy.counters import recount
    from application.envelope import Origin
    from bootstrap.container import build_container
    from bootstrap.settings import Settings

    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0013")
    opened = datetime(2026, 3, 1, 9, 0, 0, 500000, tzinfo=UTC)
    closed = datetime(2026, 3, 3, 21, 0, 0, 250000, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO suppliers (name, certification_expiry, created_at, updated_at) "
                             "VALUES ('a', '2030-01-01', :t, :t)"), {"t": opened})
        conn.execute(sa.text(
            "INSERT INTO non_conformities (supplier_id, severity, description, status, opened_at, closed_at, "
            "created_at, updated_at) VALUES (1, 'high', 'd', 'OPEN', :o, NULL, :o, :o), "
            "(1, 'high', 'd', 'CLOSED', :o, :c, :o, :c)"), {"o": opened, "c": closed})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        # rows written by SQL bypass the counters: only the day buckets are 0014's to backfill
        values = {name: int(n) for name, n in conn.execute(sa.text(
            "SELECT name, sum(value) FROM kpi_counters GROUP BY name HAVING sum(value) <> 0")).all()}
        assert values == {k: v for k, v in recount(conn).items() if k.startswith("nc_clos")}
    assert values["nc_closed_on:2026-03-03"] == 1 and values["nc_close_seconds_on:2026-03-03"] == 2 * 86400 + 12 * 3600
    container = build_container(Settings(_env_file=None, database_url=engine.url.render_as_string(hide_password=False)))
    try:
        legacy = container.nc_queries().get(2)
        assert (legacy.status.value, legacy.closed_without_capa, legacy.reopen_count, legacy.actions) == \
            ("CLOSED", False, 0, [])
        moved = container.move_nc()(1, "INVESTIGATING", Origin("quality"), {"owner": "quality"})
        assert moved.status.value == "INVESTIGATING" and moved.version == 2
    finally:
        container.engine().dispose()
    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "0013")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM non_conformities ORDER BY id")).scalars().all() == \
            ["OPEN", "CLOSED"]
        counts = {name: int(n) for name, n in conn.execute(sa.text(
            "SELECT name, sum(value) FROM kpi_counters WHERE name LIKE 'nc%' GROUP BY name")).all()}
    assert counts == {"nc:OPEN:high": 1, "nc:CLOSED:high": 1}


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0015_approves_the_existing_suppliers_and_the_app_reads_them(database: str,
                                                                     request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0013")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO suppliers (name, certification_expiry, created_at, updated_at) VALUES "
                             "('a', '2030-01-01', :now, :now), ('b', '2020-01-01', :now, :now)"), {"now": now})
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, approval_status, status_reason, status_changed_by FROM suppliers "
                                    "ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [
        (name, "APPROVED", "approved before approval statuses existed (migration 0015)", None) for name in "ab"]
    uow = SqlUnitOfWork(engine, SystemClock())
    with uow:
        supplier = uow.suppliers.get(1)
        assert (supplier.approval_status.value, supplier.version) == ("APPROVED", 1)
        assert uow.kpi_counts.read(date(2026, 1, 1), date(2026, 1, 31), datetime.now(UTC)).suppliers_blocked == 0
        assert uow.certificates.for_supplier(1) == []


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0016_keeps_the_records_before_it_verifying_under_rule_1_and_the_log_append_only(
        database: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0013")
    now = datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC)
    old = sa.table("audit_log", *(sa.column(c.name, c.type) for c in audit_log.c
                                  if c.name not in ("changes", "reason", "hash_version")))
    with SqlUnitOfWork(engine, SystemClock()) as uow:  # the rule-1 chain 0008 would have built
        prev, rows = GENESIS, []
        for n in range(3):
            entry = AuditEntry(event_id=uuid.uuid4(), event_type="NC_CREATED", entity_type="nc", entity_id=str(n),
                               actor="a", correlation_id="c", occurred_at=now, recorded_at=now, details={"n": n})
            rows.append({"event_id": entry.event_id, "action": "NC_CREATED", "entity_type": "nc", "entity_id": str(n),
                         "actor": "a", "correlation_id": "c", "occurred_at": now, "recorded_at": now,
                         "details": {"n": n}, "prev_hash": prev, "hash": entry_hash(entry, prev)})
            prev = rows[-1]["hash"]
        uow.conn.execute(sa.insert(old), rows)
        uow.commit()
    migrate.upgrade(engine)
    assert _differences(engine) == []
    with SqlUnitOfWork(engine, SystemClock()) as uow:
        uow.audit.append([AuditEntry(event_id=uuid.uuid4(), event_type="NC_CLOSED", entity_type="nc", entity_id="0",
                                     actor="b", correlation_id="c", occurred_at=now, recorded_at=now, details={},
                                     changes=[["status", "OPEN", "CLOSED"]], reason="fixed")])
        uow.commit()
    with engine.connect() as conn:
        stored = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    assert [(r.hash_version, r.changes, r.reason) for r in stored] == [(1, None, None)] * 3 + [
        (2, [["status", "OPEN", "CLOSED"]], "fixed")]
    assert VerifyAuditLog(lambda: SqlUnitOfWork(engine, SystemClock()))() == {
        "ok": True, "records": 4, "head": stored[-1].hash}
    for statement in (sa.update(audit_log).values(reason="later"), sa.delete(audit_log)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)

    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "0013")
    assert {c["name"] for c in sa.inspect(engine).get_columns("audit_log")} == {c.name for c in old.c}
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'x'"))


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0018_adds_the_scorecard_keeping_suppliers_and_ncs_and_downgrades_to_0017(
        database: str, request: pytest.FixtureRequest) -> None:
    from datetime import date

    from alembic import command

    from domain.nonconformities import NcStatus, Severity
    from domain.scorecard import Month
    from domain.suppliers import IN_USE

    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0017")
    opened = datetime(2026, 2, 3, 8, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO suppliers (name, certification_expiry, created_at, updated_at) VALUES "
                             "('a', '2030-01-01', :at, :at)"), {"at": datetime(2026, 1, 5, tzinfo=UTC)})
        conn.execute(sa.text("INSERT INTO non_conformities (supplier_id, severity, description, status, opened_at, "
                             "created_at, updated_at) VALUES (1, 'high', 'x', 'OPEN', :at, :at, :at)"), {"at": opened})
    migrate.upgrade(engine, "0018")
    assert migrate.current_revision(engine) == "0018"
    february = Month(date(2026, 2, 1))
    with SqlUnitOfWork(engine, SystemClock()) as uow:  # the rows of before are the scorecard's input
        assert uow.scores.unscored(february.start, IN_USE, february.ends_before) == [1]
        assert uow.ncs.raised_between(1, february.begins_at, february.ends_before) == {
            (Severity.HIGH, NcStatus.OPEN): 1}
        assert uow.receipts.received_between(1, february.start, february.end) == []

    command.downgrade(migrate.alembic_config(engine), "0017")
    inspector = sa.inspect(engine)
    assert not {"supplier_receipts", "supplier_score_periods"} & set(inspector.get_table_names())
    assert "ix_non_conformities_supplier_id_opened_at" not in {i["name"] for i in inspector.get_indexes(
        "non_conformities")}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM non_conformities")).scalar_one() == 1
    migrate.upgrade(engine)
    assert _differences(engine) == []


@pytest.mark.parametrize("database", ["empty_postgres", "empty_sqlite"])
def test_0019_counts_the_open_actions_by_due_day_and_the_kpis_read_them(
        database: str, request: pytest.FixtureRequest) -> None:
    from adapters.outbound.clock import FixedClock
    from adapters.outbound.sqlalchemy.counters import recount
    from application.kpi import KpiQuery

    engine = request.getfixturevalue(database)
    migrate.upgrade(engine, "0018")
    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO suppliers (name, certification_expiry, created_at, updated_at) VALUES "
                             "('a', '2030-01-01', :at, :at)"), {"at": at})
        conn.execute(sa.text("INSERT INTO non_conformities (supplier_id, severity, description, status, opened_at, "
                             "created_at, updated_at) VALUES (1, 'low', 'x', 'INVESTIGATING', :at, :at, :at)"),
                     {"at": at})
        for n, (due, status) in enumerate([(date(2026, 3, 5), "PLANNED"), (date(2026, 3, 5), "IN_PROGRESS"),
                                           (date(2026, 3, 12), "PLANNED"), (date(2026, 3, 20), "PLANNED"),
                                           (date(2026, 3, 5), "DONE")], start=1):
            conn.execute(sa.text("INSERT INTO nc_actions (nc_id, id, type, description, owner, due_date, status, "
                                 "created_at, updated_at) VALUES (1, :n, 'CONTAINMENT', 'd', 'quality', :due, :s, "
                                 ":at, :at)"), {"n": n, "due": due, "s": status, "at": at})
    migrate.upgrade(engine)
    assert _differences(engine) == []
    with engine.connect() as conn:
        values = {name: int(n) for name, n in conn.execute(sa.text(
            "SELECT name, sum(value) FROM kpi_counters WHERE name LIKE 'nc_action_open_due:%' GROUP BY name"))}
        assert values == {k: v for k, v in recount(conn).items() if k.startswith("nc_action_open_due:")} == {
            "nc_action_open_due:2026-03-05": 2, "nc_action_open_due:2026-03-12": 1, "nc_action_open_due:2026-03-20": 1}
    clock = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    kpi = KpiQuery(lambda: SqlUnitOfWork(engine, clock), clock)()
    assert (kpi.actions_overdue, kpi.actions_due_7d) == (2, 1)

    from alembic import command

    command.downgrade(migrate.alembic_config(engine), "0018")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kpi_counters WHERE name LIKE 'nc_action_open_due:%'")
                            ).scalar_one() == 0

