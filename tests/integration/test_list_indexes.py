"""Every list query (filter + sort + limit) is served by an index on PostgreSQL with 100k rows (ADR 0021).

The rows are loaded once for the module, in a database of its own (its statistics must not reach the
other tests), with INSERT … SELECT generate_series as the owner, then ANALYZE. The queries are the
ones the SQL adapters send: captured while the repositories list, then EXPLAINed with their parameters.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.tables import metadata
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application import listing
from application.listing import Finding
from application.pagination import PageRequest
from application.ports.consumption import AuditFilter
from application.ports.inventories import InventoryFilter
from application.ports.orders import OrderFilter
from application.ports.repositories import NcFilter, SupplierFilter
from domain.nonconformities import NcStatus, Severity
from domain.orders import OrderStatus
from tests.support.databases import postgres_admin_url

ROWS = 100_000
BIG = {"suppliers", "non_conformities", "orders", "inventory_summary", "audit_log"}

LOAD = [
    f"""INSERT INTO suppliers (id, name, certification_expiry, created_at, updated_at)
        SELECT i, 'Supplier ' || lpad(i::text, 6, '0'), DATE '2027-01-01' + (i % 700),
               TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute', TIMESTAMPTZ '2026-01-01' + i * INTERVAL '2 minute'
        FROM generate_series(1, {ROWS}) i""",
    f"""INSERT INTO non_conformities (id, supplier_id, severity, description, status, opened_at, closed_at,
                                      created_at, updated_at)
        SELECT i, i, (ARRAY['low', 'medium', 'high'])[1 + i % 3], 'Finding ' || i,
               CASE WHEN i % 10 = 0 THEN 'OPEN' ELSE 'CLOSED' END, t, CASE WHEN i % 10 = 0 THEN NULL ELSE t END, t, t
        FROM generate_series(1, {ROWS}) i, LATERAL (SELECT TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute') AS x(t)""",
    f"""INSERT INTO orders (id, reference, customer_id, customer_name, address, facility_id, status, declared_total,
                            total_amount, ordered_at, created_at, updated_at, version)
        SELECT md5(i::text)::uuid, 'ORD-' || i, 'CUST-' || (i % 5000), 'Customer ' || (i % 5000), 'Dock 1',
               'FAC-1', (ARRAY['RECEIVED', 'PICKING', 'IN_TRANSIT', 'DELIVERED', 'CANCELLED'])[1 + i % 5], 10, 10,
               t, t, t, 1
        FROM generate_series(1, {ROWS}) i, LATERAL (SELECT TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute') AS x(t)""",
    f"""INSERT INTO inventory_summary (inventory_id, customer, total_items, line_count, expiry_date, updated_at,
                                       created_at)
        SELECT i, 'Customer ' || (i % 5000), i % 1000, i % 10, DATE '2027-01-01' + (i % 700), t, t
        FROM generate_series(1, {ROWS}) i, LATERAL (SELECT TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute') AS x(t)""",
    f"""INSERT INTO audit_log (id, event_id, action, entity_type, entity_id, actor, correlation_id, occurred_at,
                               recorded_at, details, prev_hash, hash)
        SELECT i, md5(i::text)::uuid, (ARRAY['SUPPLIER_CREATED', 'NC_CREATED', 'NC_CLOSED', 'ORDER_PLACED'])[1 + i % 4],
               (ARRAY['supplier', 'nc', 'nc', 'order'])[1 + i % 4], (i % 20000)::text, 'user' || (i % 50), 'c',
               t, t, '{{}}'::jsonb, repeat('0', 64), repeat('0', 64)
        FROM generate_series(1, {ROWS}) i, LATERAL (SELECT TIMESTAMPTZ '2026-01-01' + i * INTERVAL '1 minute') AS x(t)""",
]


@pytest.fixture(scope="module")
def loaded() -> Iterator[sa.Engine]:
    base = make_url(postgres_admin_url())
    name = f"supplytrace_lists_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(base.set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(engine)
        started = time.monotonic()
        # the indexes of the big tables built once after the load: far faster than row by row (GIN above all)
        indexes = [index for table in metadata.sorted_tables if table.name in BIG for index in table.indexes]
        with engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL maintenance_work_mem = '128MB'"))
            for index in indexes:
                index.drop(conn)
            for statement in LOAD:
                conn.execute(sa.text(statement))
            for index in indexes:
                index.create(conn)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
        print(f"loaded {len(LOAD)} x {ROWS} rows and analyzed in {time.monotonic() - started:.1f} s")
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _scans(node: dict) -> Iterator[tuple[str, str | None]]:
    yield node["Node Type"], node.get("Relation Name")
    for child in node.get("Plans", ()):
        yield from _scans(child)


