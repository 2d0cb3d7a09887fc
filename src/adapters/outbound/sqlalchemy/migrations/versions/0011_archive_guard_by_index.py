"""The guard "an event leaves the outbox only into the archive" looks each event up by the archive's
unique index, whatever the statistics say.

Its earlier form (0005) was one anti-join of the deleted rows against `outbox_archive`. PL/pgSQL plans
that query once per connection and keeps the plan; planned while the archive was new (no statistics,
as on a cluster without autovacuum, or before its first ANALYZE), the plan was a sequential scan of the
archive, so every batch a worker archived read the whole archive again: one worker's drain fell from
about 2,000 to 1,000 events/s over 20,000 events, each batch slower than the last. Now the function
loops over the deleted rows and looks each one up by event id, with sequential scans disabled for its
own statements (`SET enable_seqscan = off` on the function): one index probe per event, a plan that
cannot depend on the archive's size or its statistics.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BY_INDEX = """
CREATE OR REPLACE FUNCTION outbox_events_archived_first() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
    gone_id uuid;
BEGIN
    FOR gone_id IN SELECT event_id FROM gone LOOP
        IF NOT EXISTS (SELECT 1 FROM outbox_archive a WHERE a.event_id = gone_id) THEN
            RAISE EXCEPTION 'an outbox event leaves the outbox only into outbox_archive'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
"""

ANTI_JOIN = """
CREATE OR REPLACE FUNCTION outbox_events_archived_first() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone g WHERE NOT EXISTS (SELECT 1 FROM outbox_archive a WHERE a.event_id = g.event_id)) THEN
        RAISE EXCEPTION 'an outbox event leaves the outbox only into outbox_archive'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BY_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ANTI_JOIN)
