"""The `supplytrace` command line."""

from __future__ import annotations

import signal
from enum import StrEnum
from typing import Annotated

import typer
import uvicorn

from bootstrap.container import build_container
from bootstrap.logging import configure_logging
from adapters.inbound.runtime import background_workers, kafka_consumer, prepare_database, relay_loop
from bootstrap.settings import EventMode, Settings

app = typer.Typer(help="SupplyTrace: supply-chain quality and operations backend.", no_args_is_help=True)
db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db, name="db")
projections = typer.Typer(help="Read projections (CQRS).", no_args_is_help=True)
app.add_typer(projections, name="projections")


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    worker: Annotated[bool, typer.Option("--worker/--no-worker", help="Embed the event workers.")] = True,
) -> None:
    """Run the API, and the workers the event mode needs, in one process."""
    from adapters.inbound.api.app import create_app

    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    api = create_app(container, background_workers(container) if worker else [])
    uvicorn.run(api, host=host, port=port, log_config=None)


@app.command("worker")
def run_worker(
    once: Annotated[bool, typer.Option(help="Drain what is due, then exit.")] = False,
) -> None:
    """Run the event workers of the configured mode (polling: the relay; kafka: relay and consumer)."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    if once:
        report = container.relay().drain()
        steps = container.fulfilment_scheduler().run_once()
        report.add(container.relay().drain())
        typer.echo(f"published={report.published} retried={report.retried} failed={report.failed} "
                   f"fulfilment_steps={steps.advanced}")
        return
    _run_until_signal(background_workers(container))


@app.command("relay")
def run_relay() -> None:
    """Run only the outbox relay (in kafka mode: publish pending events to the broker)."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    _run_until_signal([relay_loop(container)])


@app.command("consume")
def run_consumer() -> None:
    """Run only a Kafka consumer-group member that hands events to the handlers (kafka mode)."""
    settings = _settings()
    if settings.event_mode != EventMode.KAFKA:
        raise typer.BadParameter("`consume` needs SUPPLYTRACE_EVENT_MODE=kafka")
    container = build_container(settings)
    prepare_database(container, auto_migrate=False)
    _run_until_signal([kafka_consumer(container)])


def _run_until_signal(loops: list) -> None:
    def stop(*_: object) -> None:
        for loop in loops:
            loop.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for loop in loops[1:]:
        loop.start()
    loops[0].run()
    for loop in loops[1:]:
        loop.stop()


@db.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the migrations to SUPPLYTRACE_DATABASE_URL."""
    from adapters.outbound.sqlalchemy import migrate

    container = build_container(_settings())
    if container.config.database_kind() == "memory":
        typer.echo("memory:// needs no migration")
        return
    migrate.upgrade(container.engine(), revision)
    typer.echo(f"database at revision {migrate.current_revision(container.engine())}")


class Projection(StrEnum):
    INVENTORY = "inventory"


@projections.command("rebuild")
def rebuild_projection(name: Annotated[Projection, typer.Argument(help="The projection to rebuild.")]) -> None:
    """Recompute a projection from the write model in one transaction; report the rows changed."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    if name is Projection.INVENTORY:
        typer.echo(str(container.rebuild_inventory_projection()()))


@app.command("hash-password")
def hash_password(password: Annotated[str, typer.Option(prompt=True, hide_input=True)]) -> None:
    """Print an Argon2 hash for a SUPPLYTRACE_USERS entry."""
    from adapters.outbound.security import Argon2Hasher

    typer.echo(Argon2Hasher().hash(password))


@app.command()
def demo(
    url: Annotated[str | None, typer.Option(help="A running SupplyTrace (default: start one on a temp SQLite file).")]
    = None,
    password: Annotated[str, typer.Option(envvar="SUPPLYTRACE_DEMO_PASSWORD")] = "demo",
) -> None:
    """The QHSE workflow end to end over HTTP, step by step, with the KPIs."""
    from adapters.inbound.demo import run_demo

    raise typer.Exit(run_demo(url, password, typer.echo))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
