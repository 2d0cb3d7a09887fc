"""What a failed delivery does to its outbox event, whoever saw it fail (relay or broker consumer)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.error_text import describe
from application.ports.outbox import OutboxRecord, OutboxStatus
from application.ports.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

ERROR_MAX_LENGTH = 2000


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
                       now: datetime) -> OutboxStatus:
        """Count one more attempt with its error; the event is retried later or becomes FAILED."""
        attempts = record.attempts + 1
        message = (error if isinstance(error, str) else describe(error))[:ERROR_MAX_LENGTH]
        status = OutboxStatus.FAILED if attempts >= self.max_attempts else OutboxStatus.PENDING
        uow.outbox.record_failure(record.envelope.event_id, attempts, message, status, now + self.delay(attempts))
        envelope = record.envelope
        if status is OutboxStatus.FAILED:
            log.error("event %s %s FAILED after %d attempts: %s", envelope.event_id, envelope.event_type,
                      attempts, message)
        else:
            log.warning("event %s %s attempt %d failed: %s", envelope.event_id, envelope.event_type, attempts,
                        message)
        return status
