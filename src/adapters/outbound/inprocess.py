"""Polling mode's publisher: hands events straight to the handlers, in this process, in one transaction
(a re-delivery; the relay itself applies its batches in its claim transaction, see LocalDelivery)."""

from __future__ import annotations

from collections.abc import Sequence

from application.dispatch import ApplyEvents
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher
from application.ports.unit_of_work import UowFactory


class InProcessPublisher(EventPublisher):
    handled_on_publish = "in-process"

    def __init__(self, apply: ApplyEvents, uow: UowFactory) -> None:
        self.apply, self.uow = apply, uow

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        with self.uow() as uow:
            outcomes = self.apply(uow, envelopes)
            uow.commit()
        return outcomes
