from pytest_bdd import parsers, scenarios, then, when

from tests.features.conftest import Memo, _ok, audit, outbox
from tests.support.harness import RunningApp

scenarios("operating_delivery.feature")


def _the_failed_event(app: RunningApp, memo: Memo) -> str:
    if memo.event_id is None:
        [failed] = outbox(app, "FAILED")
        memo.event_id = failed["event_id"]
    return memo.event_id


def _aggregate_events(app: RunningApp, memo: Memo, name: str) -> list[dict]:
    path = f"/events?aggregate_type=supplier&aggregate_id={memo.suppliers[name]}&limit=100"
    return _ok(app.call("auditor", "GET", path), 200)["items"]


@when(parsers.parse('the admin replays the FAILED event because "{reason}"'))
def admin_replays(app: RunningApp, memo: Memo, reason: str) -> None:
    event_id = _the_failed_event(app, memo)
    replayed = _ok(app.call("admin", "POST", f"/events/{event_id}/replay", json={"reason": reason}), 200)
    assert (replayed["event_id"], replayed["before"], replayed["after"]) == (event_id, "FAILED", "PENDING")


@when(parsers.parse('the admin skips the FAILED event because "{reason}"'))
def admin_skips(app: RunningApp, memo: Memo, reason: str) -> None:
    event_id = _the_failed_event(app, memo)
    skipped = _ok(app.call("admin", "POST", f"/events/{event_id}/skip", json={"reason": reason}), 200)
    assert (skipped["before"], skipped["after"], len(skipped["released"])) == ("FAILED", "SKIPPED", 1)


@then(parsers.parse('the auditor sees the events of "{name}" as {statuses}'))
def aggregate_statuses(app: RunningApp, memo: Memo, name: str, statuses: str) -> None:
    assert [e["status"] for e in _aggregate_events(app, memo, name)] == [s.strip() for s in statuses.split(",")]


@then(parsers.parse('the handlers saw the events of "{name}" in commit order: {types}'))
def handled_in_order(app: RunningApp, memo: Memo, name: str, types: str) -> None:
    events = _aggregate_events(app, memo, name)
    assert [e["event_type"] for e in events] == [t.strip() for t in types.split(",")]
    assert {e["status"] for e in events} == {"PUBLISHED"}
    recorded = sorted((e for e in audit(app) if e["entity_id"] == str(memo.suppliers[name])
                       and e["entity_type"] == "supplier"), key=lambda e: e["id"])
    assert [e["event_id"] for e in recorded] == [e["event_id"] for e in events]  # applied in commit order


@then(parsers.re(r'the audit log records that "(?P<actor>[^"]+)" (?P<action>replayed|skipped) the event '
                 r'because "(?P<reason>[^"]+)"'))
def audited(app: RunningApp, memo: Memo, actor: str, action: str, reason: str) -> None:
    kind = {"replayed": "EVENT_REPLAYED", "skipped": "EVENT_SKIPPED"}[action]
    [entry] = [e for e in audit(app) if e["event_type"] == kind]
    assert (entry["actor"], entry["entity_id"], entry["details"]["reason"]) == (actor, memo.event_id, reason)
    assert entry["details"]["before"] == "FAILED"


def _timeline(app: RunningApp, memo: Memo) -> list[dict]:
    return _ok(app.call("auditor", "GET", f"/events/{memo.event_id}"), 200)["steps"]


@then(parsers.parse("the timeline of the event shows, in order: {steps}"))
def timeline_in_order(app: RunningApp, memo: Memo, steps: str) -> None:
    taken = [s["step"] for s in _timeline(app, memo)]
    wanted, position = [s.strip() for s in steps.split(",")], 0
    for step in wanted:  # a subsequence: each step after the previous one
        assert step in taken[position:], f"{step} missing after {wanted[:wanted.index(step)]}: {taken}"
        position = taken.index(step, position) + 1
    if app.consumer is not None:  # broker mode: where it was published
        published = [s for s in _timeline(app, memo) if s["step"] == "PUBLISHED"]
        assert published and all({"topic", "partition", "offset"} <= s["detail"].keys() for s in published)
    claimed = [s for s in _timeline(app, memo) if s["step"] == "CLAIMED"]
    assert all(s["worker"] and s["lease_token"] for s in claimed)


@then(parsers.parse('the timeline shows {count:d} failed attempts with the error "{error}"'))
def failed_attempts(app: RunningApp, memo: Memo, count: int, error: str) -> None:
    attempts = [s for s in _timeline(app, memo) if s["step"] == "ATTEMPT_FAILED"]
    assert [s["detail"]["attempt"] for s in attempts] == list(range(1, count + 1))
    assert all(error in s["detail"]["error"] for s in attempts)


@then(parsers.parse('the timeline names "{actor}" and the reason "{reason}" on the replay'))
def replay_step(app: RunningApp, memo: Memo, actor: str, reason: str) -> None:
    [replayed] = [s for s in _timeline(app, memo) if s["step"] == "REPLAYED"]
    assert (replayed["detail"]["actor"], replayed["detail"]["reason"]) == (actor, reason)


@then(parsers.parse('the auditor sees {count:d} open dead letter for "{event_type}" with the error "{error}"'))
def open_dead_letters(app: RunningApp, memo: Memo, count: int, event_type: str, error: str) -> None:
    letters = _ok(app.call("auditor", "GET", "/dead-letters?status=OPEN"), 200)["items"]
    assert [(d["event_type"], d["source"]) for d in letters] == [(event_type, "outbox")] * count
    assert all(error in d["error"] for d in letters)
    memo.dead_letter = letters[0]["id"]
    one = _ok(app.call("auditor", "GET", f"/dead-letters/{memo.dead_letter}"), 200)
    assert one["event_id"] == _the_failed_event(app, memo) and one["payload_encoding"] == "json"


@then(parsers.parse('a replay without a reason is refused, naming the field "{name}"'))
def replay_needs_reason(app: RunningApp, memo: Memo, name: str) -> None:
    for body in ({}, {"reason": "  "}):
        response = app.call("admin", "POST", f"/events/{_the_failed_event(app, memo)}/replay", json=body)
        assert response.status_code == 422 and name in response.text, response.text
    assert len(outbox(app, "FAILED")) == 1


@then("replaying it again is a conflict")
def replay_twice(app: RunningApp, memo: Memo) -> None:
    response = app.call("admin", "POST", f"/events/{memo.event_id}/replay", json={"reason": "again"})
    assert response.status_code == 409, response.text
    assert len([e for e in audit(app) if e["event_type"] == "EVENT_REPLAYED"]) == 1


@then(parsers.parse('the dead letter is "{status}" by "{actor}"'))
def dead_letter_status(app: RunningApp, memo: Memo, status: str, actor: str) -> None:
    letter = _ok(app.call("auditor", "GET", f"/dead-letters/{memo.dead_letter}"), 200)
    assert (letter["status"], letter["replayed_by"]) == (status, actor)
