"""A broker-mode relay renews the lease of the batch it holds; one killed mid-batch lets it go within
one lease. A polling-mode relay holds its batch by row locks only: killed, it lets it go at once.

A second relay runs in this process while the first one runs in a child process that is killed with
SIGKILL in the middle of a batch slower than the lease (PostgreSQL, FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from application.envelope import EventEnvelope, Origin
from application.ports.publisher import EventPublisher
from application.relay import OutboxRelay
from bootstrap.container import build_container
from bootstrap.settings import Settings

pytestmark = pytest.mark.postgres

LEASE = 1.0  # seconds; the child's batch takes 4 leases
SLOW_RELAY = """
import sys, time
from application.ports.publisher import EventPublisher
from application.relay import OutboxRelay
from bootstrap.container import build_container
from bootstrap.settings import Settings

class Slow(EventPublisher):
    def publish(self, envelopes):
        time.sleep(4.0)
        return [None] * len(envelopes)

from application.relay import OutboxRelay
container = build_container(Settings(_env_file=None, database_url=sys.argv[1]))
relay = OutboxRelay(container.uow, Slow(), container.clock(), container.retry_policy(), batch_size=50,
                    lease_seconds=float(sys.argv[2]))
while True:
    relay.run_once()
"""

SLOW_HANDLER = """
import sys, time
from application.dispatch import ALL_EVENTS, EventHandler
from bootstrap.container import build_container
from bootstrap.settings import Settings

class Slow(EventHandler):
    name = "slow"
    subscribes_to = frozenset({ALL_EVENTS})
    def apply(self, uow, delivery):
        time.sleep(0.1)

container = build_container(Settings(_env_file=None, database_url=sys.argv[1], outbox_batch_size=50))
container.extra_handlers.add_args(Slow(container.clock()))
relay = container.relay()
while True:
    relay.run_once()
"""


class Recorder(EventPublisher):
    def __init__(self) -> None:
        self.delivered: list[EventEnvelope] = []

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        self.delivered.extend(envelopes)
        return [None] * len(envelopes)


def leased(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_id FROM outbox_events WHERE status = 'PENDING' "
                                    "AND locked_until > now()"))
        return {str(r.event_id) for r in rows}


def test_a_live_relay_keeps_its_batch_and_a_killed_one_frees_it_within_a_lease(postgres_url: str) -> None:
    settings = Settings(_env_file=None, database_url=postgres_url, outbox_lease_seconds=LEASE, outbox_batch_size=50)
    container = build_container(settings)
    for i in range(100):
        container.create_supplier()(f"Supplier {i}", date(2030, 1, 1), Origin("test"))
    engine = container.engine()
    src = Path(__file__).resolve().parents[2] / "src"
    child = subprocess.Popen([sys.executable, "-c", SLOW_RELAY, postgres_url, str(LEASE)],
                             env={**os.environ, "PYTHONPATH": str(src)}, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while len(held := leased(engine)) < 50:
            assert time.monotonic() < deadline, "the child relay never claimed its batch"
            time.sleep(0.05)

        recorder = Recorder()
        relay = OutboxRelay(container.uow, recorder, container.clock(), container.retry_policy(), batch_size=50,
                            lease_seconds=LEASE)
        until = time.monotonic() + 2.5 * LEASE  # the child's lease would have lapsed twice without renewal
        while time.monotonic() < until:
            relay.run_once()
            time.sleep(0.1)
        taken = {str(e.event_id) for e in recorder.delivered}
        assert len(taken) == 50 and not taken & held, "a live relay's batch was taken by another relay"

        child.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        child.wait(5)
        while not held <= {str(e.event_id) for e in recorder.delivered}:
            assert time.monotonic() - killed_at < LEASE + 5, "the killed relay's batch did not come back"
            relay.run_once()
            time.sleep(0.05)
        delay = time.monotonic() - killed_at
        print(f"killed relay's 50 events retaken {delay:.2f} s after SIGKILL (lease {LEASE:g} s)")
        assert delay <= LEASE + 1.5
        assert len(recorder.delivered) == 100  # nothing delivered twice by this relay
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        engine.dispose()


def locked(engine: sa.Engine) -> int:
    """PENDING rows another transaction holds (FOR UPDATE): what a SKIP LOCKED claim cannot take."""
    with engine.connect() as conn:
        free = conn.execute(sa.text("SELECT count(*) FROM (SELECT 1 FROM outbox_events WHERE status = 'PENDING' "
                                    "FOR UPDATE SKIP LOCKED) free")).scalar_one()
        total = conn.execute(sa.text("SELECT count(*) FROM outbox_events WHERE status = 'PENDING'")).scalar_one()
        conn.rollback()
        return total - free


def test_a_polling_relay_killed_mid_batch_frees_it_at_once_and_nothing_is_half_applied(postgres_url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=postgres_url, outbox_batch_size=50))
    for i in range(50):
        container.create_supplier()(f"Supplier {i}", date(2030, 1, 1), Origin("test"))
    engine = container.engine()
    src = Path(__file__).resolve().parents[2] / "src"
    child = subprocess.Popen([sys.executable, "-c", SLOW_HANDLER, postgres_url],
                             env={**os.environ, "PYTHONPATH": str(src)}, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while locked(engine) < 50:  # the child holds the whole batch in its transaction (5 s of handling)
            assert time.monotonic() < deadline, "the child relay never claimed its batch"
            time.sleep(0.05)
        assert container.relay().run_once().claimed == 0  # a live relay's batch is not taken
        child.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        child.wait(5)
        while (report := container.relay().run_once()).claimed == 0:
            assert time.monotonic() - killed_at < 5, "the killed relay's batch did not come back"
            time.sleep(0.02)
        print(f"killed polling relay's batch retaken {time.monotonic() - killed_at:.2f} s after SIGKILL")
        assert report.published == 50
        with engine.connect() as conn:  # the child's half-done batch left nothing: each event audited once
            audited = conn.execute(sa.text("SELECT count(*), count(DISTINCT event_id) FROM audit_log")).one()
        assert tuple(audited) == (50, 50)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        engine.dispose()
