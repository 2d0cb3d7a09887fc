"""The reminder job on the real databases (ADR 0027): a certificate 30 days from expiry gets exactly one
CERT_EXPIRING however many workers run the job at once and however often they restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.inbound.worker import reminder_loop
from application.envelope import Origin
from bootstrap.container import build_container
from bootstrap.settings import Settings

EXPIRES = date(2027, 3, 1)
DAY = EXPIRES - timedelta(days=30)
CERTIFICATES = 12


def seed(url: str) -> None:
    container = build_container(Settings(_env_file=None, database_url=url))
    origin = Origin("quality", "seed")
    supplier = container.create_supplier()("Beta Metals", date(2030, 1, 1), origin).supplier.id
    for n in range(CERTIFICATES):
        container.add_certificate()(supplier, "ISO_9001", f"Q-{n}", "TÜV", date(2024, 3, 1), EXPIRES, True, origin)
    container.engine().dispose()


def reminders_in_outbox(url: str) -> list[tuple[str, int]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_type, payload FROM outbox_events WHERE event_type LIKE 'CERT_EXP%'"
                                    " ORDER BY position")).all()
    engine.dispose()
    return [(kind, (payload if isinstance(payload, dict) else json.loads(payload))["threshold"])
            for kind, payload in rows]


@pytest.fixture(params=["sqlite", "postgres"])
def url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url")


def test_two_workers_at_once_then_a_restart_send_each_certificate_one_cert_expiring(url) -> None:
    seed(url)
    workers = [build_container(Settings(_env_file=None, database_url=url)) for _ in range(2)]
    loops = [reminder_loop(w.run_reminders(), 3600) for w in workers]
    start = threading.Barrier(2)
    reports: list = []

    def run(loop) -> None:
        start.wait()
        reports.append(loop.job(DAY))

    threads = [threading.Thread(target=run, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.examined for r in reports) == [CERTIFICATES, CERTIFICATES]  # both looked at every one
    assert sum(r.sent.get("CERT_EXPIRING", 0) for r in reports) == CERTIFICATES  # and sent each once
    for worker in workers:
        worker.engine().dispose()
    restarted = build_container(Settings(_env_file=None, database_url=url))
    assert restarted.run_reminders()(DAY).sent == {}
    restarted.engine().dispose()
    assert reminders_in_outbox(url) == [("CERT_EXPIRING", 30)] * CERTIFICATES


@pytest.mark.postgres
def test_the_command_run_by_two_processes_at_once_and_again_sends_one_cert_expiring(postgres_url) -> None:
    seed(postgres_url)
    env = {**os.environ, "SUPPLYTRACE_DATABASE_URL": postgres_url}
    command = [str(Path(sys.executable).parent / "supplytrace"), "reminders", "run", "--date", DAY.isoformat()]
    runs = [subprocess.Popen(command, env=env, cwd=Path(__file__).parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    again = subprocess.run(command, env=env, cwd=Path(__file__).parent, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"reminders for {DAY}: {CERTIFICATES} subjects examined, sent nothing"
    assert reminders_in_outbox(postgres_url) == [("CERT_EXPIRING", 30)] * CERTIFICATES
