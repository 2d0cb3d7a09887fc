"""The composition root on `memory://`: configuration picks the adapters, the core is unchanged."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import date

import pytest
from dependency_injector import providers

import domain
from adapters.outbound.inprocess import InProcessPublisher
from adapters.outbound.memory.unit_of_work import MemoryUnitOfWork
from adapters.outbound.security import Argon2Hasher
from application.envelope import Origin
from application.catalog import REGISTRY
from application.dispatch import ALL_EVENTS, EventHandler
from application.fulfilment import FulfilmentProcess
from application.registry import EventRegistry, HandlerOptions
from bootstrap.container import build_container, database_kind
from bootstrap.settings import Settings
from domain.events import DomainEvent


@pytest.fixture
def container(no_supplytrace_env, clock):
    built = build_container(Settings(_env_file=None, database_url="memory://", outbox_max_attempts=2))
    built.clock.override(providers.Object(clock))
    yield built
    built.clock.reset_override()


def test_memory_url_wires_the_in_memory_unit_of_work_and_the_in_process_publisher(container):
    assert isinstance(container.uow(), MemoryUnitOfWork)
    assert isinstance(container.publisher(), InProcessPublisher)
    assert container.retry_policy().max_attempts == 2


def test_polling_wiring_runs_the_whole_flow_from_command_to_audit_and_kpi(container):
    origin = Origin("alice", "corr-42")
    container.create_supplier()("Beta Metals", date(2020, 1, 1), origin)
    container.raise_nc()(1, "high", "weld porosity", origin)

    report = container.relay().drain()

    assert report.published == 2  # no SUPPLIER_REVIEW_REQUIRED: a PENDING supplier is under evaluation anyway
    assert container.kpi()().as_dict() == {
        "nc_open": 1,
        "nc_open_high": 1,
        "nc_closed": 0,
        "outbox_pending": 0,
        "outbox_published": 2,
        "outbox_failed": 0,
        "outbox_parked": 0,
        "suppliers_at_risk": 1,
        "audit_events_total": 2,
        "projection_lag_events": 0,
        "orders_by_status": dict.fromkeys(("RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED", "ON_HOLD", "CANCELLED"), 0),
        "fulfilment_steps_planned": 0,
        "events_unhandled": 0,
        "nc_by_status": {"OPEN": 1, "INVESTIGATING": 0, "ACTION_PLANNED": 0, "CLOSED": 0, "CANCELLED": 0},
        "nc_by_root_cause": {},
        "nc_high_closed_without_capa": 0,
        "actions_overdue": 0,
        "actions_due_7d": 0,
        "avg_days_to_close_90d": None,
        "capa_effectiveness_rate": None,
        "suppliers_blocked": 0,
        "suppliers_conditional": 0,
        "certs_expiring_30d": 0,
        "order_cancel_rate": None,
    }


@pytest.mark.parametrize(
    "url, kind",
    [("memory://", "memory"), ("sqlite:///x.db", "sqlite"), ("postgresql+psycopg://h/db", "postgresql")],
)
def test_database_kind_follows_the_url_scheme(url, kind):
    assert database_kind(url) == kind


def test_unsupported_database_url_is_refused():
    with pytest.raises(ValueError, match="mysql"):
        database_kind("mysql://h/db")


def concrete_events() -> set[type[DomainEvent]]:
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)

    def concrete(cls):
        for sub in cls.__subclasses__():
            if "event_type" in vars(sub):
                yield sub
            yield from concrete(sub)

    return set(concrete(DomainEvent))


def test_every_concrete_domain_event_is_registered_under_its_type():
    """An event type the registry does not know ends FAILED (UnhandledEvent) in the outbox."""
    found = concrete_events()
    assert found, "no domain event found: the walk is broken"
    assert {e.event_type: e for e in found} == REGISTRY.events  # every class, each under its own type
    assert len({e.event_type for e in found}) == len(found)  # no two classes share a type
    assert set(REGISTRY.aggregate_types) == {e.aggregate_type for e in found}


def test_every_handler_subscribes_only_to_registered_events():
    assert REGISTRY.handler_types, "no handler registered"
    for handler in REGISTRY.handler_types:
        assert handler.subscribes_to, f"{handler.__name__} subscribes to nothing"
        for subscription in handler.subscribes_to:
            if isinstance(subscription, str):
                assert subscription == ALL_EVENTS, f"{handler.__name__}: {subscription!r} is not a class"
            else:
                assert REGISTRY.events.get(subscription.event_type) is subscription, (handler, subscription)


def test_the_registry_refuses_an_unregistered_subscription_a_duplicate_type_and_a_duplicate_name():
    [order_event, *_] = [e for e in REGISTRY.events.values() if e.aggregate_type == "order"]

    class Stray(EventHandler):
        name = "stray"
        subscribes_to = frozenset({order_event})

    class Twin(EventHandler):
        name = "stray"
        subscribes_to = frozenset({ALL_EVENTS})

    others = [e for e in REGISTRY.events.values() if e is not order_event]
    with pytest.raises(ValueError, match=order_event.event_type):
        EventRegistry(others, [Stray])
    with pytest.raises(ValueError, match="twice"):
        EventRegistry([order_event, order_event], [])
    with pytest.raises(ValueError, match="unique"):
        EventRegistry(REGISTRY.events.values(), [Stray, Twin])


def test_the_container_builds_every_registered_handler_once_and_the_fulfilment_process_only_when_on(clock):
    off = REGISTRY.build_handlers(clock, HandlerOptions(fulfilment_auto=False))
    on = REGISTRY.build_handlers(clock, HandlerOptions(fulfilment_auto=True, fulfilment_step_seconds=7))
    assert [type(h) for h in on] == list(REGISTRY.handler_types)
    assert [type(h) for h in off] == [h for h in REGISTRY.handler_types if h is not FulfilmentProcess]
    [process] = [h for h in on if isinstance(h, FulfilmentProcess)]
    assert process.step.total_seconds() == 7


def test_a_configured_user_is_not_replaced_by_a_demo_user_of_the_same_name(no_supplytrace_env):
    own = {"username": "admin", "role": "admin", "password_hash": Argon2Hasher().hash("my-own-password")}
    built = build_container(Settings(_env_file=None, database_url="memory://", demo_users=True, users=[own],
                                     jwt_secret="a-secret-of-our-own-for-this-unit-test"))

    issued = built.authenticate()("admin", "my-own-password", "client")

    assert issued.principal.username == "admin"
