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
from bootstrap.container import EVENT_TYPES, build_container, database_kind
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

    assert report.published == 2
    assert container.kpi()().as_dict() == {
        "nc_open": 1,
        "nc_open_high": 1,
        "nc_closed": 0,
        "outbox_pending": 0,
        "outbox_published": 2,
        "outbox_failed": 0,
        "suppliers_at_risk": 1,
        "audit_events_total": 2,
        "projection_lag_events": 0,
        "orders_by_status": dict.fromkeys(("RECEIVED", "PICKING", "IN_TRANSIT", "DELIVERED", "ON_HOLD", "CANCELLED"), 0),
        "fulfilment_steps_planned": 0,
        "events_unhandled": 0,
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


def test_every_domain_event_type_is_registered_with_the_dispatcher():
    """An event type the dispatcher does not know ends FAILED (UnhandledEvent) in the outbox."""
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)

    def concrete(cls):
        for sub in cls.__subclasses__():
            if "event_type" in vars(sub):
                yield sub
            yield from concrete(sub)

    assert {e.event_type for e in concrete(DomainEvent)} <= {e.event_type for e in EVENT_TYPES}


def test_a_configured_user_is_not_replaced_by_a_demo_user_of_the_same_name(no_supplytrace_env):
    own = {"username": "admin", "role": "admin", "password_hash": Argon2Hasher().hash("my-own-password")}
    built = build_container(Settings(_env_file=None, database_url="memory://", demo_users=True, users=[own],
                                     jwt_secret="a-secret-of-our-own-for-this-unit-test"))

    issued = built.authenticate()("admin", "my-own-password", "client")

    assert issued.principal.username == "admin"
