"""The outbox relay: claims due events, hands them to the publisher, records the outcome."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field, fields
from datetime import timedelta
from uuid import UUID

from application.delivery import RetryPolicy
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.outbox import OutboxRecord, OutboxStatus
from application.ports.publisher import EventPublisher, NotAttempted, TransportUnavailable
from application.ports.unit_of_work import StoreUnavailable, UowFactory

__all__ = ["OutboxRelay", "RelayReport", "RetryPolicy"]

log = logging.getLogger(__name__)

UNAVAILABLE = (TransportUnavailable, StoreUnavailable)  # the transport or the handlers' store is away


@dataclass
class RelayReport:
    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    unavailable: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: RelayReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


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
        """One batch: claim, publish (renewing the lease meanwhile), record. Returns what happened."""
        now = self.clock.now()
        with self.uow() as uow:
            batch = uow.outbox.claim(self.batch_size, now, now + self.lease)
            uow.commit()
        report = RelayReport(claimed=len(batch))
        if batch:
            with LeaseKeeper(self.uow, self.clock, self.lease, [r.envelope.event_id for r in batch]):
                outcomes = self._publish(batch)
            self._settle(batch, outcomes, report)
        return report

    def _settle(self, batch: list[OutboxRecord], outcomes: list[Exception | None], report: RelayReport) -> None:
        with self.uow() as uow:
            blocked: set[tuple[str, str]] = set()
            published: list[OutboxRecord] = []
            now = self.clock.now()
            for record, error in zip(batch, outcomes, strict=True):
                key = (record.envelope.aggregate_type, record.envelope.aggregate_id)
                if key in blocked or isinstance(error, (*UNAVAILABLE, NotAttempted)):
                    # not the event's fault, or an earlier event of its aggregate failed: no attempt counted
                    uow.outbox.release(record.envelope.event_id)
                    report.unavailable += isinstance(error, UNAVAILABLE)
                    report.deferred += not isinstance(error, UNAVAILABLE)
                    blocked.add(key)
                elif error is None:
                    published.append(record)
                else:
                    blocked.add(key)
                    report.errors.append(describe(error))
                    if self.policy.record_failure(uow, record, error, now) is OutboxStatus.FAILED:
                        report.failed += 1
                    else:
                        report.retried += 1
            uow.outbox.mark_published(published, now, handled_by=self.publisher.handled_on_publish)
            report.published = len(published)
            uow.commit()
        if report.unavailable:
            log.warning("event transport unavailable: %d events stay pending", report.unavailable)

    def drain(self, max_batches: int = 1000) -> RelayReport:
        """Run batches until nothing due is left (tests, the demo and the CLI's --once)."""
        total = RelayReport()
        for _ in range(max_batches):
            report = self.run_once()
            total.add(report)
            if report.claimed == 0 or report.unavailable:
                break
        return total

    def _publish(self, batch: list[OutboxRecord]) -> list[Exception | None]:
        try:
            return self.publisher.publish([record.envelope for record in batch])
        except Exception as error:  # noqa: BLE001 - the whole batch failed: every event records it
            return [error] * len(batch)


class LeaseKeeper:
    """Renews a claimed batch's lease every third of the lease while the relay works on it, so the
    lease can be short: a relay that dies lets its events go within one lease, a live one keeps them."""

    def __init__(self, uow: UowFactory, clock: Clock, lease: timedelta, event_ids: list[UUID]) -> None:
        self.uow, self.clock, self.lease, self.event_ids = uow, clock, lease, event_ids
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="supplytrace-lease", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stopping.wait(self.lease.total_seconds() / 3):
            try:
                with self.uow() as uow:
                    uow.outbox.extend_lease(self.event_ids, self.clock.now() + self.lease)
                    uow.commit()
            except Exception as error:  # noqa: BLE001 - the lease may lapse: another relay retakes the events
                log.warning("lease renewal failed for %d events: %s", len(self.event_ids), error)
