"""The dependency-injector container: configuration selects the adapters, the core never knows."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from dependency_injector import containers, providers

from application.approval import ChangeApproval, RaiseReviewRequired, RequestApprovalChange
from application.audit import AuditQueries
from application.audit_chain import VerifyAuditLog
from application.catalog import REGISTRY
from application.certificates import AddCertificate, CertificateQueries, UpdateCertificate, WithdrawCertificate
from application.receipts import ReceiptQueries, RecordReceipt
from application.scorecard import ComputeMonthlyScores, ScorecardQueries
from application.consumption import DeliverReceivedEvents
from application.delivery import RetryPolicy
from application.dispatch import ApplyEvents
from application.inventories import (
    AddInventoryLine,
    CreateInventory,
    DeleteInventory,
    InventoryQueries,
    RebuildInventoryProjection,
)
from application.fulfilment import FulfilmentScheduler
from application.kpi import KpiQuery, OutboxBacklogQuery
from application.nonconformities import (
    CloseNonConformity, MoveAction, MoveNonConformity, NonConformityQueries, PlanAction, RaiseNonConformity,
    UpdateNonConformity,
)
from application.orders import (
    CancelOrder,
    ChangeItemStatus,
    ChangeOrderStatus,
    OrderQueries,
    PlaceOrder,
    UpdateOrder,
)
from application.outbox_admin import EventTimeline, OutboxQueries, RecordDeadLetters, ReplayEvents
from application.ports.security import UserAccount
from application.reconciliation import ReconcileDeliveries
from application.registry import HandlerOptions
from application.relay import LocalDelivery, OutboxRelay
from application.idempotency import IdempotencyKeys
from application.reminders import RunReminders
from application.retention import PurgeHandledEvents
from application.security import LOGIN_CLIENT, LOGIN_FAILURES, Authenticate, Logout, VerifyToken
from application.suppliers import CreateSupplier, SupplierQueries, UpdateCertification

from adapters.outbound.clock import SystemClock
from adapters.outbound.inprocess import InProcessPublisher
from adapters.outbound.kafka.messages import topic_for
from adapters.outbound.kafka.publisher import KafkaPublisher
from adapters.outbound.rabbitmq.publisher import RabbitPublisher
from adapters.outbound.rabbitmq.topology import Topology
from adapters.outbound.memory.database import MemoryDatabase
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from adapters.outbound.metrics import delivery_metrics, scrape_registry
from adapters.outbound.ratelimit import LimitsRateLimiter
from adapters.outbound.security import Argon2Hasher, JwtTokenService, StaticUserDirectory, demo_accounts
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.notify import PostgresWakeup
from adapters.outbound.sqlalchemy.replica import ReplicaUnitOfWork, TrackedUnitOfWork
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from adapters.outbound.wakeup import InProcessWakeup
from bootstrap.settings import Settings
from bootstrap.tracing import build_tracer

def database_kind(url: str) -> str:
    if url.startswith("memory://"):
        return "memory"
    if url.startswith("sqlite"):
        return "sqlite"
    if url.startswith("postgresql"):
        return "postgresql"
    raise ValueError(f"unsupported SUPPLYTRACE_DATABASE_URL scheme: {url.split(':', 1)[0]!r}")


def user_accounts(settings: Settings, hasher: Argon2Hasher) -> list[UserAccount]:
    # configured users come last, so a demo account never shadows a real one of the same name
    accounts = demo_accounts(settings.demo_password, hasher) if settings.demo_users else []
    return accounts + [UserAccount(u.username, u.password_hash, u.role) for u in settings.users]


class Container(containers.DeclarativeContainer):
    config = providers.Configuration()
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)

    engine = providers.Singleton(
        create_engine,
        url=config.database_url,
        pool_size=config.database_pool_size,
        statement_timeout=config.database_statement_timeout_seconds,
        connect_timeout=config.database_connect_timeout_seconds,
        pool_timeout=config.database_pool_timeout_seconds,
    )
    # SUPPLYTRACE_READ_DATABASE_URL: a second engine, same limits, on a PostgreSQL replica (ADR 0023)
    read_engine = providers.Singleton(
        create_engine,
        url=config.read_database_url,
        pool_size=config.database_pool_size,
        statement_timeout=config.database_statement_timeout_seconds,
        connect_timeout=config.database_connect_timeout_seconds,
        pool_timeout=config.database_pool_timeout_seconds,
        read_only=True,
    )
    memory_database = providers.Singleton(MemoryDatabase)

    # relays wake when events are committed: PostgreSQL notifies every process (a trigger); with an
    # embedded database the writers are in this process and signal it themselves after each commit
    local_wakeup = providers.Singleton(InProcessWakeup)
    wakeup = providers.Selector(
        config.database_kind,
        memory=local_wakeup,
        sqlite=local_wakeup,
        postgresql=providers.Singleton(PostgresWakeup, url=config.database_url,
                                       connect_timeout=config.database_connect_timeout_seconds),
    )
    uow = providers.Selector(
        config.database_kind,
        memory=providers.Factory(MemoryUnitOfWork, database=memory_database, clock=clock,
                                 after_commit=local_wakeup.provided.notify),
        sqlite=providers.Factory(SqlUnitOfWork, engine=engine, clock=clock, after_commit=local_wakeup.provided.notify,
                                 timeline=config.delivery_timeline),
        postgresql=providers.Selector(
            config.read_source,  # with a replica, each commit notes its WAL position (read-your-writes)
            primary=providers.Factory(SqlUnitOfWork, engine=engine, clock=clock, timeline=config.delivery_timeline),
            replica=providers.Factory(TrackedUnitOfWork, engine=engine, clock=clock,
                                      timeline=config.delivery_timeline),
        ),
    )
    # the queries' unit of work: the replica's when there is one (commands and handlers: always `uow`)
    read_uow = providers.Selector(
        config.read_source,
        primary=uow,
        replica=providers.Factory(ReplicaUnitOfWork, engine=read_engine, primary=engine, clock=clock,
                                  timeline=config.delivery_timeline),
    )

    # the registered handlers and the one path that applies events to them, whatever the event mode
    registry = providers.Object(REGISTRY)
    extra_handlers = providers.List()  # tests add handlers here
    handlers = providers.Singleton(
        REGISTRY.build_handlers,
        clock=clock,
        options=providers.Factory(HandlerOptions, fulfilment_auto=config.fulfilment_auto,
                                  fulfilment_step_seconds=config.fulfilment_step_seconds),
        extra=extra_handlers,
    )
    # metrics: the observer the core calls, and what a process exposes (with the outbox gauges)
    metrics = providers.Singleton(delivery_metrics, enabled=config.metrics_enabled)
    metrics_registry = providers.Singleton(
        scrape_registry, backlog=providers.Singleton(OutboxBacklogQuery, uow=uow.provider, clock=clock)
    )
    # spans of the delivery (and of SQL and HTTP): OpenTelemetry only with an OTLP endpoint (bootstrap/tracing.py)
    tracer = providers.Selector(
        config.database_kind,
        memory=providers.Singleton(build_tracer),
        sqlite=providers.Singleton(build_tracer, engine=engine.provider),
        postgresql=providers.Singleton(build_tracer, engine=engine.provider),
    )
    apply_events = providers.Singleton(ApplyEvents, events=REGISTRY.events, handlers=handlers, clock=clock,
                                       tracer=tracer, metrics=metrics)

    rabbitmq_topology = providers.Singleton(Topology, prefix=config.rabbitmq_prefix,
                                            partitions=config.rabbitmq_partitions,
                                            queue_type=config.rabbitmq_queue_type)
    publisher = providers.Selector(
        config.event_mode,
        polling=providers.Singleton(InProcessPublisher, apply=apply_events, uow=uow.provider),
        kafka=providers.Singleton(
            KafkaPublisher,
            bootstrap_servers=config.kafka_bootstrap_servers,
            topic_prefix=config.kafka_topic_prefix,
            delivery_timeout_ms=config.kafka_delivery_timeout_ms,
            linger_ms=config.kafka_linger_ms,
        ),
        rabbitmq=providers.Singleton(
            RabbitPublisher,
            url=config.rabbitmq_url,
            topology=rabbitmq_topology,
            confirm_timeout_seconds=config.rabbitmq_confirm_timeout_seconds,
            heartbeat_seconds=config.rabbitmq_heartbeat_seconds,
            connect_timeout_seconds=config.rabbitmq_connect_timeout_seconds,
        ),
    )
    # who took a delivery step, on the event's timeline: this process
    worker_id = providers.Callable(lambda: f"{socket.gethostname()}:{os.getpid()}")
    retry_policy = providers.Singleton(
        RetryPolicy,
        max_attempts=config.outbox_max_attempts,
        backoff_seconds=config.outbox_backoff_seconds,
        max_backoff_seconds=config.outbox_max_backoff_seconds,
    )
    # who confirms the handling (`handled_by`): the Kafka consumer group, or the RabbitMQ queues' prefix
    consumer_group = providers.Selector(
        config.event_mode,
        polling=providers.Callable(str, config.kafka_consumer_group),
        kafka=providers.Callable(str, config.kafka_consumer_group),
        rabbitmq=providers.Callable(str, config.rabbitmq_prefix),
    )
    deliver_received = providers.Singleton(
        DeliverReceivedEvents, apply=apply_events, uow=uow.provider, clock=clock, policy=retry_policy,
        group=consumer_group,
    )
    reconcile = providers.Singleton(
        ReconcileDeliveries, uow=uow.provider, clock=clock, after_seconds=config.reconcile_after_seconds
    )
    purge_handled_events = providers.Singleton(
        PurgeHandledEvents, uow=uow.provider, clock=clock,
        retention=providers.Callable(lambda days: timedelta(days=days), config.retention_days),
        idempotency_window=providers.Callable(lambda seconds: timedelta(seconds=seconds),
                                              config.idempotency_window_seconds),
    )
    idempotency_keys = providers.Singleton(
        IdempotencyKeys, uow=uow.provider, clock=clock,
        window=providers.Callable(lambda seconds: timedelta(seconds=seconds), config.idempotency_window_seconds),
    )
    consumer_topics = providers.Callable(
        lambda prefix: [topic_for(prefix, aggregate) for aggregate in REGISTRY.aggregate_types],
        config.kafka_topic_prefix,
    )
    # broker modes: the same relay, only the publisher differs
    broker_relay = providers.Singleton(
        OutboxRelay,
        uow=uow.provider,
        publisher=publisher,
        clock=clock,
        policy=retry_policy,
        batch_size=config.outbox_batch_size,
        lease_seconds=config.outbox_lease_seconds,
        worker=worker_id,
        tracer=tracer,
        metrics=metrics,
    )
    relay = providers.Selector(
        config.event_mode,
        polling=providers.Singleton(
            LocalDelivery, uow=uow.provider, apply=apply_events, clock=clock, policy=retry_policy,
            batch_size=config.outbox_batch_size, worker=worker_id, metrics=metrics,
        ),
        kafka=broker_relay,
        rabbitmq=broker_relay,
    )

    # use cases and queries
    create_supplier = providers.Singleton(CreateSupplier, uow=uow.provider, clock=clock)
    update_certification = providers.Singleton(UpdateCertification, uow=uow.provider, clock=clock)
    supplier_queries = providers.Singleton(SupplierQueries, uow=read_uow.provider, clock=clock)
    # certificates and approval status (ADR 0025)
    add_certificate = providers.Singleton(AddCertificate, uow=uow.provider, clock=clock,
                                          warn_days=config.certificate_warn_days)
    update_certificate = providers.Singleton(UpdateCertificate, uow=uow.provider, clock=clock,
                                             warn_days=config.certificate_warn_days)
    withdraw_certificate = providers.Singleton(WithdrawCertificate, uow=uow.provider, clock=clock)
    certificate_queries = providers.Singleton(CertificateQueries, uow=read_uow.provider, clock=clock,
                                              warn_days=config.certificate_warn_days)
    change_approval = providers.Singleton(ChangeApproval, uow=uow.provider, clock=clock)
    request_approval_change = providers.Singleton(RequestApprovalChange, uow=uow.provider, clock=clock)
    raise_review_required = providers.Singleton(RaiseReviewRequired, uow=uow.provider, clock=clock)
    run_reminders = providers.Singleton(  # the reminder job (ADR 0027)
        RunReminders, uow=uow.provider, clock=clock, certificate_days=config.reminder_certificate_days,
        action_due_soon_days=config.reminder_action_due_soon_days,
        action_escalate_after_days=config.reminder_escalate_after_days, quality_lead=config.quality_lead,
    )
    # the supplier scorecard (ADR 0028); the worker's schedule and `supplytrace scorecard compute` call compute_scores
    record_receipt = providers.Singleton(RecordReceipt, uow=uow.provider, clock=clock)
    receipt_queries = providers.Singleton(ReceiptQueries, uow=read_uow.provider)
    compute_scores = providers.Singleton(ComputeMonthlyScores, uow=uow.provider, clock=clock,
                                         raise_review=raise_review_required)
    scorecard_queries = providers.Singleton(ScorecardQueries, uow=read_uow.provider, clock=clock)
    raise_nc = providers.Singleton(RaiseNonConformity, uow=uow.provider, clock=clock)
    close_nc = providers.Singleton(CloseNonConformity, uow=uow.provider, clock=clock)
    nc_queries = providers.Singleton(NonConformityQueries, uow=read_uow.provider)
    kpi = providers.Singleton(
        KpiQuery, uow=read_uow.provider, clock=clock, unhandled_after_seconds=config.reconcile_after_seconds
    )
    audit_queries = providers.Singleton(AuditQueries, uow=read_uow.provider)
    verify_audit_log = providers.Singleton(VerifyAuditLog, uow=uow.provider)
    outbox_queries = providers.Singleton(OutboxQueries, uow=read_uow.provider)
    place_order = providers.Singleton(PlaceOrder, uow=uow.provider, clock=clock)
    change_order_status = providers.Singleton(ChangeOrderStatus, uow=uow.provider, clock=clock)
    change_item_status = providers.Singleton(ChangeItemStatus, uow=uow.provider, clock=clock)
    cancel_order = providers.Singleton(CancelOrder, uow=uow.provider, clock=clock)
    update_order = providers.Singleton(UpdateOrder, uow=uow.provider, clock=clock)
    order_queries = providers.Singleton(OrderQueries, uow=read_uow.provider)
    fulfilment_scheduler = providers.Singleton(
        FulfilmentScheduler, uow=uow.provider, clock=clock, batch_size=config.outbox_batch_size
    )
    replay_events = providers.Singleton(ReplayEvents, uow=uow.provider, clock=clock)
    event_timeline = providers.Singleton(EventTimeline, uow=uow.provider)
    record_dead_letters = providers.Singleton(RecordDeadLetters, uow=uow.provider, clock=clock)
    create_inventory = providers.Singleton(CreateInventory, uow=uow.provider, clock=clock)
    add_inventory_line = providers.Singleton(AddInventoryLine, uow=uow.provider, clock=clock)
    delete_inventory = providers.Singleton(DeleteInventory, uow=uow.provider, clock=clock)
    inventory_queries = providers.Singleton(InventoryQueries, uow=read_uow.provider)
    rebuild_inventory_projection = providers.Singleton(RebuildInventoryProjection, uow=uow.provider, clock=clock)

    # identities
    hasher = providers.Singleton(Argon2Hasher)
    users = providers.Singleton(StaticUserDirectory, accounts=providers.Callable(user_accounts, settings, hasher))
    tokens = providers.Singleton(
        JwtTokenService, secret=config.jwt_secret, lifetime_seconds=config.jwt_lifetime_seconds
    )
    rate_limiter = providers.Singleton(
        LimitsRateLimiter,
        storage_url=config.rate_limit_storage_url,
        rates=providers.Dict({LOGIN_CLIENT: config.login_rate_per_client, LOGIN_FAILURES: config.login_rate_per_user}),
    )
    authenticate = providers.Singleton(Authenticate, users=users, hasher=hasher, tokens=tokens, limiter=rate_limiter)
    verify_token = providers.Singleton(
        VerifyToken, users=users, tokens=tokens, uow=uow.provider, max_lifetime_seconds=config.jwt_max_lifetime_seconds,
        revocation_cache_seconds=config.revocation_cache_seconds,
    )
    logout = providers.Singleton(Logout, verify=verify_token, uow=uow.provider, clock=clock)
    # the NC investigation and its CAPA actions (ADR 0024): owners are users of the directory
    update_nc = providers.Singleton(UpdateNonConformity, uow=uow.provider, clock=clock, users=users)
    move_nc = providers.Singleton(MoveNonConformity, uow=uow.provider, clock=clock, users=users)
    plan_nc_action = providers.Singleton(PlanAction, uow=uow.provider, clock=clock, users=users)
    move_nc_action = providers.Singleton(MoveAction, uow=uow.provider, clock=clock)


def build_container(settings: Settings | None = None) -> Container:
    settings = settings or Settings()
    container = Container(settings=settings)
    container.config.from_pydantic(settings)
    container.config.database_kind.from_value(database_kind(settings.database_url))
    container.config.read_source.from_value("replica" if settings.read_database_url else "primary")
    return container
