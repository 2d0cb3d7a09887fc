"""Inspecting the outbox and replaying FAILED events (admin)."""

from __future__ import annotations

import logging
from uuid import UUID

from domain.errors import Conflict, NotFound

from application.pagination import Page, PageRequest
from application.ports.clock import Clock
from application.ports.outbox import OutboxRecord, OutboxStatus
from application.ports.unit_of_work import UowFactory

log = logging.getLogger(__name__)


class OutboxQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, status: OutboxStatus | None, page: PageRequest) -> Page[OutboxRecord]:
        with self.uow().reading() as uow:
            return uow.outbox.list(status, page)


class ReplayFailedEvent:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock

    def __call__(self, event_id: UUID, actor: str) -> OutboxRecord:
        with self.uow() as uow:
            record = uow.outbox.get(event_id)
            if record is None:
                raise NotFound("event", event_id)
            if record.status is not OutboxStatus.FAILED:
                raise Conflict(f"event {event_id} is {record.status.value}; only FAILED events are replayed")
            uow.outbox.requeue(event_id, self.clock.now())
            replayed = uow.outbox.get(event_id)
            uow.commit()
        log.info("event %s replayed by %s", event_id, actor)
        assert replayed is not None
        return replayed
