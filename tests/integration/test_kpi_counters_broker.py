"""The outbox counters follow the broker-mode statements too: relay marks, consumer archive moves of
rows of any status, failures, re-drives and requeues, over the hot table and the archive."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from adapters.outbound.sqlalchemy.counters import recount
from application.envelope import EventEnvelope
from application.ports.outbox import OutboxStatus
from bootstrap.container import build_container
from bootstrap.settings import Settings
from tests.support.counting import nonzero

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _envelope(i: int) -> EventEnvelope:
    return EventEnvelope(uuid4(), "SUPPLIER_CREATED", "supplier", str(i), NOW, "t", "c", {"supplier_id": i})


@pytest.mark.parametrize("stack", ["sqlite", "postgres"])
def test_broker_mode_status_changes_keep_the_outbox_counters_exact(stack: str, request) -> None:
    url = request.getfixturevalue(f"{stack}_url")
    container = build_container(Settings(_env_file=None, database_url=url))
    try:
        envelopes = [_envelope(i) for i in range(6)]
        ids = [e.event_id for e in envelopes]

        def step(action) -> None:
            with container.uow() as uow:
                action(uow)
                uow.commit()
            with container.engine().connect() as conn, container.uow().reading() as uow:
                assert nonzero(uow.counters.read()) == recount(conn)

        step(lambda uow: uow.outbox.add(envelopes, NOW))
        step(lambda uow: uow.outbox.mark_published(uow.outbox.claim(3, NOW, NOW).records, NOW))  # relay: 3 PUBLISHED
        step(lambda uow: uow.outbox.record_failure(uow.outbox.get(ids[3]), 1, "x", OutboxStatus.FAILED, NOW, NOW))
        step(lambda uow: uow.outbox.record_failure(uow.outbox.get(ids[4]), 1, "x", OutboxStatus.PENDING, NOW, NOW))
        step(lambda uow: uow.outbox.redrive([ids[0]], NOW, "again"))  # PUBLISHED → PENDING
        # the consumer: a PUBLISHED, a PENDING (a race with the relay) and a FAILED row, to the archive
        step(lambda uow: uow.outbox.mark_handled([ids[1], ids[0], ids[3]], "group", NOW))
        step(lambda uow: uow.outbox.record_failure(uow.outbox.get(ids[4]), 2, "x", OutboxStatus.FAILED, NOW, NOW))
        step(lambda uow: uow.outbox.replay(ids[4], NOW))
        step(lambda uow: uow.outbox.mark_handled([ids[2], ids[4], ids[5]], "group", NOW))
        with container.uow().reading() as uow:
            counts = uow.outbox.count_by_status()
        assert counts == {**dict.fromkeys(OutboxStatus, 0), OutboxStatus.PUBLISHED: 6}
    finally:
        container.engine().dispose()
