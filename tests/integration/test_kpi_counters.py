"""The counters stay exact under concurrent writers, relays, failures and replays; the migration backfills them."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from adapters.outbound.sqlalchemy.counters import recount
from adapters.outbound.sqlalchemy.tables import kpi_counters
from bootstrap.container import build_container
from bootstrap.settings import Settings
from tests.support.counting import mixed_workload, nonzero
from tests.support.harness import SwitchableFailure


@pytest.mark.parametrize("stack", ["sqlite", "postgres"])
def test_counters_equal_a_real_count_after_a_concurrent_mixed_workload(stack: str, request) -> None:
    url = request.getfixturevalue(f"{stack}_url")
    container = build_container(Settings(_env_file=None, database_url=url, outbox_max_attempts=1,
                                         outbox_backoff_seconds=0, fulfilment_auto=True, fulfilment_step_seconds=0))
    failing = SwitchableFailure(container.clock())
    container.extra_handlers.add_args(failing)
    try:
        mixed_workload(container, writers=8 if stack == "postgres" else 2, rounds=6, failing=failing)
        engine = container.engine()
        with engine.connect() as conn:
            expected = recount(conn)
            with container.uow().reading() as uow:
                assert nonzero(uow.counters.read()) == expected
            slots = conn.execute(sa.select(sa.func.count(sa.distinct(kpi_counters.c.slot)))).scalar_one()
            failed = conn.execute(sa.text("SELECT count(*) FROM outbox_events WHERE last_error IS NOT NULL"))
            assert failed.scalar_one() > 0  # failures, FAILED events and replays happened
        assert slots > 1 if stack == "postgres" else slots == 1
        kpi = container.kpi()()
        assert kpi.audit_events_total == sum(n for name, n in expected.items() if name.startswith("audit:"))
        assert kpi.outbox_published == expected["outbox:PUBLISHED"]
    finally:
        container.engine().dispose()
