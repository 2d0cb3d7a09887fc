"""What the CLI starts: schema checks and the workers each event mode needs."""

from __future__ import annotations

from typing import Any

from adapters.inbound.worker import RelayLoop
from adapters.outbound.sqlalchemy import migrate
from bootstrap.container import Container


class SchemaOutOfDate(RuntimeError):
    pass


def prepare_database(container: Container, auto_migrate: bool) -> None:
    """SQLite files are migrated on start; other databases must already be at head (`db upgrade`)."""
    kind = container.config.database_kind()
    if kind == "memory":
        return
    engine = container.engine()
    if auto_migrate or kind == "sqlite":
        migrate.upgrade(engine)
        return
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        raise SchemaOutOfDate(f"database schema is at {current}, code expects {head}: run `supplytrace db upgrade`")


def background_workers(container: Container) -> list[Any]:
    """The loops `serve` embeds and `worker` runs: in polling mode, the relay into the handlers."""
    interval = container.config.worker_poll_interval_seconds()
    return [RelayLoop(container.relay(), interval, name="relay")]
