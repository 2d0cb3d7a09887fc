"""The outbox relay: claims due events, hands them to the publisher, records the outcome."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from application.ports.clock import Clock
from application.ports.outbox import OutboxRecord, OutboxStatus
from application.ports.publisher import EventPublisher
from application.ports.unit_of_work import UowFactory

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


@dataclass
class RelayReport:
    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)


class OutboxRelay:
    def __init__(
        self,
        uow: UowFactory,
        publisher: EventPublisher,
        clock: Clock,
        policy: RetryPolicy,
        batch_size: int = 100,
        lease_seconds: float = 60.0,
    ) -> None:
        self.uow, self.publisher, self.clock, self.policy = uow, publisher, clock, policy
        self.batch_size, self.lease = batch_size, timedelta(seconds=lease_seconds)

    def run_once(self) -> RelayReport:
        """One batch: claim, publish, record. Returns what happened."""
        now = self.clock.now()
        with self.uow() as uow:
            batch = uow.outbox.claim(self.batch_size, now, now + self.lease)
            uow.commit()
        report = RelayReport(claimed=len(batch))
        if not batch:
            return report
        outcomes = self._publish(batch)
        with self.uow() as uow:
            blocked: set[tuple[str, str]] = set()
            published: list[UUID] = []
            done = self.clock.now()
            for record, error in zip(batch, outcomes, strict=True):
                key = (record.envelope.aggregate_type, record.envelope.aggregate_id)
                if key in blocked:
                    # an earlier event of this aggregate failed: keep its order, do not count a try
                    uow.outbox.release(record.envelope.event_id)
                    report.deferred += 1
                elif error is None:
                    published.append(record.envelope.event_id)
                else:
                    blocked.add(key)
                    self._record_failure(uow, record, error, done, report)
            uow.outbox.mark_published(published, done)
            report.published = len(published)
            uow.commit()
        return report

    def drain(self, max_batches: int = 1000) -> RelayReport:
        """Run batches until nothing due is left (tests, the demo and the CLI's --once)."""
        total = RelayReport()
        for _ in range(max_batches):
            report = self.run_once()
            for name in ("claimed", "published", "retried", "failed", "deferred"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.errors += report.errors
            if report.claimed == 0:
                break
        return total

    def _publish(self, batch: list[OutboxRecord]) -> list[Exception | None]:
        try:
            return self.publisher.publish([record.envelope for record in batch])
        except Exception as error:  # noqa: BLE001 - the whole batch failed: every event records it
            return [error] * len(batch)

    def _record_failure(self, uow, record: OutboxRecord, error: Exception, now: datetime, report: RelayReport) -> None:
        attempts = record.attempts + 1
        message = f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]
        status = OutboxStatus.FAILED if attempts >= self.policy.max_attempts else OutboxStatus.PENDING
        uow.outbox.record_failure(record.envelope.event_id, attempts, message, status, now + self.policy.delay(attempts))
        report.errors.append(message)
        if status is OutboxStatus.FAILED:
            report.failed += 1
            log.error("event %s %s FAILED after %d attempts: %s", record.envelope.event_id,
                      record.envelope.event_type, attempts, message)
        else:
            report.retried += 1
            log.warning("event %s %s attempt %d failed: %s", record.envelope.event_id,
                        record.envelope.event_type, attempts, message)
