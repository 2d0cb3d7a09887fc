"""Polling mode's publisher: hands each event straight to the handlers, in this process."""

from __future__ import annotations

from collections.abc import Sequence

from application.dispatch import EventDispatcher
from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher, NotAttempted


class InProcessPublisher(EventPublisher):
    def __init__(self, dispatcher: EventDispatcher) -> None:
        self.dispatcher = dispatcher

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        outcomes: list[Exception | None] = []
        failed: set[tuple[str, str]] = set()
        for envelope in envelopes:
            key = (envelope.aggregate_type, envelope.aggregate_id)
            if key in failed:
                outcomes.append(NotAttempted(f"an earlier event of {key[0]} {key[1]} failed"))
                continue
            try:
                self.dispatcher.dispatch(envelope)
                outcomes.append(None)
            except Exception as error:  # noqa: BLE001 - reported to the relay, which records it
                failed.add(key)
                outcomes.append(error)
        return outcomes
