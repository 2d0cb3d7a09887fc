"""The NC investigation workflow and its CAPA actions (ADR 0024).

`non_conformities` gains the investigation's fields (owner, due date, containment, root cause,
disposition and who authorised it, quantities, source reference, closure, reopen count, cancel
reason, `closed_without_capa`); `status` widens to 20 characters for INVESTIGATING / ACTION_PLANNED.
Existing NCs keep their OPEN / CLOSED status and get empty fields (reopen_count 0, not marked: they
predate CAPA tracking). Their closings are counted into the day-bucket counters of
`avg_days_to_close_90d` (`nc_closed_on:<day>`, `nc_close_seconds_on:<day>`).
The partial index of the at-risk rule now covers every open state (not CLOSED, not CANCELLED).
`nc_actions` holds the actions, numbered within their NC, with a partial index of the open ones by
due date (`actions_overdue`, `actions_due_7d`). The runtime role gets the default grants on `nc_actions` (grants.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.outbound.sqlalchemy.tables import UtcDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_OPEN_HIGH = "status = 'OPEN' AND severity = 'high'"
OPEN_HIGH = "status NOT IN ('CLOSED', 'CANCELLED') AND severity = 'high'"
# the UTC day and the whole seconds from opening to closing, per dialect (as in counters.py of this release)
CLOSINGS = {
    "postgresql": ("to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                   "CAST(floor(extract(epoch FROM closed_at)) - floor(extract(epoch FROM opened_at)) AS bigint)"),
    "sqlite": ("substr(closed_at, 1, 10)",
               "CAST(strftime('%s', closed_at) AS INTEGER) - CAST(strftime('%s', opened_at) AS INTEGER)"),
}
ACTION_OPEN = "status IN ('PLANNED', 'IN_PROGRESS')"


def _columns() -> list[sa.Column]:
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


def _open_high(where: str) -> None:
    op.create_index("ix_non_conformities_open_high", "non_conformities", ["supplier_id"],
                    postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def upgrade() -> None:
    op.drop_index("ix_non_conformities_open_high", table_name="non_conformities")
    with op.batch_alter_table("non_conformities") as batch:  # SQLite rebuilds the table, PostgreSQL alters it
        batch.alter_column("status", type_=sa.String(20), existing_type=sa.String(10), existing_nullable=False)
        for column in _columns():
            batch.add_column(column)
    _open_high(OPEN_HIGH)
    op.create_table(
        "nc_actions",
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
    )
    op.create_index("ix_nc_actions_open_due", "nc_actions", ["due_date"],
                    postgresql_where=sa.text(ACTION_OPEN), sqlite_where=sa.text(ACTION_OPEN))
    # the day buckets of the NCs closed so far (avg_days_to_close_90d), as counters.recount() counts them
    dialect = op.get_bind().dialect.name
    day, seconds = CLOSINGS[dialect]
    where = "FROM non_conformities WHERE status = 'CLOSED' AND closed_at IS NOT NULL"
    for name, value in (("'nc_closed_on:'", "count(*)"), ("'nc_close_seconds_on:'", f"sum({seconds})")):
        op.execute(f"INSERT INTO kpi_counters (name, slot, value) SELECT {name} || {day}, 0, {value} {where} "
                   f"GROUP BY {day}")


def downgrade() -> None:
    op.drop_index("ix_nc_actions_open_due", table_name="nc_actions")
    op.drop_table("nc_actions")
    op.drop_index("ix_non_conformities_open_high", table_name="non_conformities")
    # the NCs in a state the old schema does not know count as open there; CANCELLED ones as closed
    op.execute("UPDATE non_conformities SET status = 'OPEN' WHERE status IN ('INVESTIGATING', 'ACTION_PLANNED')")
    op.execute("UPDATE non_conformities SET status = 'CLOSED' WHERE status = 'CANCELLED'")
    # the counters of this release go; the NC status counters are counted again from the mapped rows
    op.execute("DELETE FROM kpi_counters WHERE " + " OR ".join(
        f"name LIKE '{prefix}%'" for prefix in ("nc:", "nc_root_cause:", "nc_action:", "nc_closed_on:",
                                                 "nc_close_seconds_on:")))
    op.execute("INSERT INTO kpi_counters (name, slot, value) SELECT 'nc:' || status || ':' || severity, 0, count(*) "
               "FROM non_conformities GROUP BY status, severity")
    with op.batch_alter_table("non_conformities") as batch:
        for column in reversed(_columns()):
            batch.drop_column(column.name)
        batch.alter_column("status", type_=sa.String(10), existing_type=sa.String(20), existing_nullable=False)
    _open_high(OLD_OPEN_HIGH)
