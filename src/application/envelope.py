"""The event envelope every event travels in, from the outbox to the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from domain.events import DomainEvent

from application.trace_context import valid_traceparent, valid_tracestate

SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Origin:
    """Who asked for a change and which request it belongs to."""

    actor: str = SYSTEM_ACTOR
    correlation_id: str = field(default_factory=lambda: str(uuid4()))
    traceparent: str | None = None  # W3C trace context of the request (application/trace_context.py)
    tracestate: str | None = None


@dataclass(frozen=True)
class EventEnvelope:
    event_id: UUID
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    actor: str
    correlation_id: str
    payload: dict[str, Any]
    traceparent: str | None = None
    tracestate: str | None = None

    @classmethod
    def wrap(cls, event: DomainEvent, origin: Origin) -> EventEnvelope:
        return cls(
            event_id=event.event_id,
            event_type=event.event_type,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            occurred_at=event.occurred_at,
            actor=origin.actor,
            correlation_id=origin.correlation_id,
            payload=event.payload(),
            traceparent=origin.traceparent,
            tracestate=origin.tracestate,
        )

    def origin(self) -> Origin:
        """The origin of events caused by this one: same correlation and trace, acted by the system."""
        return Origin(SYSTEM_ACTOR, self.correlation_id, self.traceparent, self.tracestate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
            **{k: v for k, v in (("traceparent", self.traceparent), ("tracestate", self.tracestate)) if v},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EventEnvelope:
        """Parse an envelope; raises ValueError/KeyError/TypeError on malformed input."""
        occurred_at = datetime.fromisoformat(data["occurred_at"])
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        payload = data["payload"]
        if not isinstance(payload, dict):
            raise TypeError("payload must be an object")
        if not isinstance(data["event_id"], str):
            raise TypeError("event_id must be a UUID string")
        return cls(
            event_id=UUID(data["event_id"]),
            event_type=str(data["event_type"]),
            aggregate_type=str(data["aggregate_type"]),
            aggregate_id=str(data["aggregate_id"]),
            occurred_at=occurred_at,
            actor=str(data["actor"]),
            correlation_id=str(data["correlation_id"]),
            payload=payload,
            traceparent=valid_traceparent(data.get("traceparent")),
            tracestate=valid_tracestate(data.get("tracestate")),
        )
