"""Operators steer delivery, on every database: fenced leases (a relay that outlived its lease
completes nothing), concurrent replays (one wins, the other is a conflict), parked sequences released
in order, and the delivery timeline written with the steps themselves."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from uuid import UUID

import pytest

from domain.errors import Conflict

from application.delivery import LEASE_LOST
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher, Published
from application.relay import OutboxRelay, RelayReport
from tests.support.harness import RunningApp, running_app

STACKS = ["memory", "sqlite", "postgres"]


@pytest.fixture(params=STACKS)
def app(request: pytest.FixtureRequest) -> Iterator[RunningApp]:
    stack = request.param
    url = {"memory": lambda: "memory://", "sqlite": lambda: request.getfixturevalue("sqlite_url"),
           "postgres": lambda: request.getfixturevalue("postgres_url")}[stack]()
    with running_app(stack, url) as running:
        yield running


def ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, f"{response.status_code}: {response.text}"
    return response.json()


def suppliers(app: RunningApp, n: int) -> None:
    for i in range(n):
        ok(app.call("procurement", "POST", "/suppliers", json={"name": f"S{i}", "certification_expiry": "2027-01-01"}),
           201)


def events(app: RunningApp, status: str | None = None) -> list[dict]:
    return ok(app.call("auditor", "GET", "/events?limit=500" + (f"&status={status}" if status else "")), 200)["items"]


def timeline(app: RunningApp, event_id: str) -> list[dict]:
    return ok(app.call("auditor", "GET", f"/events/{event_id}"), 200)["steps"]


class Broker(EventPublisher):
    """Acknowledges every event, at increasing offsets."""

    def __init__(self) -> None:
        self.offset = 0

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | Published | None]:
        self.offset += len(envelopes)
        return [Published("t.supplier", 0, self.offset - len(envelopes) + i) for i in range(len(envelopes))]


class Stalled(Broker):
    """A relay paused in the middle of its publish (a GC pause, a frozen VM) until released."""

    def __init__(self, fails: bool) -> None:
        super().__init__()
        self.fails, self.entered, self.go = fails, threading.Event(), threading.Event()

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | Published | None]:
        self.entered.set()
        assert self.go.wait(30)
        return [RuntimeError("late failure")] * len(envelopes) if self.fails else super().publish(envelopes)


@pytest.mark.parametrize("late", ["published", "failed"])
def test_a_relay_that_outlived_its_lease_completes_nothing(app: RunningApp, late: str) -> None:
    suppliers(app, 3)
    c = app.container
    stalled = Stalled(fails=late == "failed")
    slow = OutboxRelay(c.uow, stalled, c.clock(), c.retry_policy(), lease_seconds=60, worker="slow")
    reports: list[RelayReport] = []
    first = threading.Thread(target=lambda: reports.append(slow.run_once()))
    first.start()
    assert stalled.entered.wait(10)
    app.clock.advance(61)  # its lease lapsed: another relay takes the batch
    fast = OutboxRelay(c.uow, Broker(), c.clock(), c.retry_policy(), lease_seconds=60, worker="fast")
    assert fast.run_once().published == 3

    stalled.go.set()  # the first relay wakes up and completes its stale batch
    first.join(30)
    [report] = reports
    assert (report.published, report.retried, report.failed, report.lease_lost) == (0, 0, 0, 3)
    published = events(app, "PUBLISHED")
    assert len(published) == 3 and all(e["attempts"] == 0 and e["last_error"] is None for e in published)
    for event in published:  # marked once, by the relay that held the lease; the stale one left a trace
        steps = timeline(app, event["event_id"])
        claims = [s for s in steps if s["step"] == "CLAIMED"]
        assert [s["worker"] for s in claims] == ["slow", "fast"] and claims[0]["lease_token"] != claims[1]["lease_token"]
        assert [(s["worker"], s["lease_token"]) for s in steps if s["step"] == "PUBLISHED"] == [
            ("fast", claims[1]["lease_token"])]
        assert [(s["worker"], s["lease_token"]) for s in steps if s["step"] == "LEASE_LOST"] == [
            ("slow", claims[0]["lease_token"])]
        assert "ATTEMPT_FAILED" not in {s["step"] for s in steps}
    with c.uow().reading() as uow:
        assert uow.counters.read([LEASE_LOST])[LEASE_LOST] == 3


def fail_all(app: RunningApp) -> None:
    app.failure.failing = True
    for _ in range(24):  # two minutes: out of attempts after 1 + 2 + 4 + 8 s of backoff
        app.run_worker()
        app.clock.advance(5)
    app.failure.failing = False


def test_concurrent_replays_of_one_event_replay_it_once(app: RunningApp) -> None:
    suppliers(app, 4)
    fail_all(app)
    failed = events(app, "FAILED")
    assert len(failed) == 4
    answers: list[int] = []
    barrier = threading.Barrier(8)
    replay_events = app.container.replay_events()

    def replay(event_id: str) -> None:  # two operators at once (the API answers a Conflict with 409)
        barrier.wait()
        try:
            replay_events(UUID(event_id), "admin", "race")
            answers.append(200)
        except Conflict:
            answers.append(409)

    threads = [threading.Thread(target=replay, args=(e["event_id"],)) for e in failed for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answers) == [200] * 4 + [409] * 4
    replays = [e for e in ok(app.call("auditor", "GET", "/audit-log?event_type=EVENT_REPLAYED&limit=50"), 200)["items"]]
    assert sorted(e["entity_id"] for e in replays) == sorted(e["event_id"] for e in failed)
    assert all(e["details"]["before"] == "FAILED" and e["details"]["after"] == "PENDING" for e in replays)
    assert {e["status"] for e in events(app) if e["event_id"] in {f["event_id"] for f in failed}} == {"PENDING"}


def test_a_parked_sequence_is_released_in_commit_order_and_other_aggregates_flow_on(app: RunningApp) -> None:
    suppliers(app, 1)
    fail_all(app)  # supplier 1 created: FAILED
    for day in ("2028-01-01", "2029-01-01", "2030-01-01"):
        ok(app.call("procurement", "PATCH", "/suppliers/1/certification", json={"certification_expiry": day}), 200)
    suppliers(app, 1)  # supplier 2: another aggregate
    app.run_worker()
    kpi = ok(app.call("auditor", "GET", "/kpi"), 200)
    assert (kpi["outbox_failed"], kpi["outbox_parked"]) == (1, 3)
    first = ok(app.call("auditor", "GET", "/events?aggregate_type=supplier&aggregate_id=1"), 200)["items"]
    assert [e["status"] for e in first] == ["FAILED", "PARKED", "PARKED", "PARKED"]
    assert [e["status"] for e in ok(app.call("auditor", "GET", "/events?aggregate_id=2"), 200)["items"]] == [
        "PUBLISHED"]
    parked = timeline(app, first[1]["event_id"])
    assert [s["detail"].get("behind") for s in parked if s["step"] == "PARKED"] == [first[0]["event_id"]]
    assert app.call("admin", "POST", f"/events/{first[1]['event_id']}/replay",
                    json={"reason": "x"}).status_code == 409  # parked: replay the FAILED one

    released = ok(app.call("admin", "POST", f"/events/{first[0]['event_id']}/replay", json={"reason": "fixed"}), 200)
    assert released["released"] == [e["event_id"] for e in first[1:]]
    app.run_worker()
    audit = ok(app.call("auditor", "GET", "/audit-log?entity_type=supplier&entity_id=1&limit=50"), 200)["items"]
    assert [e["event_id"] for e in sorted(audit, key=lambda e: e["id"])] == [e["event_id"] for e in first]
    kpi = ok(app.call("auditor", "GET", "/kpi"), 200)
    assert (kpi["outbox_failed"], kpi["outbox_parked"], kpi["outbox_pending"]) == (0, 0, 0)


def test_the_earlier_replay_path_delegates_and_needs_a_reason(app: RunningApp) -> None:
    suppliers(app, 1)
    fail_all(app)
    [failed] = events(app, "FAILED")
    path = f"/outbox/{failed['event_id']}/replay"
    assert app.call("admin", "POST", path, json={}).status_code == 422
    replayed = ok(app.call("admin", "POST", path, json={"reason": "the old client"}), 200)
    assert (replayed["before"], replayed["after"]) == ("FAILED", "PENDING")
