"""SQL stores: a duplicate delivery is recognised as such, any other integrity error is not swallowed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.outbound.clock import SystemClock
from adapters.outbound.sqlalchemy.engine import create_engine
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from application.audit import AuditTrailHandler
from application.envelope import EventEnvelope
from application.ports.consumption import AlreadyProcessed


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest):
    engine = create_engine(request.getfixturevalue(f"{request.param}_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def owner(engine: sa.Engine, request: pytest.FixtureRequest):
    """Who may alter the schema: on PostgreSQL the owner, not the application's runtime role."""
    if engine.dialect.name == "sqlite":
        yield engine
        return
    owner = create_engine(request.getfixturevalue("postgres_owner_url"))
    yield owner
    owner.dispose()


def _envelope() -> EventEnvelope:
    return EventEnvelope(uuid.uuid4(), "SUPPLIER_CREATED", "supplier", "1", datetime.now(UTC), "a", "c", {})


def test_a_second_processed_key_is_already_processed(engine: sa.Engine) -> None:
    event_id = uuid.uuid4()
    for attempt in range(2):
        with SqlUnitOfWork(engine, SystemClock()) as uow:
            if attempt:
                with pytest.raises(AlreadyProcessed):
                    uow.processed.add("h", event_id, datetime.now(UTC))
            else:
                uow.processed.add("h", event_id, datetime.now(UTC))
                uow.commit()


def test_the_audit_handler_applies_once_and_reports_the_second_delivery(engine: sa.Engine) -> None:
    handler = AuditTrailHandler(lambda: SqlUnitOfWork(engine, SystemClock()), SystemClock())
    envelope = _envelope()
    assert handler(envelope) is True
    assert handler(envelope) is False


def test_an_integrity_error_that_is_no_duplicate_propagates(engine: sa.Engine, owner: sa.Engine) -> None:
    with owner.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log "
                                 "BEGIN SELECT RAISE(ABORT, 'refused by a constraint'); END")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log ADD CONSTRAINT refuse CHECK (actor <> 'a')")
    handler = AuditTrailHandler(lambda: SqlUnitOfWork(engine, SystemClock()), SystemClock())
    try:
        with pytest.raises(sa.exc.IntegrityError):
            handler(_envelope())
    finally:
        with owner.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER refuse")
            else:
                conn.exec_driver_sql("ALTER TABLE audit_log DROP CONSTRAINT refuse")
