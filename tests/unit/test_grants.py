"""The runtime role's grants follow from the schema: tables and columns added later get theirs by the rules."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adapters.outbound.sqlalchemy.grants import TableGrant, grant_statements, runtime_grants
from adapters.outbound.sqlalchemy.tables import metadata

DELIVERY_STATE = ("status", "attempts", "last_error", "next_attempt_at", "locked_until", "published_at")
READ_WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
APPEND = ("SELECT", "INSERT")


def _copy() -> sa.MetaData:
    copy = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    return copy


def test_the_grant_table_of_the_schema() -> None:
    grants = {grant.table: grant for grant in runtime_grants(metadata)}
    assert grants.pop("alembic_version") == TableGrant("alembic_version", ("SELECT",))
    for table in ("audit_log", "order_history"):
        assert grants.pop(table) == TableGrant(table, APPEND)
    # DELETE for the retention purge; a trigger of migration 0009 refuses rows younger than a day (not
    # for the timeline's steps, which the runtime role may delete but never rewrite)
    for table in ("processed_events", "outbox_archive", "delivery_steps"):
        assert grants.pop(table) == TableGrant(table, (*APPEND, "DELETE"))
    outbox = grants.pop("outbox_events")
    # DELETE so a handled event can move to the archive; a trigger of migration 0005 refuses any
    # other deletion (see tests/integration/test_least_privilege.py)
    assert outbox.privileges == (*APPEND, "DELETE")
    assert set(DELIVERY_STATE) <= set(outbox.update_columns)
    assert not {"payload", "actor", "event_type", "aggregate_id", "occurred_at"} & set(outbox.update_columns)
    # a POST's Idempotency-Key: inserted with its write, only its response added later, purged by DELETE
    assert grants.pop("idempotency_keys") == TableGrant(
        "idempotency_keys", (*APPEND, "DELETE"), ("status_code", "response_headers", "response_body"))
    # certificate records are withdrawn by an UPDATE, never deleted (ADR 0025)
    assert grants.pop("supplier_certificates") == TableGrant("supplier_certificates", (*APPEND, "UPDATE"))
    # a reminder sent stays sent: its key is never rewritten nor removed (ADR 0027)
    assert grants.pop("reminders_sent") == TableGrant("reminders_sent", APPEND)
    # receipts are records of fact, a stored month of scores never changes (ADR 0028)
    for table in ("supplier_receipts", "supplier_score_periods"):
        assert grants.pop(table) == TableGrant(table, APPEND)
    assert grants == {name: TableGrant(name, READ_WRITE) for name in grants}  # every other table
    assert {"suppliers", "orders", "inventory_summary", "fulfilment_schedule"} <= grants.keys()


def test_a_column_added_to_the_outbox_is_delivery_state_and_a_new_table_reads_and_writes() -> None:
    schema = _copy()
    schema.tables["outbox_events"].append_column(sa.Column("redelivered_at", sa.DateTime))
    sa.Table("muted_suppliers", schema, sa.Column("id", sa.Integer, primary_key=True))
    grants = {grant.table: grant for grant in runtime_grants(schema)}
    before = {grant.table: grant for grant in runtime_grants(metadata)}
    assert grants["outbox_events"].update_columns == (*before["outbox_events"].update_columns, "redelivered_at")
    assert grants["muted_suppliers"] == TableGrant("muted_suppliers", READ_WRITE)


def test_a_rule_naming_a_table_or_column_the_schema_lost_is_refused() -> None:
    schema = _copy()
    schema.remove(schema.tables["audit_log"])
    with pytest.raises(ValueError, match="audit_log"):
        runtime_grants(schema)
    schema = _copy()
    outbox = schema.tables["outbox_events"]
    outbox._columns.remove(outbox.c.actor)  # as if renamed: the rule must not silently miss it
    with pytest.raises(ValueError, match="actor"):
        runtime_grants(schema)


def test_the_statements_revoke_first_and_never_grant_what_rewrites_history() -> None:
    statements = grant_statements("rt", "public", "db", runtime_grants(metadata), lambda name: f'"{name}"')
    assert statements[:3] == ['REVOKE ALL ON ALL TABLES IN SCHEMA "public" FROM "rt"',
                              'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "public" FROM "rt"',
                              'REVOKE ALL ON SCHEMA "public" FROM "rt"']
    granted = " ".join(s for s in statements if s.startswith("GRANT"))
    for privilege in ("TRUNCATE", "TRIGGER", "REFERENCES", "CREATE", "ALL PRIVILEGES", "GRANT ALL"):
        assert privilege not in granted
    assert 'GRANT SELECT, INSERT ON TABLE "public"."audit_log" TO "rt"' in statements
    [outbox] = [s for s in statements if s.startswith("GRANT UPDATE (") and '"outbox_events"' in s]
    updatable = outbox.removeprefix("GRANT UPDATE (").split(")")[0].replace('"', "").split(", ")
    assert {"status", "attempts", "last_error", "next_attempt_at", "locked_until", "published_at"} <= set(updatable)
    assert not set(updatable) & {"payload", "actor", "event_type", "aggregate_id", "occurred_at", "event_id"}
