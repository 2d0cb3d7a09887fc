"""The relays: take due events from the outbox, deliver them, record the outcome."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from application.delivery import RetryPolicy, lease_lost, record_claim, steps
from application.dispatch import AggregateGate, ApplyEvents
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.delivery_log import StepKind
from application.ports.metrics import NO_METRICS, DeliveryMetrics
from application.ports.outbox import Claim, OutboxRecord, OutboxStatus
from application.ports.publisher import EventPublisher, NotAttempted, Published, TransportUnavailable
from application.ports.tracing import NO_TRACER, Tracer
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
    lease_lost: int = 0
    errors: list[str] = field(default_factory=list)
    published_types: Counter[str] = field(default_factory=Counter)  # published events by type (metrics)

    def add(self, other: RelayReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


Outcome = Exception | Published | None  # what delivering one claimed event did: None or Published = delivered


def settle(uow: UnitOfWork, claim: Claim, outcomes: Sequence[Outcome], policy: RetryPolicy, now: datetime,
           handled_by: str | None, leased: bool, worker: str) -> RelayReport:
    """Record what a delivery attempt did to each claimed event, through the per-aggregate gate: a
    failure counts an attempt; an outage, or an earlier failure of the aggregate, counts none.
    Under a lease, a completion whose lease another claim took meanwhile changes nothing (the fence)."""
    batch = claim.records
    report, gate = RelayReport(claimed=len(batch)), AggregateGate()
    delivered, released, lost = [], [], []
    for record, outcome in zip(batch, outcomes, strict=True):
        envelope = record.envelope
        if gate.blocked(envelope) or isinstance(outcome, (*UNAVAILABLE, NotAttempted)):
            # not the event's fault, or an earlier event of its aggregate failed: no attempt counted
            released.append(record)
            report.unavailable += isinstance(outcome, UNAVAILABLE)
            report.deferred += not isinstance(outcome, UNAVAILABLE)
            gate.close(envelope)
        elif not isinstance(outcome, Exception):
            delivered.append((record, outcome))
        else:
            gate.close(envelope)
            report.errors.append(describe(outcome))
            status = policy.record_failure(uow, record, outcome, now, worker)  # records a lost lease itself
            report.failed += status is OutboxStatus.FAILED
            report.retried += status is OutboxStatus.PENDING
            report.lease_lost += status is None
    lost = uow.outbox.release(released) if leased else []
    not_marked = set(uow.outbox.mark_published([record for record, _ in delivered], now, handled_by=handled_by))
    lost += not_marked
    lease_lost(uow, lost, now, worker, claim.lease_token)
    report.lease_lost += len(lost)
    for record, published in delivered:
        if isinstance(published, Published) and record.envelope.event_id not in not_marked:
            steps(uow, StepKind.PUBLISHED, [record.envelope.event_id], now, worker, claim.lease_token,
                  topic=published.topic, partition=published.partition, offset=published.offset)
    report.published_types.update(record.envelope.event_type for record, _ in delivered
                                  if record.envelope.event_id not in not_marked)
    report.published = len(delivered) - len(not_marked)
    if report.unavailable:
        log.warning("event transport unavailable: %d events stay pending", report.unavailable)
    return report


class Relay(ABC):
    batch_size: int
    metrics: DeliveryMetrics = NO_METRICS

    def observe(self, report: RelayReport) -> None:
        """After the batch's outcome committed: what it did, to the metrics."""
        if report.claimed:
            self.metrics.batch_claimed(report.claimed)
            self.metrics.published(report.published_types)
            if report.lease_lost:
                self.metrics.lease_lost(report.lease_lost)

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
                 batch_size: int = 100, worker: str = "relay", metrics: DeliveryMetrics = NO_METRICS) -> None:
        self.uow, self.apply, self.clock, self.policy, self.batch_size = uow, apply, clock, policy, batch_size
        self.worker, self.metrics = worker, metrics

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
            now = self.clock.now()
            claim = uow.outbox.claim(self.batch_size, now)
            batch = claim.records
            record_claim(uow, claim, now, self.worker)
            if not batch:
                if claim.parked:
                    uow.commit()
                return RelayReport()
            envelopes = [record.envelope for record in batch]
            try:
                with self.apply.tracer.spans("relay", envelopes, worker=self.worker):
                    outcomes = self.apply(uow, envelopes, isolated=isolated)
            except StoreUnavailable as error:  # rolled back: the batch stays as it was, no attempt counted
                log.warning("database unavailable while handling %d events: %s", len(batch), error)
                return RelayReport(claimed=len(batch), unavailable=len(batch))
            report = settle(uow, claim, outcomes, self.policy, self.clock.now(), self.handled_by, leased=False,
                            worker=self.worker)
            uow.commit()
        self.observe(report)
        self.apply.observe([record.envelope for record in batch], outcomes, self.clock.now())
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
        worker: str = "relay",
        metrics: DeliveryMetrics = NO_METRICS,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self.uow, self.publisher, self.clock, self.policy, self.tracer = uow, publisher, clock, policy, tracer
        self.batch_size, self.lease, self.worker = batch_size, timedelta(seconds=lease_seconds), worker
        self.metrics = metrics

    def run_once(self) -> RelayReport:
        """One batch: claim, publish (renewing the lease meanwhile), record. Returns what happened."""
        now = self.clock.now()
        with self.uow() as uow:
            claim = uow.outbox.claim(self.batch_size, now, now + self.lease)
            record_claim(uow, claim, now, self.worker)
            uow.commit()
        batch = claim.records
        if not batch:
            return RelayReport()
        with LeaseKeeper(self.uow, self.clock, self.lease, claim):
            outcomes = self._publish(batch)
        with self.uow() as uow:
            report = settle(uow, claim, outcomes, self.policy, self.clock.now(), self.publisher.handled_on_publish,
                            leased=True, worker=self.worker)
            uow.commit()
        self.observe(report)
        return report

    def _publish(self, batch: list[OutboxRecord]) -> list[Outcome]:
        try:
            envelopes = [record.envelope for record in batch]
            with self.tracer.spans("publish", envelopes):
                return self.publisher.publish(envelopes)
        except Exception as error:  # noqa: BLE001 - the whole batch failed: every event records it
            return [error] * len(batch)


class LeaseKeeper:
    """Renews a claimed batch's lease every third of the lease while the relay works on it, so the
    lease can be short: a relay that dies lets its events go within one lease, a live one keeps them."""

    def __init__(self, uow: UowFactory, clock: Clock, lease: timedelta, claim: Claim) -> None:
        self.uow, self.clock, self.lease, self.claim = uow, clock, lease, claim
        self.event_ids = [r.envelope.event_id for r in claim.records]
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
                    uow.outbox.extend_lease(self.event_ids, self.claim.lease_token, self.clock.now() + self.lease)
                    uow.commit()
            except Exception as error:  # noqa: BLE001 - the lease may lapse: another relay retakes the events
                log.warning("lease renewal failed for %d events: %s", len(self.event_ids), error)
