"""Operating delivery: events and their timelines, dead letters, audited replay and skip."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter

from application.envelope import EventEnvelope
from application.outbox_admin import Replayed, Timeline
from application.pagination import PageRequest
from application.ports.delivery_log import DeadLetter, DeadLetterFilter, DeadLetterStatus
from application.ports.outbox import OutboxFilter, OutboxRecord, OutboxStatus

from adapters.inbound.api.deps import ContainerDep, OutboxReader, Replayer, RequestTrace
from adapters.inbound.api.schemas import (
    BulkReplayIn,
    BulkReplayOut,
    DeadLetterOut,
    DeadLetterReplayIn,
    EventTimelineOut,
    Id,
    Limit,
    Offset,
    OutboxEventOut,
    PageOut,
    ReasonIn,
    ReplayedOut,
    TimelineStepOut,
    text,
)

router = APIRouter(tags=["delivery"])

Status = Literal["PENDING", "PUBLISHED", "FAILED", "PARKED", "SKIPPED"]
ONLY_FAILED = {404: {"description": "No such event"},
               409: {"description": "The event is not FAILED (any more): another operator acted on it, or it is "
                                    "PARKED behind a FAILED event of its aggregate"}}


def event_out(r: OutboxRecord) -> OutboxEventOut:
    e = r.envelope
    return OutboxEventOut(event_id=e.event_id, event_type=e.event_type, aggregate_type=e.aggregate_type,
                          aggregate_id=e.aggregate_id, status=r.status.value, attempts=r.attempts,
                          last_error=r.last_error, next_attempt_at=r.next_attempt_at, created_at=r.created_at,
                          published_at=r.published_at, handled_at=r.handled_at, handled_by=r.handled_by,
                          actor=e.actor, correlation_id=e.correlation_id,
                          occurred_at=e.occurred_at, payload=e.payload)


def events_page(container: ContainerDep, criteria: OutboxFilter, limit: int, offset: int) -> PageOut[OutboxEventOut]:
    page = container.outbox_queries().list(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [event_out(r) for r in page.items])


def replayed_out(r: Replayed) -> ReplayedOut:
    return ReplayedOut(event_id=r.event_id, before=r.before, after=r.after, released=r.released)


def letter_out(d: DeadLetter) -> DeadLetterOut:
    assert d.id is not None and d.first_seen is not None and d.last_seen is not None
    return DeadLetterOut(id=d.id, key=d.key, source=d.source, status=d.status.value, event_id=d.event_id,
                         event_type=d.event_type, aggregate_type=d.aggregate_type, aggregate_id=d.aggregate_id,
                         payload=d.payload, payload_encoding=d.payload_encoding, headers=d.headers, topic=d.topic,
                         partition=d.partition, offset=d.offset, error=d.error, first_seen=d.first_seen,
                         last_seen=d.last_seen, occurrences=d.occurrences, replayed_at=d.replayed_at,
                         replayed_by=d.replayed_by)


def timeline_out(t: Timeline) -> EventTimelineOut:
    return EventTimelineOut(
        event=event_out(t.record),
        steps=[TimelineStepOut(at=s.at, step=s.step, worker=s.worker, lease_token=s.lease_token, detail=s.detail)
               for s in t.steps],
        dead_letter=letter_out(t.dead_letter) if t.dead_letter else None)


@router.get("/events", response_model=PageOut[OutboxEventOut])
def events(_: OutboxReader, container: ContainerDep, aggregate_type: text(50) | None = None,
           aggregate_id: text(100) | None = None, event_type: text(100) | None = None, status: Status | None = None,
           limit: Limit = 50, offset: Offset = 0):
    """Events (still to deliver, or delivered and archived), oldest first: e.g. one aggregate's events."""
    criteria = OutboxFilter(OutboxStatus(status) if status else None, event_type, aggregate_type, aggregate_id)
    return events_page(container, criteria, limit, offset)


