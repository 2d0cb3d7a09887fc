"""Broker mode: an event received from the broker goes to the same handlers as in polling mode."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from application.delivery import RetryPolicy
from application.dispatch import EventDispatcher
from application.envelope import EventEnvelope
from application.error_text import describe
from application.ports.clock import Clock
from application.ports.outbox import OutboxStatus
from application.ports.unit_of_work import StoreUnavailable, UowFactory


class DeliverReceivedEvent:
    """Dispatch; a failure counts as a delivery attempt on the event's outbox row, so the relay
    publishes it again after the backoff, and after the last attempt it is FAILED — exactly as in
    polling mode. Returns None when handled, else the event's new outbox status."""

    def __init__(self, dispatcher: EventDispatcher, uow: UowFactory, clock: Clock, policy: RetryPolicy,
                 group: str) -> None:
        self.dispatcher, self.uow, self.clock, self.policy, self.group = dispatcher, uow, clock, policy, group

    def confirm(self, event_ids: Sequence[UUID]) -> None:
        """Record that this consumer group handled these events (the end of their delivery)."""
        if event_ids:
            with self.uow() as uow:
                uow.outbox.mark_handled(event_ids, self.group, self.clock.now())
                uow.commit()

    def __call__(self, envelope: EventEnvelope) -> tuple[OutboxStatus, str] | None:
        try:
            self.dispatcher.dispatch(envelope)
            return None
        except StoreUnavailable:
            raise  # the database is away: no attempt counted, the batch is read again later
        except Exception as error:  # noqa: BLE001 - recorded on the outbox row, then reported
            message = describe(error)
            with self.uow() as uow:
                record = uow.outbox.get(envelope.event_id)
                if record is None or record.status is OutboxStatus.FAILED:
                    return OutboxStatus.FAILED, message  # nothing to retry from: dead-letter it
                status = self.policy.record_failure(uow, record, error, self.clock.now())
                uow.commit()
            return status, message
