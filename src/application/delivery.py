"""What a delivery step does to an outbox event, whoever takes it (relay, broker consumer, operator),
and the record of it: every step is written to the delivery timeline in the same transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from application.error_text import describe
from application.ports.delivery_log import DeadLetter, DeliveryStep, StepKind
from application.ports.outbox import Claim, OutboxRecord, OutboxStatus
from application.ports.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2000
LEASE_LOST = "delivery:lease_lost"  # the counter of completions refused by the fence


def steps(uow: UnitOfWork, kind: StepKind, event_ids: Sequence[UUID], now: datetime, worker: str | None = None,
          lease_token: str | None = None, **detail: Any) -> None:
    uow.steps.record([DeliveryStep(event_id, kind, now, worker, lease_token, dict(detail)) for event_id in event_ids])


def record_claim(uow: UnitOfWork, claim: Claim, now: datetime, worker: str) -> None:
    """The claim's steps: each event taken (by whom, under which lease), each one parked instead."""
    steps(uow, StepKind.CLAIMED, [r.envelope.event_id for r in claim.records], now, worker, claim.lease_token)
    for parked, behind in claim.parked:
        steps(uow, StepKind.PARKED, [parked], now, worker, behind=str(behind))


def lease_lost(uow: UnitOfWork, event_ids: Sequence[UUID], now: datetime, worker: str | None,
               lease_token: str | None) -> None:
    if event_ids:
        log.warning("%d events were taken by another claim after this relay's lease lapsed: left as they are",
                    len(event_ids))
        uow.counters.add(LEASE_LOST, len(event_ids))
        steps(uow, StepKind.LEASE_LOST, event_ids, now, worker, lease_token)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: base, 2*base, 4*base … capped; FAILED after `max_attempts`."""

    max_attempts: int = 5
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0

    def delay(self, attempts: int) -> timedelta:
        seconds = self.backoff_seconds * (2 ** max(attempts - 1, 0))
        return timedelta(seconds=min(seconds, self.max_backoff_seconds))

    def record_failure(self, uow: UnitOfWork, record: OutboxRecord, error: BaseException | str,
                       now: datetime, worker: str | None = None) -> OutboxStatus | None:
        """Count one more attempt with its error; the event is retried later or becomes FAILED: then
        it is a dead letter and the later events of its aggregate are parked behind it.
        None when the claim's lease was lost meanwhile (nothing recorded but that)."""
        attempts = record.attempts + 1
        message = (error if isinstance(error, str) else describe(error))[:ERROR_MAX_LENGTH]
        status = OutboxStatus.FAILED if attempts >= self.max_attempts else OutboxStatus.PENDING
        retry_at = now + self.delay(attempts)
        envelope = record.envelope
        outcome = uow.outbox.record_failure(record, attempts, message, status, retry_at, now)
        if outcome.lost:
            lease_lost(uow, [envelope.event_id], now, worker, record.lease_token)
            return None
        steps(uow, StepKind.ATTEMPT_FAILED, [envelope.event_id], now, worker, record.lease_token, attempt=attempts,
              error=message, next_attempt_at=None if status is OutboxStatus.FAILED else retry_at.isoformat())
        if status is OutboxStatus.FAILED:
            log.error("event %s %s FAILED after %d attempts: %s", envelope.event_id, envelope.event_type,
                      attempts, message)
            uow.dead_letters.record([DeadLetter(
                key=DeadLetter.event_key(envelope.event_id), source="outbox", error=message,
                payload=json.dumps(envelope.to_dict()), event_id=envelope.event_id, event_type=envelope.event_type,
                aggregate_type=envelope.aggregate_type, aggregate_id=envelope.aggregate_id)], now)
            steps(uow, StepKind.DEAD_LETTERED, [envelope.event_id], now, worker, attempts=attempts)
            steps(uow, StepKind.PARKED, outcome.parked, now, worker, behind=str(envelope.event_id))
        else:
            log.warning("event %s %s attempt %d failed: %s", envelope.event_id, envelope.event_type, attempts,
                        message)
        return status
