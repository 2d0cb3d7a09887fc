"""The audit trail: one append-only record per handled event."""

from __future__ import annotations

from collections.abc import Sequence

from application.audit_chain import changes_of, reason_of
from application.dispatch import ALL_EVENTS, Delivery, EventHandler
from application.pagination import Page, PageRequest
from application.ports.consumption import AuditEntry, AuditFilter
from application.ports.unit_of_work import UnitOfWork, UowFactory


class AuditTrailHandler(EventHandler):
    """One record per event, whatever its type: the payload as `details`, and its `changes` and `reason`
    (the convention every event follows, ADR 0026) in their own columns, covered by the hash chain."""

    name = "audit_trail"
    subscribes_to = frozenset({ALL_EVENTS})

    def apply_batch(self, uow: UnitOfWork, deliveries: Sequence[Delivery]) -> None:
        now = self.clock.now()
        uow.audit.append([
            AuditEntry(event_id=e.event_id, event_type=e.event_type, entity_type=e.aggregate_type,
                       entity_id=e.aggregate_id, actor=e.actor, correlation_id=e.correlation_id,
                       occurred_at=e.occurred_at, recorded_at=now, details=e.payload,
                       changes=changes_of(e.payload.get("changes")), reason=reason_of(e.payload.get("reason")))
            for e in (d.envelope for d in deliveries)
        ])


class AuditQueries:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

    def list(self, criteria: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        with self.uow().reading() as uow:
            return uow.audit.list(criteria, page)
