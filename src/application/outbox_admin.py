"""Operators steer delivery: inspect events and dead letters, read an event's delivery timeline,
replay or skip FAILED events (audited, with a reason), replay dead letters.

Every operator action is a conditional change (of two concurrent calls one wins, the other gets a
Conflict), writes a step on the event's timeline and an audit record, in one transaction."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.errors import Conflict, NotFound, ValidationError

from application.delivery import steps
from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.consumption import AuditEntry
from application.ports.delivery_log import DeadLetter, DeadLetterFilter, DeadLetterStatus, StepKind
from application.ports.outbox import OutboxFilter, OutboxRecord, OutboxStatus
from application.ports.unit_of_work import UnitOfWork, UowFactory

log = logging.getLogger(__name__)

EVENT_REPLAYED = "EVENT_REPLAYED"
EVENT_SKIPPED = "EVENT_SKIPPED"
MAX_BULK = 1000


class OutboxQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, criteria: OutboxFilter, page: PageRequest) -> Page[OutboxRecord]:
        with self.uow().reading() as uow:
            return uow.outbox.list(criteria, page)

    def dead_letters(self, criteria: DeadLetterFilter, page: PageRequest) -> Page[DeadLetter]:
        with self.uow().reading() as uow:
            return uow.dead_letters.list(criteria, page)

    def dead_letter(self, letter_id: int) -> DeadLetter:
        with self.uow().reading() as uow:
            letter = uow.dead_letters.get(letter_id)
        if letter is None:
            raise NotFound("dead letter", letter_id)
        return letter


@dataclass(frozen=True)
class TimelineStep:
    at: datetime
    step: str
    worker: str | None = None
    lease_token: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    record: OutboxRecord
    steps: list[TimelineStep]
    dead_letter: DeadLetter | None


def _traced(trace: str | None) -> dict[str, str]:
    """A traceparent in a step's detail: the event's on WRITTEN, the operator request's on REPLAYED
    (which links the replay to both traces)."""
    return {"traceparent": trace} if trace else {}


class EventTimeline:
    """An event's way, in order: written (its commit), the steps the relays, consumers and operators
    took (delivery_steps), each handler that applied it (processed_events) and its confirmation."""

    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def __call__(self, event_id: UUID) -> Timeline:
        with self.uow().reading() as uow:
            record = uow.outbox.get(event_id)
            if record is None:
                raise NotFound("event", event_id)
            taken = uow.steps.of_event(event_id)
            handled = uow.processed.of_event(event_id)
            letter = uow.dead_letters.find(DeadLetter.event_key(event_id))
        e = record.envelope
        timeline = [TimelineStep(record.created_at, "WRITTEN", detail={"actor": e.actor,
                                                                      "correlation_id": e.correlation_id,
                                                                      **_traced(e.traceparent)})]
        timeline += [TimelineStep(s.at, s.kind.value, s.worker, s.lease_token, s.detail) for s in taken]
        timeline += [TimelineStep(at, "HANDLED", detail={"handler": handler}) for handler, at in handled]
        if record.handled_at is not None and record.status is OutboxStatus.PUBLISHED:
            timeline.append(TimelineStep(record.handled_at, "CONFIRMED", detail={"handled_by": record.handled_by}))
        return Timeline(record, sorted(timeline, key=lambda s: s.at), letter)  # stable: same time keeps its order


@dataclass(frozen=True)
class Replayed:
    event_id: UUID
    before: str
    after: str
    released: list[UUID] = field(default_factory=list)  # parked events of its aggregate, PENDING again


def _required_reason(reason: str) -> str:
    if not reason.strip():
        raise ValidationError("reason", "say why (it goes to the audit log)")
    return reason.strip()


def _audit(uow: UnitOfWork, action: str, envelope: EventEnvelope, actor: str, now: datetime,
           **details: Any) -> None:
    """An operator's action on an event: its delivery status before → after as the change, with the reason."""
    changes = [["status", details["before"], details["after"]]] if "before" in details else []
    uow.audit.append([AuditEntry(
        event_id=uuid4(), event_type=action, entity_type="event", entity_id=str(envelope.event_id), actor=actor,
        correlation_id=envelope.correlation_id, occurred_at=now, recorded_at=now,
        details={"event_type": envelope.event_type, "aggregate_type": envelope.aggregate_type,
                 "aggregate_id": envelope.aggregate_id, **details},
        changes=changes, reason=details.get("reason"))])


