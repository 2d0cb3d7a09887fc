"""Relays wake when events are committed, not a poll interval later."""

from __future__ import annotations

import time
from datetime import date

import pytest
import sqlalchemy as sa

from adapters.inbound.worker import RelayLoop
from adapters.outbound.sqlalchemy import migrate
from adapters.outbound.sqlalchemy.notify import PostgresWakeup
from adapters.outbound.wakeup import InProcessWakeup
from application.envelope import Origin
from bootstrap.container import build_container
from bootstrap.settings import Settings

ORIGIN = Origin("quality", "wake")


def test_an_in_process_signal_is_not_lost_between_mark_and_wait() -> None:
    wakeup = InProcessWakeup()
    mark = wakeup.mark()
    wakeup.notify()  # arrives while the relay is busy with its batch
    started = time.monotonic()
    assert wakeup.wait(mark, timeout=5) is True
    assert time.monotonic() - started < 0.5
    assert wakeup.wait(wakeup.mark(), timeout=0.05) is False  # nothing new: the timeout


@pytest.mark.postgres
def test_a_commit_in_another_connection_wakes_the_listener(postgres_url: str) -> None:
    """One NOTIFY per transaction that adds events, whoever commits it (another process in production)."""
    container = build_container(Settings(_env_file=None, database_url=postgres_url))
    wakeup = PostgresWakeup(postgres_url)
    try:
        wakeup.mark()  # starts listening
        assert wakeup.listening.wait(10)
        mark = wakeup.mark()
        container.create_supplier()("Acme", date(2030, 1, 1), ORIGIN)
        assert wakeup.wait(mark, timeout=5) is True
        mark = wakeup.mark()
        with container.engine().begin() as conn:  # a transaction that adds no event notifies nobody
            conn.execute(sa.text("SELECT 1"))
        assert wakeup.wait(mark, timeout=0.3) is False
    finally:
        wakeup.close()
        container.engine().dispose()


@pytest.mark.postgres
def test_an_idle_worker_handles_a_new_event_long_before_its_poll_interval(postgres_url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=postgres_url,
                                         worker_poll_interval_seconds=30.0))
    loop = RelayLoop(container.relay(), 30.0, wakeup=container.wakeup())
    loop.start()
    try:
        assert container.wakeup().listening.wait(10)
        time.sleep(0.3)  # the loop found nothing and waits (for 30 s at most)
        started = time.monotonic()
        container.create_supplier()("Acme", date(2030, 1, 1), ORIGIN)
        while container.kpi()().audit_events_total < 1:
            assert time.monotonic() - started < 5, "the worker slept its poll interval"
            time.sleep(0.005)
        assert time.monotonic() - started < 2
    finally:
        loop.stop()
        container.wakeup().close()
        container.engine().dispose()


def test_an_embedded_database_wakes_its_worker_from_the_writers_commit(tmp_path) -> None:  # noqa: ANN001
    container = build_container(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'wake.db'}",
                                         worker_poll_interval_seconds=30.0))
    migrate.upgrade(container.engine())
    loop = RelayLoop(container.relay(), 30.0, wakeup=container.wakeup())
    loop.start()
    try:
        time.sleep(0.3)
        started = time.monotonic()
        container.create_supplier()("Acme", date(2030, 1, 1), ORIGIN)
        while container.kpi()().audit_events_total < 1:
            assert time.monotonic() - started < 5, "the worker slept its poll interval"
            time.sleep(0.005)
    finally:
        loop.stop()
        container.engine().dispose()
