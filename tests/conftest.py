"""Fixtures every suite may use: the test databases, created once per session."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from bootstrap import logging as log_setup

from tests.support.broker import TestBroker
from tests.support.rabbitmq import TestVhost, rabbitmq_vhost
from tests.support.databases import ScratchPostgres, SqliteTemplate, scratch_postgres


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A test that configures logging (the CLI in process, the log tests) leaves it as it found it:
    the tests after it keep pytest's handlers and level, instead of writing every line to stderr."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    if root.handlers != handlers:
        log_setup._flush()
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.configure(**config)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[ScratchPostgres]:
    yield from scratch_postgres()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[TestBroker]:
    broker = TestBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[TestVhost]:
    """A virtual host of this session's own (deleted at its end)."""
    yield from rabbitmq_vhost()


@pytest.fixture
def postgres_url(postgres_database: ScratchPostgres) -> str:
    """The truncated session database, as the application's runtime role (owns nothing)."""
    postgres_database.truncate()
    return postgres_database.url


@pytest.fixture
def postgres_owner_url(postgres_url: str, postgres_database: ScratchPostgres) -> str:
    """The same database as its owner: for a test that alters the schema, as migrations do."""
    return postgres_database.owner_url


@pytest.fixture
def sqlite_url(sqlite_template: SqliteTemplate, tmp_path) -> str:
    return sqlite_template.fresh(tmp_path)
