"""The audit trail: one append-only record per handled event."""

from __future__ import annotations

from application.dispatch import ALL_EVENTS, EventHandler
from application.envelope import EventEnvelope
from application.pagination import Page, PageRequest
from application.ports.consumption import AuditEntry, AuditFilter
from application.ports.unit_of_work import UnitOfWork
from application.ports.unit_of_work import UowFactory


class AuditTrailHandler(EventHandler):
    name = "audit_trail"
    subscribes_to = frozenset({ALL_EVENTS})

    def apply(self, uow: UnitOfWork, envelope: EventEnvelope) -> None:
        uow.audit.append(
            AuditEntry(
                event_id=envelope.event_id,
                event_type=envelope.event_type,
                entity_type=envelope.aggregate_type,
                entity_id=envelope.aggregate_id,
                actor=envelope.actor,
                correlation_id=envelope.correlation_id,
                occurred_at=envelope.occurred_at,
                recorded_at=self.clock.now(),
                details=envelope.payload,
            )
        )


class AuditQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        with self.uow().reading() as uow:
            return uow.audit.list(criteria, page)
