"""PostgreSQL: two requests racing with one Idempotency-Key write once; two changes racing with one
If-Match apply once (ADR 0020). The first request of each pair is held inside its transaction, right
after its write, while the second one runs: the second must wait for it, then write nothing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from adapters.outbound.sqlalchemy.aggregates import TableMapper
from adapters.outbound.sqlalchemy.idempotency import SqlIdempotencyStore
from tests.support.harness import running_app

HOLD = 0.5  # seconds the first transaction stays open after its write
BODY = {"name": "Beta Metals", "certification_expiry": "2027-06-30"}


def _hold_first(real, written: threading.Event):
    def held(*args, **kwargs):
        outcome = real(*args, **kwargs)
        if not written.is_set():
            written.set()
            time.sleep(HOLD)  # the write is done, not committed: the other request runs now
        return outcome
    return held


def _race(app, first, second, written: threading.Event):
    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(first)
        assert written.wait(10), "the first request never wrote"
        started = time.perf_counter()
        two = pool.submit(second)
        return one.result(), two.result(), time.perf_counter() - started


def test_two_requests_with_one_key_write_one_supplier(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_app("postgres", postgres_url) as app:
        app.token("procurement")
        written = threading.Event()
        monkeypatch.setattr(SqlIdempotencyStore, "insert", _hold_first(SqlIdempotencyStore.insert, written))
        post = lambda: app.call("procurement", "POST", "/suppliers", json=BODY,  # noqa: E731
                                headers={"Idempotency-Key": "race-1"})

        first, second, waited = _race(app, post, post, written)

        assert first.status_code == 201, first.text
        # the second looked the key up before the first committed, wrote its supplier, then waited
        # on the key's primary key until the first committed: its whole transaction rolled back
        assert second.status_code == 409 and second.headers["Retry-After"] == "1", second.text
        assert waited >= HOLD * 0.8
        assert app.call("auditor", "GET", "/suppliers").json()["total"] == 1
        again = post()
        assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (201, first.json(), "true")
        app.run_worker()
        audit = app.call("auditor", "GET", "/audit-log").json()["items"]
        assert [e["event_type"] for e in audit] == ["SUPPLIER_CREATED"]


def test_two_changes_with_one_if_match_apply_once(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with running_app("postgres", postgres_url) as app:
        created = app.call("procurement", "POST", "/suppliers", json=BODY)
        supplier, etag = created.json()["id"], created.headers["ETag"]
        written = threading.Event()
        monkeypatch.setattr(TableMapper, "flush", _hold_first(TableMapper.flush, written))

        def patch(day: str):
            return lambda: app.call("procurement", "PATCH", f"/suppliers/{supplier}/certification",
                                    json={"certification_expiry": day}, headers={"If-Match": etag})

        first, second, _ = _race(app, patch("2028-01-31"), patch("2029-01-31"), written)

        # the second read version 1 (the first had not committed) and passed the check; its UPDATE
        # … WHERE version = 1 waited for the first's row lock, then found version 2: no row, 412
        assert (first.status_code, first.headers["ETag"]) == (200, '"2"'), first.text
        assert second.status_code == 412, second.text
        current = app.call("auditor", "GET", f"/suppliers/{supplier}")
        assert (current.json()["certification_expiry"], current.headers["ETag"]) == ("2028-01-31", '"2"')