class ReplayEvents:
    """Send FAILED events through delivery again: same event id and key, attempts reset, the events
    parked behind each released in their order; each replay audited with its actor and reason."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, event_id: UUID, actor: str, reason: str, trace: str | None = None) -> Replayed:
        """`trace`: the traceparent of the operator's request, kept on the REPLAYED step (the event
        itself stays in the trace of the request that wrote it)."""
        reason = _required_reason(reason)
        with self.uow() as uow:
            replayed = self._replay(uow, event_id, actor, reason, self.clock.now(), trace)
            uow.commit()
        log.info("event %s replayed by %s (%s); %d parked events released", event_id, actor, reason,
                 len(replayed.released))
        return replayed

    def bulk(self, criteria: OutboxFilter, limit: int, dry_run: bool, actor: str, reason: str,
             trace: str | None = None) -> list[Replayed]:
        """The FAILED events matching (oldest first, at most `limit`): replayed, or with `dry_run`
        only listed. One transaction: all of them, or none."""
        reason = _required_reason(reason)
        if not 1 <= limit <= MAX_BULK:
            raise ValidationError("limit", f"between 1 and {MAX_BULK}")
        criteria = OutboxFilter(OutboxStatus.FAILED, criteria.event_type, criteria.aggregate_type,
                                criteria.aggregate_id, criteria.failed_since, criteria.failed_until)
        with self.uow() as uow:
            failed = uow.outbox.list(criteria, PageRequest(limit, 0)).items
            if dry_run:
                return [Replayed(r.envelope.event_id, r.status.value, r.status.value) for r in failed]
            now = self.clock.now()
            done = [self._replay(uow, r.envelope.event_id, actor, reason, now, trace) for r in failed]
            uow.commit()
        log.info("%d FAILED events replayed by %s (%s)", len(done), actor, reason)
        return done

    def skip(self, event_id: UUID, actor: str, reason: str) -> Replayed:
        """Give up on a FAILED event (archived as SKIPPED); its aggregate's parked events flow on."""
        reason = _required_reason(reason)
        with self.uow() as uow:
            record = self._failed(uow, event_id)
            now = self.clock.now()
            released = uow.outbox.skip(event_id, now, f"skipped by {actor}")
            if released is None:
                raise Conflict(f"event {event_id} is no longer FAILED (another operator acted on it)")
            self._resolve(uow, event_id, DeadLetterStatus.SKIPPED, now, actor)
            steps(uow, StepKind.SKIPPED, [event_id], now, actor=actor, reason=reason)
            steps(uow, StepKind.UNPARKED, released, now, by=str(event_id))
            _audit(uow, EVENT_SKIPPED, record.envelope, actor, now, reason=reason, before="FAILED", after="SKIPPED",
                   released=len(released))
            uow.commit()
        log.info("event %s skipped by %s (%s)", event_id, actor, reason)
        return Replayed(event_id, OutboxStatus.FAILED.value, OutboxStatus.SKIPPED.value, released)

    def dead_letter(self, letter_id: int, actor: str, reason: str, corrected: EventEnvelope | None = None,
                    trace: str | None = None) -> Replayed:
        """A dead letter back into delivery. An outbox event's is its FAILED event's replay; a broker
        record nobody could decode re-enters the outbox with its original event id, decoded from its
        stored bytes (once the code that reads them is fixed) or as the operator `corrected` it."""
        reason = _required_reason(reason)
        now = self.clock.now()
        with self.uow() as uow:
            letter = uow.dead_letters.get(letter_id)
            if letter is None:
                raise NotFound("dead letter", letter_id)
            if letter.status is not DeadLetterStatus.OPEN:
                raise Conflict(f"dead letter {letter_id} is {letter.status.value}")
            if letter.event_id is not None and uow.outbox.get(letter.event_id) is not None and corrected is None:
                replayed = self._replay(uow, letter.event_id, actor, reason, now, trace)
            else:
                envelope = corrected or _decoded(letter)
                if letter.event_id is not None and envelope.event_id != letter.event_id:
                    raise ValidationError("event.event_id", f"must stay the dead letter's {letter.event_id}")
                if uow.outbox.get(envelope.event_id) is not None:
                    raise Conflict(f"event {envelope.event_id} is already in the outbox: replay it there")
                uow.outbox.add([envelope], now)
                if not uow.dead_letters.resolve(letter_id, DeadLetterStatus.REPLAYED, now, actor):
                    raise Conflict(f"dead letter {letter_id} was replayed by someone else meanwhile")
                steps(uow, StepKind.REPLAYED, [envelope.event_id], now, actor=actor, reason=reason,
                      dead_letter=letter_id, before="DEAD_LETTER", after="PENDING", **_traced(trace))
                _audit(uow, EVENT_REPLAYED, envelope, actor, now, reason=reason, before="DEAD_LETTER",
                       after="PENDING", dead_letter=letter_id)
                replayed = Replayed(envelope.event_id, "DEAD_LETTER", OutboxStatus.PENDING.value)
            uow.commit()
        log.info("dead letter %s replayed by %s (%s) as event %s", letter_id, actor, reason, replayed.event_id)
        return replayed

    def _failed(self, uow: UnitOfWork, event_id: UUID) -> OutboxRecord:
        record = uow.outbox.get(event_id)
        if record is None:
            raise NotFound("event", event_id)
        if record.status is OutboxStatus.PARKED:
            raise Conflict(f"event {event_id} is PARKED behind a FAILED event of its aggregate: replay or skip that one")
        if record.status is not OutboxStatus.FAILED:
            raise Conflict(f"event {event_id} is {record.status.value}; only FAILED events are replayed")
        return record

    def _replay(self, uow: UnitOfWork, event_id: UUID, actor: str, reason: str, now: datetime,
                trace: str | None) -> Replayed:
        record = self._failed(uow, event_id)
        released = uow.outbox.replay(event_id, now)
        if released is None:
            raise Conflict(f"event {event_id} is no longer FAILED (another operator replayed it)")
        self._resolve(uow, event_id, DeadLetterStatus.REPLAYED, now, actor)
        steps(uow, StepKind.REPLAYED, [event_id], now, actor=actor, reason=reason, before="FAILED", after="PENDING",
              attempts_before=record.attempts, **_traced(trace))
        steps(uow, StepKind.UNPARKED, released, now, by=str(event_id))
        _audit(uow, EVENT_REPLAYED, record.envelope, actor, now, reason=reason, before="FAILED", after="PENDING",
               attempts_before=record.attempts, released=len(released))
        return Replayed(event_id, OutboxStatus.FAILED.value, OutboxStatus.PENDING.value, released)

    @staticmethod
    def _resolve(uow: UnitOfWork, event_id: UUID, status: DeadLetterStatus, now: datetime, actor: str) -> None:
        letter = uow.dead_letters.find(DeadLetter.event_key(event_id))
        if letter is not None and letter.id is not None:
            uow.dead_letters.resolve(letter.id, status, now, actor)