def _list_plans(engine: sa.Engine, listing_call) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The plans of the paged SELECTs (ORDER BY … LIMIT) that `listing_call(uow)` sends."""
    sent: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "ORDER BY" in statement and "LIMIT" in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with SqlUnitOfWork(engine, SystemClock()).reading() as uow:
            listing_call(uow)
            cursor = uow.conn.connection.driver_connection.cursor()
            plans = []
            for statement, parameters in sent:
                cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
                plan = cursor.fetchone()[0]
                plan = json.loads(plan) if isinstance(plan, str) else plan
                plans.append((statement, list(_scans(plan[0]["Plan"]))))
            return plans
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def _find(spec: listing.ListSpec, **given: str) -> Finding:
    return Finding.parse(spec, **given)


def _sorts(spec: listing.ListSpec) -> list[dict[str, str]]:
    return [{"sort": f"{sign}{field}"} for field in spec.sortable for sign in ("", "-")]


DAY = {"created_from": "2026-02-01", "created_to": "2026-02-03"}
CASES = [
    *[("suppliers", lambda uow, f=f: uow.suppliers.list(PageRequest(), SupplierFilter(_find(listing.SUPPLIERS, **f))))
      for f in [{}, {"q": "upplier 04242"}, {**DAY, "sort": "-created_at"}, {"q": "042", "sort": "-name"},
                {"sort": "-created_at,name"}, *_sorts(listing.SUPPLIERS)]],
    *[("non_conformities", lambda uow, f=f, k=k: uow.ncs.list(NcFilter(**k, find=_find(listing.NCS, **f)),
                                                              PageRequest()))
      for k in [{}, {"status": NcStatus.OPEN, "severity": Severity.HIGH}, {"supplier_id": 4242}]
      for f in [{}, {"q": "finding 4242"}, {**DAY, "sort": "-created_at"}, {"sort": "-updated_at"}]],
    *[("non_conformities", lambda uow, f=f: uow.ncs.list(NcFilter(find=_find(listing.NCS, **f)), PageRequest()))
      for f in _sorts(listing.NCS)],
    *[("orders", lambda uow, f=f, k=k: uow.orders.list(OrderFilter(**k, find=_find(listing.ORDERS, **f)),
                                                       PageRequest()))
      for k in [{}, {"status": OrderStatus.PICKING}, {"customer_id": "CUST-42"}]
      for f in [{}, {"q": "ORD-4242"}, {"q": "cust-4242"}, {**DAY, "sort": "-created_at"}]],
    *[("orders", lambda uow, f=f: uow.orders.list(OrderFilter(find=_find(listing.ORDERS, **f)), PageRequest()))
      for f in [*_sorts(listing.ORDERS), {"sort": "status,-created_at"}]],
    *[("inventory_summary", lambda uow, f=f, k=k: uow.inventory_summary.list(
        InventoryFilter(**k, find=_find(listing.INVENTORIES, **f)), PageRequest()))
      for k in [{}, {"customer": "Customer 4242"}, {"expiring_before": date(2027, 1, 5)}]
      for f in [{}, {"q": "omer 4242"}, {**DAY, "sort": "-created_at"}]],
    *[("inventory_summary", lambda uow, f=f: uow.inventory_summary.list(
        InventoryFilter(find=_find(listing.INVENTORIES, **f)), PageRequest())) for f in _sorts(listing.INVENTORIES)],
    *[("audit_log", lambda uow, f=f, k=k: uow.audit.list(AuditFilter(**k, find=_find(listing.AUDIT, **f)),
                                                         PageRequest()))
      for k in [{}, {"event_type": "NC_CLOSED"}, {"entity_type": "nc", "entity_id": "42"}, {"actor": "user7"}]
      for f in [{}, {**DAY, "sort": "-occurred_at"}]],
    *[("audit_log", lambda uow, f=f: uow.audit.list(AuditFilter(find=_find(listing.AUDIT, **f)), PageRequest()))
      for f in _sorts(listing.AUDIT)],
]


def test_every_list_query_uses_an_index_on_100k_rows(loaded: sa.Engine) -> None:
    started = time.monotonic()
    refused = []
    checked = 0
    for table, call in CASES:
        plans = _list_plans(loaded, call)
        assert plans, f"no paged query of {table} was sent"
        for statement, scans in plans:
            checked += 1
            if not any(relation == table and node.startswith(("Index", "Bitmap")) for node, relation in scans) \
                    or any(node == "Seq Scan" and relation in BIG for node, relation in scans):
                refused.append((" ".join(statement.split())[:400], scans))
    assert refused == [], "\n".join(f"{s}\n  {p}" for s, p in refused)
    assert checked >= len(CASES)
    print(f"{checked} plans checked in {time.monotonic() - started:.1f} s")


def test_the_search_finds_case_insensitively_with_the_users_wildcards_literal(loaded: sa.Engine) -> None:
    with SqlUnitOfWork(loaded, SystemClock()).reading() as uow:
        page = uow.suppliers.list(PageRequest(), SupplierFilter(_find(listing.SUPPLIERS, q="SUPPLIER 04242")))
        assert [s.name for s in page.items] == [f"Supplier 04242{n}" for n in range(10)]
        assert page.total == 10
        assert uow.suppliers.list(PageRequest(), SupplierFilter(_find(listing.SUPPLIERS, q="%"))).items == []
        since = datetime(2026, 2, 1, tzinfo=UTC)
        found = uow.suppliers.list(PageRequest(limit=5), SupplierFilter(_find(listing.SUPPLIERS, **DAY,
                                                                             sort="-created_at")))
        assert found.items[0].created_at == datetime(2026, 2, 3, 23, 59, tzinfo=UTC) and found.total == 3 * 1440
        assert all(s.created_at >= since for s in found.items)