@router.get("/events/{event_id}", response_model=EventTimelineOut, responses={404: {"description": "No such event"}})
def event_timeline(event_id: UUID, _: OutboxReader, container: ContainerDep):
    """The event and every step of its delivery, in order: written, claimed (worker, lease token),
    each failed attempt with its error, published (topic, partition, offset), handled by each
    handler, dead-lettered, parked and released, replayed or skipped (actor, reason)."""
    return timeline_out(container.event_timeline()(event_id))


@router.post("/events/replay", response_model=BulkReplayOut)
def replay_events(body: BulkReplayIn, principal: Replayer, container: ContainerDep, trace: RequestTrace):
    """Replay the FAILED events matching the filter (oldest first, at most `limit`), all in one
    transaction; `dry_run` only lists what would be replayed. Each replay is audited."""
    f = body.filter
    criteria = OutboxFilter(None, f.event_type, f.aggregate_type, f.aggregate_id, f.failed_since, f.failed_until)
    done = container.replay_events().bulk(criteria, body.limit, body.dry_run, principal.username, body.reason,
                                          trace)
    return BulkReplayOut(dry_run=body.dry_run, count=len(done), events=[replayed_out(r) for r in done])


@router.post("/events/{event_id}/replay", response_model=ReplayedOut, responses=ONLY_FAILED)
def replay_event(event_id: UUID, body: ReasonIn, principal: Replayer, container: ContainerDep, trace: RequestTrace):
    """Send a FAILED event through delivery again: same event id, attempts reset; the events parked
    behind it are released in their order. Audited (EVENT_REPLAYED, actor, reason)."""
    return replayed_out(container.replay_events()(event_id, principal.username, body.reason, trace))


@router.post("/events/{event_id}/skip", response_model=ReplayedOut, responses=ONLY_FAILED)
def skip_event(event_id: UUID, body: ReasonIn, principal: Replayer, container: ContainerDep):
    """Give up on a FAILED event (archived as SKIPPED, never delivered); the events parked behind it
    flow on in their order. Audited (EVENT_SKIPPED, actor, reason)."""
    return replayed_out(container.replay_events().skip(event_id, principal.username, body.reason))


@router.get("/dead-letters", response_model=PageOut[DeadLetterOut])
def dead_letters(_: OutboxReader, container: ContainerDep, status: Literal["OPEN", "REPLAYED", "SKIPPED"] | None = None,
                 source: Literal["outbox", "kafka", "rabbitmq"] | None = None, event_type: text(100) | None = None,
                 aggregate_type: text(50) | None = None, aggregate_id: text(100) | None = None,
                 limit: Limit = 50, offset: Offset = 0):
    """What could not be delivered, newest sighting first: FAILED events, and broker records nobody
    could decode (raw payload, base64 when not text; headers; topic, partition, offset)."""
    criteria = DeadLetterFilter(DeadLetterStatus(status) if status else None, source, event_type, aggregate_type,
                                aggregate_id)
    page = container.outbox_queries().dead_letters(criteria, PageRequest(limit, offset))
    return PageOut.of(page, [letter_out(d) for d in page.items])


@router.get("/dead-letters/{letter_id}", response_model=DeadLetterOut,
            responses={404: {"description": "No such dead letter"}})
def dead_letter(letter_id: Id, _: OutboxReader, container: ContainerDep):
    return letter_out(container.outbox_queries().dead_letter(letter_id))


@router.post("/dead-letters/{letter_id}/replay", response_model=ReplayedOut,
             responses={404: {"description": "No such dead letter"},
                        409: {"description": "Already replayed or skipped, or its event is in the outbox"}})
def replay_dead_letter(letter_id: Id, body: DeadLetterReplayIn, principal: Replayer, container: ContainerDep,
                       trace: RequestTrace):
    """Back into delivery with its original event id: a FAILED event is replayed; a broker record is
    read again from its stored bytes, or taken as corrected in `event`. Audited."""
    e = body.event
    corrected = None if e is None else EventEnvelope(e.event_id, e.event_type, e.aggregate_type, e.aggregate_id,
                                                     e.occurred_at, e.actor, e.correlation_id, e.payload)
    replay = container.replay_events()
    return replayed_out(replay.dead_letter(letter_id, principal.username, body.reason, corrected, trace))
