"""RabbitMQ for the tests: a virtual host of its own per test session (rabbitmqctl), removed at the end;
each app its own prefix (exchange and queues) inside it, deleted when the app closes.

Without rabbitmqctl (not root, not installed) the session uses the default virtual host: the unique
prefixes still keep runs apart. A RabbitMQ that does not answer skips the tests that need it, and fails
them under SUPPLYTRACE_TEST_REQUIRE_SERVICES=1 (or CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pika
import pytest

from adapters.outbound.rabbitmq.connection import CONNECTION_ERRORS, connect
from adapters.outbound.rabbitmq.topology import Topology

HOST, PORT, USER, PASSWORD = "127.0.0.1", 5672, "guest", "guest"
REQUIRED = os.environ.get("SUPPLYTRACE_TEST_REQUIRE_SERVICES") == "1" or bool(os.environ.get("CI"))


def url_for(vhost: str, host: str = HOST, port: int = PORT) -> str:
    return f"amqp://{USER}:{PASSWORD}@{host}:{port}/{quote(vhost, safe='')}"


@dataclass
class TestVhost:
    __test__ = False
    name: str
    url: str
    created: bool
    host: str = HOST
    port: int = PORT

    def url_via(self, host: str, port: int) -> str:
        return url_for(self.name, host, port)


def _ctl(*args: str) -> bool:
    try:
        return subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class RabbitUnavailable(RuntimeError):
    pass


def create_vhost() -> TestVhost:
    """A virtual host of its own (the default one, without rabbitmqctl); raises RabbitUnavailable."""
    name = f"supplytrace_test_{uuid.uuid4().hex[:10]}"
    created = bool(shutil.which("rabbitmqctl")) and _ctl("add_vhost", name) and _ctl(
        "set_permissions", "-p", name, USER, ".*", ".*", ".*")
    vhost = TestVhost(name, url_for(name), created) if created else TestVhost("/", url_for("/"), False)
    try:
        connect(vhost.url, "supplytrace-tests", 0, 2.0).close()
    except Exception as error:  # noqa: BLE001 - TransportUnavailable, refused permissions
        delete_vhost(vhost)
        raise RabbitUnavailable(f"RabbitMQ is required for these tests ({HOST}:{PORT}, {USER}): {error}") from error
    return vhost


def delete_vhost(vhost: TestVhost) -> None:
    if vhost.created:
        _ctl("delete_vhost", vhost.name)


def rabbitmq_vhost() -> Iterator[TestVhost]:
    try:
        vhost = create_vhost()
    except RabbitUnavailable as error:
        if REQUIRED:
            pytest.fail(str(error))
        pytest.skip(str(error))
    try:
        yield vhost
    finally:
        delete_vhost(vhost)


def remove_topology(url: str, topology: Topology) -> None:
    """A scenario's exchanges and queues go with it (the vhost goes at the end of the session)."""
    try:
        connection = connect(url, "supplytrace-tests", 0, 2.0)
    except Exception:  # noqa: BLE001 - an outage test may have cut the broker off: the vhost goes anyway
        return
    try:
        channel = connection.channel()
        for queue in [*topology.queues, topology.dead_letter_queue]:
            channel.queue_delete(queue)
        channel.exchange_delete(topology.exchange)
        channel.exchange_delete(topology.dead_letter_exchange)
    except CONNECTION_ERRORS:
        pass
    finally:
        if connection.is_open:
            connection.close()


def read_queue(url: str, queue: str, expected: int | None = None, timeout: float = 5.0,
               idle: float = 0.5) -> list[tuple]:
    """Take the messages of `queue` (a consumer of its own, auto-ack: basic.get is refused on a quorum
    queue with a single active consumer): (method, properties, body) each. Stops at `expected`, or
    after `idle` seconds without news."""
    import time

    connection = connect(url, "supplytrace-tests", 0, 2.0)
    try:
        channel = connection.channel()
        messages: list[tuple] = []
        channel.basic_consume(queue, lambda _ch, *message: messages.append(message), auto_ack=True)
        deadline, last = time.monotonic() + timeout, time.monotonic()
        while time.monotonic() < deadline:
            if expected is not None and len(messages) >= expected:
                break
            count = len(messages)
            connection.process_data_events(time_limit=0.05)
            if len(messages) > count:
                last = time.monotonic()
            elif expected is None and time.monotonic() - last > idle:
                break
        return messages
    finally:
        connection.close()


__all__ = ["RabbitUnavailable", "TestVhost", "create_vhost", "delete_vhost", "pika", "rabbitmq_vhost", "read_queue", "remove_topology", "url_for"]
