"""Replica routing, without a replica: the wiring, the token's format, the middleware (ADR 0023).
The real streaming replica is in tests/integration/test_read_replica.py."""

from __future__ import annotations

import asyncio

import pytest

from adapters.inbound.api.consistency import ConsistencyTokens
from adapters.outbound.sqlalchemy.replica import (CONSISTENCY, TOKEN_HEADER, Consistency, ReplicaUnitOfWork,
                                                  TrackedUnitOfWork, format_lsn, parse_lsn)
from adapters.outbound.sqlalchemy.unit_of_work import SqlUnitOfWork
from bootstrap.container import build_container
from bootstrap.settings import Settings

PRIMARY, REPLICA = "postgresql+psycopg://u@primary:5432/db", "postgresql+psycopg://u@replica:5432/db"


def test_lsn_tokens_round_trip_and_compare_as_positions() -> None:
    assert parse_lsn("0/3000148") == 0x3000148
    assert parse_lsn("16/b374d848") == (0x16 << 32) | 0xB374D848
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")
    for bad in ("", "yesterday", "0/", "1/2/3", "123456789/0", "0x1/0"):
        with pytest.raises(ValueError, match="consistency token"):
            parse_lsn(bad)


def test_queries_read_through_the_replica_commands_and_handlers_write_to_the_primary() -> None:
    container = build_container(Settings(_env_file=None, database_url=PRIMARY, read_database_url=REPLICA))
    assert container.config.read_source() == "replica"
    assert container.read_engine().url.host == "replica" and container.engine().url.host == "primary"
    for query in (container.supplier_queries(), container.nc_queries(), container.order_queries(),
                  container.inventory_queries(), container.audit_queries(), container.outbox_queries(),
                  container.kpi()):
        read = query.uow()
        assert isinstance(read, ReplicaUnitOfWork), type(query).__name__
        assert (read.engine, read.primary) == (container.read_engine(), container.engine())
    for command in (container.create_supplier(), container.raise_nc(), container.place_order(),
                    container.create_inventory(), container.verify_token(), container.purge_handled_events()):
        assert type(command.uow()) is TrackedUnitOfWork, type(command).__name__


def test_without_a_replica_every_unit_of_work_is_the_primary_one() -> None:
    container = build_container(Settings(_env_file=None, database_url=PRIMARY, read_database_url=PRIMARY))
    assert container.config.read_source() == "primary"  # READ_ = WRITE_ (the order system's default): one pool
    assert type(container.supplier_queries().uow()) is SqlUnitOfWork
    memory = build_container(Settings(_env_file=None, database_url="memory://"))
    assert memory.supplier_queries().uow().__class__ is memory.create_supplier().uow().__class__


def _call(app, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(ConsistencyTokens(app)({"type": "http", "headers": headers}, receive, send))
    return sent


def test_the_middleware_reads_the_token_and_returns_the_write_position() -> None:
    seen: list[Consistency | None] = []

    async def endpoint(scope, receive, send) -> None:
        box = CONSISTENCY.get()
        seen.append(box)
        box.written = 0x3000148  # what a TrackedUnitOfWork notes after its commit
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = _call(endpoint, [(TOKEN_HEADER.lower().encode(), b"0/2A")])
    assert seen[0].after == 0x2A
    assert (TOKEN_HEADER.lower().encode(), b"0/3000148") in sent[0]["headers"]
    assert CONSISTENCY.get() is None  # reset after the request

    refused = _call(endpoint, [(TOKEN_HEADER.lower().encode(), b"latest")])
    assert refused[0]["status"] == 422 and len(seen) == 1  # refused before the endpoint
    assert TOKEN_HEADER.encode() in refused[1]["body"]
