"""A running SupplyTrace for acceptance tests: container, HTTP client, clock and worker control."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from dependency_injector import providers
from fastapi.testclient import TestClient

import time
import uuid

from adapters.inbound.api.app import create_app
from adapters.inbound.runtime import broker_consumer
from adapters.outbound.clock import FixedClock
from application.dispatch import ALL_EVENTS, Delivery, EventHandler
from application.ports.unit_of_work import UnitOfWork
from bootstrap.container import Container, build_container
from bootstrap.settings import EventMode, Settings
from tests.support.rabbitmq import remove_topology

PASSWORD = "demo-test-password"
# Argon2 verification costs ~0.1 s by design; every app of a test session shares the JWT secret,
# so a token obtained once through /auth/login stays valid for all of them.
_TOKENS: dict[str, str] = {}


class SwitchableFailure(EventHandler):
    """A handler that fails on demand: stands for a downstream system that is down."""

    name = "switchable_failure"
    subscribes_to = frozenset({ALL_EVENTS})
    failing = False

    def apply(self, uow: UnitOfWork, delivery: Delivery) -> None:
        if self.failing:
            raise RuntimeError("downstream system unavailable")


class RunningApp:
    def __init__(self, stack: str, database_url: str, **overrides: Any) -> None:
        self.stack = stack
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            demo_password=PASSWORD,
            outbox_max_attempts=5,
            outbox_backoff_seconds=1.0,
            **overrides,
        )
        self.clock = FixedClock(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
        self.container: Container = build_container(settings)
        self.container.clock.override(providers.Object(self.clock))
        self.failure = SwitchableFailure(self.clock)
        self.container.extra_handlers.add_args(self.failure)
        self.client = TestClient(create_app(self.container), raise_server_exceptions=False)
        self.consumer = broker_consumer(self.container)  # none in polling mode

    def token(self, role: str) -> str:
        if role not in _TOKENS:
            response = self.client.post("/auth/login", data={"username": role, "password": PASSWORD})
            assert response.status_code == 200, response.text
            _TOKENS[role] = response.json()["access_token"]
        return _TOKENS[role]

    def call(self, role: str | None, method: str, path: str, **kwargs: Any):
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.token(role)}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def run_worker(self):
        """What the embedded workers do between two polls: re-drive what was published but never
        handled, drain every due event to the handlers, fire the due fulfilment steps."""
        self.container.reconcile()()
        relay = self.container.relay()
        report = relay.drain()
        self.consume(report.published if getattr(relay, "publisher", None) is self.container.publisher() else 0)
        self.container.fulfilment_scheduler().run_once()
        return report

    def deliver(self, envelopes: list) -> None:
        """Hand events to the handlers again, through the configured transport."""
        outcomes = self.container.publisher().publish(envelopes)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        self.consume(len(envelopes))

    def consume(self, expected: int, timeout: float = 30.0) -> None:
        """Broker modes: let the consumer handle `expected` more messages."""
        if self.consumer is None or expected == 0:
            return
        target, deadline = self.consumer.handled + expected, time.monotonic() + timeout
        while self.consumer.handled < target:
            assert time.monotonic() < deadline, f"consumed {self.consumer.handled}, expected {target}"
            self.consumer.run_once(timeout=0.2)

    def close(self) -> None:
        self.client.close()
        if self.consumer is not None:
            declared = getattr(self.consumer, "connections", 0) + getattr(self.container.publisher(), "connections", 0)
            self.consumer.close()
            self.container.publisher().close()
            if settings_mode(self.container) == EventMode.RABBITMQ and declared:  # else nothing to remove
                remove_topology(self.container.config.rabbitmq_url(), self.container.rabbitmq_topology())
        if self.container.config.database_kind() != "memory":
            self.container.engine().dispose()


def rabbitmq_overrides(url: str, **extra: Any) -> dict[str, Any]:
    """RabbitMQ mode in the session's vhost, with names of its own (exchange, queues), short timeouts."""
    return {
        "event_mode": "rabbitmq",
        "rabbitmq_url": url,
        "rabbitmq_prefix": f"t{uuid.uuid4().hex[:12]}",
        "rabbitmq_confirm_timeout_seconds": 5.0,
        "rabbitmq_connect_timeout_seconds": 2.0,
        **extra,
    }


def settings_mode(container: Container) -> EventMode:
    return EventMode(container.config.event_mode())


@contextmanager
def running_app(stack: str, database_url: str, **overrides: Any) -> Iterator[RunningApp]:
    app = RunningApp(stack, database_url, **overrides)
    try:
        yield app
    finally:
        app.close()