def _decoded(letter: DeadLetter) -> EventEnvelope:
    raw = base64.b64decode(letter.payload) if letter.payload_encoding == "base64" else letter.payload.encode()
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return EventEnvelope.from_dict(data)
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError("event", f"the dead letter still cannot be read as an event ({error}); "
                                       "send the corrected event") from error


def undecodable(source: str, error: str, value: bytes | None, headers: Sequence[tuple[str, bytes | None]],
                topic: str, partition: int, offset: int) -> DeadLetter:
    """A broker record nobody could decode, as a dead letter: its bytes as they came (JSON text when
    they are UTF-8, else base64), its headers, where it was; its event id if a header names one."""
    raw = value or b""
    try:
        payload, encoding = raw.decode(), "json"
        json.loads(payload)
    except ValueError:
        payload, encoding = base64.b64encode(raw).decode(), "base64"
    texts = {name: (v or b"").decode(errors="replace") for name, v in headers}
    try:
        event_id = UUID(texts["ce_id"]) if "ce_id" in texts else None
    except ValueError:
        event_id = None
    return DeadLetter(key=f"record:{topic}/{partition}/{offset}", source=source, error=error, payload=payload,
                      payload_encoding=encoding, event_id=event_id, event_type=texts.get("ce_type"),
                      headers=texts, topic=topic, partition=partition, offset=offset)


class RecordDeadLetters:
    """Keep what a broker consumer could not decode (one transaction per batch)."""

    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            with self.uow() as uow:
                uow.dead_letters.record(letters, self.clock.now())
                uow.commit()
