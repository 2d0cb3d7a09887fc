"""What the delivery core tells an observer (metrics), after each step it commits.

The core calls these methods; an adapter turns them into Prometheus metrics
(adapters/outbound/metrics.py). The default does nothing, so the core never depends on a metrics
library and costs nothing when metrics are off (SUPPLYTRACE_METRICS_ENABLED=false). Calls come after
the transaction committed, so a rolled-back batch is not counted twice; only handler durations are
observed as they run (time spent is spent, committed or not).
"""

from __future__ import annotations

from collections.abc import Mapping


class Outcome:
    """The `outcome` label of a handled event, per handler."""

    OK = "ok"  # applied now, or already applied before (its idempotency key was there)
    FAILED = "failed"  # the handler raised: an attempt is counted on the event
    HELD_BACK = "held_back"  # not attempted: an earlier event of its aggregate failed or is still pending
    UNHANDLED = "unhandled"  # no event class for its type, or its payload does not fit: no handler ran


class DeliveryMetrics:
    """The no-op observer: every method is a hook an adapter overrides."""

    def batch_claimed(self, size: int) -> None:
        """A relay claimed a batch of `size` (> 0) events."""

    def published(self, event_types: Mapping[str, int]) -> None:
        """Events delivered by a relay (polling: handed to the handlers; Kafka: acknowledged by the broker)."""

    def handled(self, handler: str, outcome: str, count: int = 1) -> None:
        """`count` events reached `handler` with this outcome (`Outcome`)."""

    def handler_duration(self, handler: str, seconds: float) -> None:
        """One call of a handler: a whole batch on the fast path, one event when isolated."""

    def commit_to_handled(self, seconds: float) -> None:
        """One event handled by every handler, `seconds` after its commit (the envelope's occurred_at)."""

    def lease_lost(self, count: int) -> None:
        """Completions refused by the fence: another relay had taken the events after this one's lease lapsed."""

    def consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Records not yet consumed, per assigned (topic, partition): the whole current assignment."""


NO_METRICS = DeliveryMetrics()
