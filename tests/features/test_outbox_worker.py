from collections.abc import Sequence

from dependency_injector import providers
from pytest_bdd import given, parsers, scenarios, when

from application.envelope import EventEnvelope
from application.ports.publisher import EventPublisher
from application.relay import OutboxRelay
from tests.support.harness import RunningApp

scenarios("outbox_worker.feature")


class BlackHole(EventPublisher):
    """A transport that acknowledges every event and delivers none (a broker that lost its storage)."""

    def publish(self, envelopes: Sequence[EventEnvelope]) -> list[Exception | None]:
        return [None] * len(envelopes)


@given("the event transport acknowledges events but delivers none")
def transport_loses(app: RunningApp) -> None:
    c = app.container
    lossy = OutboxRelay(c.uow, BlackHole(), c.clock(), c.retry_policy())
    c.relay.override(providers.Object(lossy))


@when("the event transport delivers again")
def transport_recovers(app: RunningApp) -> None:
    app.container.relay.reset_override()


@when(parsers.parse("{minutes:d} minutes pass"))
def minutes_pass(app: RunningApp, minutes: int) -> None:
    app.clock.advance(60 * minutes)
