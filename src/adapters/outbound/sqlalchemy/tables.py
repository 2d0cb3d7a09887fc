"""The schema, as SQLAlchemy Core tables; Alembic migrations create it, a test keeps both equal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; timestamptz on PostgreSQL, sortable UTC text on SQLite."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Json = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

suppliers = sa.Table(
    "suppliers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("certification_expiry", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),  # the ETag (ADR 0020)
    # the approval status (migration 0015, ADR 0025); the rows before it are APPROVED
    sa.Column("approval_status", sa.String(12), nullable=False, server_default="APPROVED"),
    sa.Column("status_reason", sa.Text),
    sa.Column("status_changed_by", sa.String(100)),
    sa.Column("status_changed_at", UtcDateTime),
    sa.Column("hold_until", sa.Date),
    sa.Column("next_evaluation_due", sa.Date),
    sa.Index(None, "certification_expiry"),
    sa.Index(None, "approval_status"),  # suppliers_blocked, suppliers_conditional
    # the sorts and the date range of GET /suppliers (migration 0013), id the tie-breaker
    sa.Index(None, "name", "id"),
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "updated_at", "id"),
    sa.Index("ix_suppliers_name_trgm", "name", postgresql_using="gin",
             postgresql_ops={"name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
)

NC_OPEN_HIGH = "status NOT IN ('CLOSED', 'CANCELLED') AND severity = 'high'"
ACTION_OPEN = "status IN ('PLANNED', 'IN_PROGRESS')"


def _nc_workflow_columns() -> list[sa.Column]:  # the investigation of migration 0014 (ADR 0024)
    return [
        sa.Column("owner", sa.String(100)),
        sa.Column("due_date", sa.Date),
        sa.Column("containment_note", sa.Text),
        sa.Column("root_cause_category", sa.String(30)),
        sa.Column("root_cause_analysis", sa.Text),
        sa.Column("rca_method", sa.String(20)),
        sa.Column("disposition", sa.String(30)),
        sa.Column("disposition_authorized_by", sa.String(100)),
        sa.Column("qty_checked", sa.Integer),
        sa.Column("qty_nonconforming", sa.Integer),
        sa.Column("source_type", sa.String(20)),
        sa.Column("source_id", sa.String(100)),
        sa.Column("closure_note", sa.Text),
        sa.Column("closed_by", sa.String(100)),
        sa.Column("closed_without_capa", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("cancel_reason", sa.Text),
    ]


non_conformities = sa.Table(
    "non_conformities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id"), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # the investigation (migration 0014, ADR 0024)
    *_nc_workflow_columns(),
    sa.Index(None, "supplier_id", "status"),
    sa.Index(None, "supplier_id", "opened_at"),  # the NCs a supplier's month of the scorecard raised (0018)
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "updated_at", "id"),
    sa.Index(None, "severity", "id"),
    sa.Index(None, "status", "id"),
    sa.Index("ix_non_conformities_description_trgm", "description", postgresql_using="gin",
             postgresql_ops={"description": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    sa.Index(None, "status", "severity"),
    # the at-risk rule reads only the open high NCs: a small set, whatever the history
    sa.Index("ix_non_conformities_open_high", "supplier_id",
             postgresql_where=sa.text(NC_OPEN_HIGH), sqlite_where=sa.text(NC_OPEN_HIGH)),
)

# the CAPA actions of a non-conformity: part of its aggregate, numbered 1, 2, 3 … within it
nc_actions = sa.Table(
    "nc_actions",
    metadata,
    sa.Column("nc_id", sa.Integer, sa.ForeignKey("non_conformities.id"), primary_key=True),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("effectiveness_criteria", sa.Text),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("done_at", UtcDateTime),
    sa.Column("completion_note", sa.Text),
    sa.Column("verified_by", sa.String(100)),
    sa.Column("verified_at", UtcDateTime),
    sa.Column("verification_note", sa.Text),
    sa.Column("effectiveness_result", sa.Text),
    sa.Column("cancel_reason", sa.Text),
    # actions_overdue / actions_due_7d: the open actions by due date, whatever the history
    sa.Index("ix_nc_actions_open_due", "due_date",
             postgresql_where=sa.text(ACTION_OPEN), sqlite_where=sa.text(ACTION_OPEN)),
)

# a supplier's certificate records (migration 0015, ADR 0025): withdrawn, never deleted
ACTIVE_CERTIFICATE = sa.text("withdrawn_at IS NULL")
supplier_certificates = sa.Table(
    "supplier_certificates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id"), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("number", sa.String(100), nullable=False),
    sa.Column("issuer", sa.String(200), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("withdrawn_at", UtcDateTime),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Index(None, "supplier_id", "id"),
    # certs_expiring_30d (and the reminder job): the certificates in force by expiry date
    sa.Index("ix_supplier_certificates_active_expiry", "expires_on",
             postgresql_where=ACTIVE_CERTIFICATE, sqlite_where=ACTIVE_CERTIFICATE),
)

# the reminders sent (migration 0017, ADR 0027): the key is claimed in the transaction that outboxes the
# reminder, so each stage of a subject is sent once, whatever the runs and workers
reminders_sent = sa.Table(
    "reminders_sent",
    metadata,
    sa.Column("subject_type", sa.String(20), primary_key=True),
    sa.Column("subject_id", sa.String(40), primary_key=True),
    sa.Column("event_type", sa.String(40), primary_key=True),
    sa.Column("threshold", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("subject_date", sa.Date, primary_key=True),
    sa.Column("sent_at", UtcDateTime, nullable=False),
)

# a supplier's deliveries (migration 0018, ADR 0028): the scorecard's delivery and acceptance; never changed
supplier_receipts = sa.Table(
    "supplier_receipts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id"), nullable=False),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("promised_date", sa.Date, nullable=False),
    sa.Column("received_date", sa.Date, nullable=False),
    sa.Column("qty_received", sa.Integer, nullable=False),
    sa.Column("qty_rejected", sa.Integer, nullable=False),
    sa.Column("recorded_by", sa.String(100), nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("supplier_id", "reference"),  # a delivery is recorded once
    sa.CheckConstraint("qty_received > 0 AND qty_rejected >= 0 AND qty_rejected <= qty_received", name="quantities"),
    sa.Index(None, "supplier_id", "received_date", "id"),  # a month's receipts, the newest-first list
)

UNHANDLED = sa.text("status = 'PUBLISHED' AND handled_at IS NULL")
WAITING = sa.text("status = 'PENDING' AND (attempts > 0 OR locked_until IS NOT NULL)")
STOPPED = sa.text("status IN ('FAILED', 'PARKED')")

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("position", BigId, primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("aggregate_type", sa.String(50), nullable=False),
    sa.Column("aggregate_id", sa.String(100), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("locked_until", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("published_at", UtcDateTime),
    sa.Column("handled_at", UtcDateTime),
    sa.Column("handled_by", sa.String(100)),
    sa.Column("lease_token", sa.String(36)),  # the claim holding the lease (fence: completions must present it)
    sa.Column("failed_at", UtcDateTime),
    sa.Column("traceparent", sa.String(55)),  # W3C trace context of the request that wrote it (ADR 0017)
    sa.Column("tracestate", sa.String(512)),
    sa.Index("ix_outbox_events_due", "position", postgresql_where=sa.text("status = 'PENDING'"),
             sqlite_where=sa.text("status = 'PENDING'")),
    sa.Index("ix_outbox_events_aggregate_pending", "aggregate_type", "aggregate_id", "position",
             postgresql_where=sa.text("status = 'PENDING'"), sqlite_where=sa.text("status = 'PENDING'")),
    sa.Index(None, "status"),
    sa.Index("ix_outbox_events_unhandled", "published_at", postgresql_where=UNHANDLED, sqlite_where=UNHANDLED),
    # the few events that hold their aggregate back (waiting for a retry, or leased by a relay)
    sa.Index("ix_outbox_events_waiting", "aggregate_type", "aggregate_id", "position",
             postgresql_where=WAITING, sqlite_where=WAITING),
    # the few FAILED events and those parked behind them: the aggregates whose delivery waits for an operator
    sa.Index("ix_outbox_events_stopped", "aggregate_type", "aggregate_id", "position",
             postgresql_where=STOPPED, sqlite_where=STOPPED),
    sqlite_autoincrement=True,  # positions are never reused, even after the highest one is archived
)

# handled events, moved out of the hot outbox in the transaction that handled them: written once
# (never updated), read by the outbox listing and the delivery timeline; the hot table stays small;
# deleted by the retention purge only, a day old at least (migration 0009)
outbox_archive = sa.Table(
    "outbox_archive",
    metadata,
    *(sa.Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key, autoincrement=False,
                server_default=c.server_default)
      for c in outbox_events.columns if c.name != "locked_until"),
    sa.Index(None, "event_id", unique=True),
    sa.Index(None, "aggregate_type", "aggregate_id"),
    sa.Index(None, "handled_at"),  # the retention purge, oldest first
)

# the delivery timeline: one row per step an event took (application/ports/delivery_log.py)
delivery_steps = sa.Table(
    "delivery_steps",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("worker", sa.String(100)),
    sa.Column("lease_token", sa.String(36)),
    sa.Column("detail", Json, nullable=False),
    sa.Index(None, "event_id", "id"),
    sa.Index(None, "at"),
)

# events that could not be delivered, in either mode: FAILED outbox events and undecodable broker records
dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("event_id", sa.Uuid),
    sa.Column("event_type", sa.String(100)),
    sa.Column("aggregate_type", sa.String(50)),
    sa.Column("aggregate_id", sa.String(100)),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("payload_encoding", sa.String(10), nullable=False),
    sa.Column("headers", Json, nullable=False),
    sa.Column("topic", sa.String(255)),
    sa.Column("partition", sa.Integer),
    sa.Column("offset", sa.BigInteger),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("first_seen", UtcDateTime, nullable=False),
    sa.Column("last_seen", UtcDateTime, nullable=False),
    sa.Column("occurrences", sa.Integer, nullable=False),
    sa.Column("replayed_at", UtcDateTime),
    sa.Column("replayed_by", sa.String(100)),
    sa.Index(None, "status", "last_seen"),
)

processed_events = sa.Table(
    "processed_events",
    metadata,
    sa.Column("handler", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("processed_at", UtcDateTime, nullable=False),
    sa.Index(None, "processed_at"),  # the retention purge, oldest first
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("entity_type", sa.String(50), nullable=False),
    sa.Column("entity_id", sa.String(100), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Column("details", Json, nullable=False),
    # the hash chain (ADR 0014): the previous record's hash, and this one's over its columns and prev_hash
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # what changed ([[field, old, new]], JSON) and why (ADR 0026; NULL on the records before migration 0016),
    # and the hash rule the record was chained with (1: ADR 0014's, 2: with changes and reason)
    sa.Column("changes", Json),
    sa.Column("reason", sa.Text),
    sa.Column("hash_version", sa.SmallInteger, nullable=False, server_default="1"),
    sa.Index(None, "entity_type", "entity_id"),
    sa.Index(None, "actor", "id"),  # ?actor=, newest first (migration 0016)
    sa.Index(None, "action", "id"),  # a page of one event type, newest first, without sorting them all
    sa.Index(None, "occurred_at", "id"),  # sort=occurred_at and the date range (migration 0013)
    sa.Index(None, "entity_type", "id"),
)

# the Counters port: one row per counter and slot, value = the sum of its slots (ADR 0012); updated in
# place (HOT: no index column changes), so it stays a few pages without any VACUUM
kpi_counters = sa.Table(
    "kpi_counters",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("value", sa.BigInteger, nullable=False),
    postgresql_with={"fillfactor": 50},
)

# tokens revoked before they expire (logout); a row may go once its token has expired
revoked_tokens = sa.Table(
    "revoked_tokens",
    metadata,
    sa.Column("jti", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(100), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=False),
    sa.Index(None, "expires_at"),
)

# inventories: the write model (soft delete keeps every line traceable) and its CQRS read projection
inventories = sa.Table(
    "inventories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer", sa.String(200), nullable=False),
    sa.Column("expiry_date", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("deleted_at", UtcDateTime),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
)

inventory_lines = sa.Table(
    "inventory_lines",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("inventory_id", sa.Integer, sa.ForeignKey("inventories.id"), nullable=False),
    sa.Column("product", sa.String(200), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    sa.Index(None, "inventory_id"),
)

# written only by the inventory projection handler and the rebuild
inventory_summary = sa.Table(
    "inventory_summary",
    metadata,
    sa.Column("inventory_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("customer", sa.String(200), nullable=False),
    sa.Column("total_items", sa.BigInteger, nullable=False),
    sa.Column("line_count", sa.Integer, nullable=False),
    sa.Column("expiry_date", sa.Date, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Index(None, "expiry_date", "inventory_id"),
    sa.Index(None, "customer"),
    sa.Index(None, "created_at", "inventory_id"),
    sa.Index(None, "updated_at", "inventory_id"),
    sa.Index(None, "total_items", "inventory_id"),
    sa.Index("ix_inventory_summary_customer_trgm", "customer", postgresql_using="gin",
             postgresql_ops={"customer": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
)


class Money(sa.TypeDecorator[Decimal]):
    """Exact amounts with two decimals: numeric(12,2) on PostgreSQL, decimal text on SQLite (no float)."""

    impl = sa.Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(20))
        return dialect.type_descriptor(sa.Numeric(self.impl.precision, self.impl.scale))

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> object:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: object, dialect: sa.Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


# orders: the aggregate (a version guards against lost updates), its items, its history, the fulfilment timers
orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("reference", sa.String(50), unique=True),
    sa.Column("customer_id", sa.String(50)),
    sa.Column("customer_name", sa.String(200)),
    sa.Column("address", sa.String(500)),
    sa.Column("facility_id", sa.String(50)),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("held_from", sa.String(20)),
    sa.Column("declared_total", Money, nullable=False),
    sa.Column("total_amount", Money, nullable=False),
    sa.Column("eta", UtcDateTime),
    sa.Column("ordered_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index(None, "status", "created_at", "id"),  # a page of one status, newest first
    sa.Index(None, "customer_id"),
    sa.Index(None, "created_at"),
    # the other sorts of GET /orders and its search (migration 0013), id the tie-breaker
    sa.Index(None, "updated_at", "id"),
    sa.Index(None, "customer_name", "id"),
    sa.Index(None, "reference", "id"),
    sa.Index("ix_orders_customer_id_trgm", "customer_id", postgresql_using="gin",
             postgresql_ops={"customer_id": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    sa.Index("ix_orders_customer_name_trgm", "customer_name", postgresql_using="gin",
             postgresql_ops={"customer_name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    sa.Index("ix_orders_reference_trgm", "reference", postgresql_using="gin",
             postgresql_ops={"reference": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Uuid, sa.ForeignKey("orders.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("sale_price", Money, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("order_id", "sku"),
    sa.CheckConstraint("quantity > 0", name="item_quantity_positive"),
)

# append-only (triggers in the migration); written only by the order history handler
order_history = sa.Table(
    "order_history",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("order_id", sa.Uuid, nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("sku", sa.String(100)),
    sa.Column("from_status", sa.String(20)),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    sa.Index(None, "order_id", "occurred_at"),
)

fulfilment_schedule = sa.Table(
    "fulfilment_schedule",
    metadata,
    sa.Column("order_id", sa.Uuid, primary_key=True),
    sa.Column("expected_status", sa.String(20), nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("correlation_id", sa.String(100), nullable=False),
    sa.Index(None, "due_at"),
)

# a POST's Idempotency-Key, per user, written in the transaction of its write; the response once it
# answered (ADR 0020); purged once older than the idempotency window
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_name", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("path", sa.String(2000), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("response_headers", Json),
    sa.Column("response_body", sa.Text),
    sa.Index(None, "created_at"),
)


class Percent(Money):
    """A score from 0.00 to 100.00: numeric(5,2) on PostgreSQL, decimal text on SQLite."""

    impl = sa.Numeric(5, 2)
    cache_ok = True


# the scorecard's months (migration 0018, ADR 0028): one per supplier and month, inserted once
# (ON CONFLICT DO NOTHING), never updated: the runtime role may only SELECT and INSERT
supplier_score_periods = sa.Table(
    "supplier_score_periods",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("supplier_id", sa.Integer, sa.ForeignKey("suppliers.id"), nullable=False),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("quality_score", Percent),  # NULL: N/A (no activity)
    sa.Column("delivery_score", Percent),
    sa.Column("acceptance_score", Percent),
    sa.Column("total_score", Percent),
    sa.Column("standing", sa.String(12), nullable=False),
    sa.Column("computed_at", UtcDateTime, nullable=False),
    sa.Column("inputs", Json, nullable=False),  # the counts it was computed from
    sa.UniqueConstraint("supplier_id", "period_start"),  # also the range of GET /suppliers/{id}/scorecard
)
