"""Polling mode's publisher: hands each event straight to the handlers, in this process."""

from __future__ import annotations

from collections.abc import Sequence

from application.dispatch import EventDispatcher
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher


class InProcessPublisher(EventPublisher):
    handled_on_publish = "in-process"

    def __init__(self, dispatcher: EventDispatcher) -> None:
        self.dispatcher = dispatcher

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        return self.dispatcher.dispatch_batch(envelopes)
