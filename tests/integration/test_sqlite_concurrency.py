"""SQLite: API threads and the embedded worker write to one file at the same time without errors."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from adapters.inbound.worker import RelayLoop
from application.envelope import Origin
from bootstrap.container import build_container
from bootstrap.settings import Settings

WRITERS = 8
SUPPLIERS_EACH = 25


def test_concurrent_writers_and_worker_on_one_sqlite_file(sqlite_url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=sqlite_url))
    loop = RelayLoop(container.relay(), interval=0.01)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(SUPPLIERS_EACH):
                view = container.create_supplier()(f"S{n}-{i}", date(2027, 1, 1), Origin(f"writer-{n}"))
                container.raise_nc()(view.supplier.id, "high", "finding", Origin(f"writer-{n}"))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    loop.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(120)
    loop.stop()
    container.relay().drain()

    kpi = container.kpi()()
    container.engine().dispose()
    assert errors == []
    assert kpi.suppliers_at_risk == WRITERS * SUPPLIERS_EACH
    assert kpi.audit_events_total == 2 * WRITERS * SUPPLIERS_EACH
    assert (kpi.outbox_pending, kpi.outbox_failed) == (0, 0)


def test_readers_do_not_wait_for_a_writer_and_see_the_last_commit(sqlite_url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=sqlite_url))
    container.create_supplier()("Beta Metals", date(2027, 1, 1), Origin("alice"))
    answers: list[object] = []
    with container.uow() as writer:  # holds SQLite's write lock until it ends
        writer.suppliers.get(1).update_certification(date(2020, 1, 1), writer.clock.now())
        reader = threading.Thread(target=lambda: answers.append(container.supplier_queries().get(1)))
        reader.start()
        reader.join(10)  # a reader that took the write lock would wait here for the busy timeout (30 s)
        assert not reader.is_alive(), "a query waited for the writer's lock"
        writer.commit()
    assert [a.supplier.certification_expiry for a in answers] == [date(2027, 1, 1)]
    with container.uow().reading() as reading:
        with pytest.raises(RuntimeError, match="cannot commit"):
            reading.commit()
    container.engine().dispose()
