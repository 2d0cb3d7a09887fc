"""The relays: take due events from the outbox, deliver them, record the outcome."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from uuid import UUID

from application.delivery import RetryPolicy
from application.dispatch import AggregateGate, ApplyEvents
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.outbox import OutboxRecord, OutboxStatus
from application.ports.publisher import EventPublisher, NotAttempted, TransportUnavailable
from application.ports.unit_of_work import StoreUnavailable, UnitOfWork, UowFactory

__all__ = ["LocalDelivery", "OutboxRelay", "Relay", "RelayReport", "RetryPolicy"]

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


def settle(uow: UnitOfWork, batch: Sequence[OutboxRecord], outcomes: Sequence[Exception | None],
           policy: RetryPolicy, now: datetime, handled_by: str | None, leased: bool) -> RelayReport:
    """Record what a delivery attempt did to each claimed event, through the per-aggregate gate: a
    failure counts an attempt; an outage, or an earlier failure of the aggregate, counts none."""
    report, gate = RelayReport(claimed=len(batch)), AggregateGate()
    delivered: list[OutboxRecord] = []
    released: list[UUID] = []
    for record, error in zip(batch, outcomes, strict=True):
        envelope = record.envelope
        if gate.blocked(envelope) or isinstance(error, (*UNAVAILABLE, NotAttempted)):
            # not the event's fault, or an earlier event of its aggregate failed: no attempt counted
            released.append(envelope.event_id)
            report.unavailable += isinstance(error, UNAVAILABLE)
            report.deferred += not isinstance(error, UNAVAILABLE)
            gate.close(envelope)
        elif error is None:
            delivered.append(record)
        else:
            gate.close(envelope)
            report.errors.append(describe(error))
            if policy.record_failure(uow, record, error, now) is OutboxStatus.FAILED:
                report.failed += 1
            else:
                report.retried += 1
    if leased:
        uow.outbox.release(released)
    uow.outbox.mark_published(delivered, now, handled_by=handled_by)
    report.published = len(delivered)
    if report.unavailable:
        log.warning("event transport unavailable: %d events stay pending", report.unavailable)
    return report


class Relay(ABC):
    batch_size: int

    @abstractmethod
    def run_once(self) -> RelayReport:
        """One batch; returns what happened to it."""

    def drain(self, max_batches: int = 1000) -> RelayReport:
        """Run batches until nothing due is left (tests, the demo and the CLI's --once)."""
        total = RelayReport()
        for _ in range(max_batches):
            report = self.run_once()
            total.add(report)
            if report.claimed == 0 or report.unavailable:
                break
        return total


class LocalDelivery(Relay):
    """Polling mode: one transaction per batch claims the due events (held by row locks, no lease),
    runs every handler on them set-based, records their keys and the events the handlers record,
    archives what was handled and counts the failures, then commits it all at once. A crash
    anywhere rolls the whole batch back: it is taken again, never half-applied."""

    handled_by = "in-process"

    def __init__(self, uow: UowFactory, apply: ApplyEvents, clock: Clock, policy: RetryPolicy,
                 batch_size: int = 100) -> None:
        self.uow, self.apply, self.clock, self.policy, self.batch_size = uow, apply, clock, policy, batch_size

    def run_once(self) -> RelayReport:
        try:
            return self._deliver(isolated=False)
        except StoreUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - rolled back; the batch is taken again, event by event
            log.info("batch failed (%s): taking it again event by event", describe(error))
        return self._deliver(isolated=True)

    def _deliver(self, isolated: bool) -> RelayReport:
        with self.uow() as uow:
            batch = uow.outbox.claim(self.batch_size, self.clock.now())
            if not batch:
                return RelayReport()
            try:
                outcomes = self.apply(uow, [record.envelope for record in batch], isolated=isolated)
            except StoreUnavailable as error:  # rolled back: the batch stays as it was, no attempt counted
                log.warning("database unavailable while handling %d events: %s", len(batch), error)
                return RelayReport(claimed=len(batch), unavailable=len(batch))
            report = settle(uow, batch, outcomes, self.policy, self.clock.now(), self.handled_by, leased=False)
            uow.commit()
        return report


class OutboxRelay(Relay):
    """Broker mode: claims due events with a lease, publishes them outside any transaction (the
    lease is renewed meanwhile), then records the outcome; consumers confirm the handling later."""

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
        if not batch:
            return RelayReport()
        with LeaseKeeper(self.uow, self.clock, self.lease, [r.envelope.event_id for r in batch]):
            outcomes = self._publish(batch)
        with self.uow() as uow:
            report = settle(uow, batch, outcomes, self.policy, self.clock.now(), self.publisher.handled_on_publish,
                            leased=True)
            uow.commit()
        return report

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
