"""Broker mode: a batch received from the broker goes through the same set-based path as polling mode."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from application.delivery import RetryPolicy, steps
from application.dispatch import ApplyEvents
from application.envelope import EventEnvelope
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.delivery_log import StepKind
from application.ports.outbox import OutboxStatus
from application.ports.publisher import NotAttempted
from application.ports.unit_of_work import StoreUnavailable, UowFactory

log = logging.getLogger(__name__)

HELD_BACK_NOTE = "received before an earlier event of its aggregate was handled: delivered again after it"

Outcome = tuple[OutboxStatus, str] | None


class DeliverReceivedEvents:
    """Apply a received batch in one transaction, which also records the outcome on the outbox:

    - handled events are confirmed for this consumer group (and leave the hot outbox);
    - a failure counts as a delivery attempt on the event's outbox row, so the relay publishes it
      again after the backoff, and after the last attempt it is FAILED, exactly as in polling mode;
    - an event that an earlier, not yet handled event of its aggregate must precede is not applied:
      it is made PENDING again, and the relay delivers it after that one (per-aggregate order).

    Returns one outcome per envelope: None when handled (or left to the relay), else the event's new
    outbox status and the error. StoreUnavailable is raised: nothing was recorded, read the batch again.
    """

    def __init__(self, apply: ApplyEvents, uow: UowFactory, clock: Clock, policy: RetryPolicy, group: str) -> None:
        self.apply, self.uow, self.clock, self.policy, self.group = apply, uow, clock, policy, group

    def __call__(self, envelopes: Sequence[EventEnvelope]) -> list[Outcome]:
        try:
            return self._deliver(envelopes, isolated=False)
        except StoreUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 - rolled back; taken again event by event
            log.info("received batch failed (%s): taking it again event by event", describe(error))
        return self._deliver(envelopes, isolated=True)

    def _deliver(self, envelopes: Sequence[EventEnvelope], isolated: bool) -> list[Outcome]:
        results: dict[object, Outcome] = {}
        with self.uow() as uow:
            held = uow.outbox.held_back(envelopes)
            ready = [e for e in envelopes if e.event_id not in held]
            outcomes = self.apply(uow, ready, isolated=isolated)
            now = self.clock.now()
            handled, again = [], list(held)
            for envelope, error in zip(ready, outcomes, strict=True):
                if error is None:
                    handled.append(envelope.event_id)
                elif isinstance(error, NotAttempted):
                    again.append(envelope.event_id)
                else:
                    record = uow.outbox.get(envelope.event_id)
                    if record is None or record.status is OutboxStatus.FAILED:
                        results[envelope.event_id] = (OutboxStatus.FAILED, describe(error))  # dead-letter it
                    else:
                        status = self.policy.record_failure(uow, record, error, now, self.group)
                        results[envelope.event_id] = (status or record.status, describe(error))
            uow.outbox.mark_handled(handled, self.group, now)
            uow.outbox.redrive(again, now, HELD_BACK_NOTE)
            steps(uow, StepKind.REDRIVEN, again, now, self.group, note=HELD_BACK_NOTE)
            uow.commit()
        waiting = [e for e in envelopes if e.event_id in held]  # left to the relay: held back, for the metrics
        self.apply.observe([*ready, *waiting], [*outcomes, *[NotAttempted(HELD_BACK_NOTE)] * len(waiting)],
                           self.clock.now())
        return [results.get(e.event_id) for e in envelopes]
