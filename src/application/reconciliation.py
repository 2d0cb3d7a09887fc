"""End-to-end delivery accounting: an event is done once its handlers confirmed it, not when a broker
acknowledged it. Events published but not confirmed within the window are reported and re-driven.

A broker may acknowledge and still lose a record (a broker that lost its storage, a producer id
handed out twice, a topic deleted before anyone consumed it). The reconciler finds such events,
logs them and makes them PENDING again with the same `event_id`: the relay publishes them once
more and the handlers' `processed_events` keys make a second delivery harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from application.delivery import steps
from application.ports.clock import Clock
from application.ports.delivery_log import StepKind
from application.ports.unit_of_work import UowFactory

log = logging.getLogger(__name__)


class ReconcileDeliveries:
    def __init__(self, uow: UowFactory, clock: Clock, after_seconds: float, batch_size: int = 500) -> None:
        self.uow, self.clock, self.batch_size = uow, clock, batch_size
        self.window = timedelta(seconds=after_seconds)

    def overdue_before(self) -> datetime:
        """Events published before this moment and still unconfirmed are overdue."""
        return self.clock.now() - self.window

    def __call__(self) -> int:
        """Re-drive up to a batch of overdue events; returns how many."""
        before, now = self.overdue_before(), self.clock.now()
        with self.uow() as uow:
            overdue = uow.outbox.unhandled(before, self.batch_size)
            if not overdue:
                return 0
            note = (f"published but not handled within {self.window.total_seconds():g} s: "
                    f"re-driven at {now.isoformat()}")
            redriven = [r.envelope.event_id for r in overdue]
            uow.outbox.redrive(redriven, now, note)
            steps(uow, StepKind.REDRIVEN, redriven, now, "reconciler", note=note)
            uow.commit()
        oldest = overdue[0]
        log.warning("%d events were published but not handled within %g s (oldest %s %s, published %s): "
                    "re-driven with the same event ids", len(overdue), self.window.total_seconds(),
                    oldest.envelope.event_type, oldest.envelope.event_id,
                    oldest.published_at.isoformat() if oldest.published_at else "?")
        return len(overdue)
