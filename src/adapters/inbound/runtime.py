"""What the CLI starts: schema checks and the workers each event mode needs."""

from __future__ import annotations

from typing import Any

from adapters.inbound.broker_consumer import BrokerConsumer
from adapters.inbound.kafka_consumer import KafkaEventConsumer
from adapters.inbound.rabbitmq_consumer import RabbitEventConsumer
from adapters.inbound.worker import RelayLoop, reminder_loop, retention_loop, scorecard_loop
from adapters.outbound.metrics import rabbitmq_queue_depth
from adapters.outbound.sqlalchemy import migrate
from bootstrap.container import Container
from bootstrap.settings import EventMode


class SchemaOutOfDate(RuntimeError):
    pass


def prepare_database(container: Container, auto_migrate: bool) -> None:
    """SQLite files are migrated on start; other databases must already be at head (`db upgrade`)."""
    kind = container.config.database_kind()
    if kind == "memory":
        return
    if auto_migrate or kind == "sqlite":
        migrate.upgrade(container.engine())
        return
    check_schema(container)


def check_schema(container: Container) -> None:
    """Raise SchemaOutOfDate unless the database is at the code's head revision (memory: always)."""
    if container.config.database_kind() == "memory":
        return
    engine = container.engine()
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        raise SchemaOutOfDate(f"database schema is at {current}, code expects {head}: run `supplytrace db upgrade`")


def serve_metrics(container: Container, port: int | None) -> None:
    """`--metrics-port` (else SUPPLYTRACE_METRICS_PORT): /metrics of this worker process on every
    interface, from a daemon thread; none of either, or metrics off: no server."""
    port = port or container.config.metrics_port()
    if port and container.config.metrics_enabled():
        from prometheus_client import start_http_server

        start_http_server(port, registry=container.metrics_registry())


def relay_loop(container: Container) -> RelayLoop:
    return RelayLoop(container.relay(), container.config.worker_poll_interval_seconds(), name="relay",
                     scheduler=container.fulfilment_scheduler(), reconcile=container.reconcile(),
                     wakeup=container.wakeup())


def kafka_consumer(container: Container) -> KafkaEventConsumer:
    config = container.config
    return KafkaEventConsumer(
        container.deliver_received(),
        record_dead_letters=container.record_dead_letters(),
        bootstrap_servers=config.kafka_bootstrap_servers(),
        topics=container.consumer_topics(),
        group_id=config.kafka_consumer_group(),
        session_timeout_ms=config.kafka_session_timeout_ms(),
        batch_size=config.kafka_consumer_batch_size(),
        fetch_wait_ms=config.kafka_consumer_fetch_wait_ms(),
        metrics=container.metrics(),
    )


def rabbitmq_consumer(container: Container) -> RabbitEventConsumer:
    config = container.config
    return RabbitEventConsumer(
        container.deliver_received(),
        record_dead_letters=container.record_dead_letters(),
        url=config.rabbitmq_url(),
        topology=container.rabbitmq_topology(),
        prefetch=config.rabbitmq_prefetch(),
        batch_size=config.rabbitmq_consumer_batch_size(),
        heartbeat_seconds=config.rabbitmq_heartbeat_seconds(),
        connect_timeout_seconds=config.rabbitmq_connect_timeout_seconds(),
        confirm_timeout_seconds=config.rabbitmq_confirm_timeout_seconds(),
        queue_depth=rabbitmq_queue_depth if config.metrics_enabled() else None,
    )


def broker_consumer(container: Container) -> BrokerConsumer | None:
    """The consumer of the event mode's broker (none in polling mode)."""
    mode = container.config.event_mode()
    if mode == EventMode.KAFKA:
        return kafka_consumer(container)
    if mode == EventMode.RABBITMQ:
        return rabbitmq_consumer(container)
    return None


def background_workers(container: Container) -> list[Any]:
    """The loops `serve` and `worker` run: the relay, in a broker mode a consumer too, the
    retention purge, the reminder job and the scorecard's month unless their SUPPLYTRACE_…_EVERY_SECONDS is 0."""
    workers: list[Any] = [relay_loop(container)]
    consumer = broker_consumer(container)
    if consumer is not None:
        workers.append(consumer)
    config = container.config
    if config.retention_every_seconds() > 0:
        workers.append(retention_loop(container.purge_handled_events(), config.retention_every_seconds()))
    if config.reminders_every_seconds() > 0:
        workers.append(reminder_loop(container.run_reminders(), config.reminders_every_seconds()))
    if config.scorecard_every_seconds() > 0:
        workers.append(scorecard_loop(container.compute_scores(), config.scorecard_every_seconds()))
    return workers
