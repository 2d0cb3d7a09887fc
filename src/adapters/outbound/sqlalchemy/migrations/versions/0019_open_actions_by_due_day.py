"""Counters of the open CAPA actions by due day (ADR 0012): `actions_overdue` and `actions_due_7d` come
from the one read of the counters instead of a count of the open actions' rows, which costs a table
read per open action when the visibility map is stale (autovacuum off or behind).

The actions open today (PLANNED, IN_PROGRESS) are counted into `nc_action_open_due:<YYYY-MM-DD>`, as
`counters.recount()` counts them; the writers keep them from here on. No row is rewritten.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the due day as text, per dialect (as in counters.py of this release)
DUE_DAY = {"postgresql": "to_char(due_date, 'YYYY-MM-DD')", "sqlite": "due_date"}


def upgrade() -> None:
    day = DUE_DAY[op.get_bind().dialect.name]
    op.execute(f"INSERT INTO kpi_counters (name, slot, value) SELECT 'nc_action_open_due:' || {day}, 0, count(*) "
               f"FROM nc_actions WHERE status IN ('PLANNED', 'IN_PROGRESS') GROUP BY {day}")


def downgrade() -> None:
    op.execute("DELETE FROM kpi_counters WHERE name LIKE 'nc_action_open_due:%'")
