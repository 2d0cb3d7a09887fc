"""The `supplytrace` command line."""

from __future__ import annotations

import getpass
import itertools
import json
import re
import signal
from collections.abc import Callable, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

import structlog
import typer
import uvicorn

from application.retention import FLOOR
from bootstrap.container import build_container
from bootstrap.logging import configure_logging
from adapters.inbound.runtime import background_workers, broker_consumer, prepare_database, relay_loop, serve_metrics
from bootstrap.settings import Settings, SettingsError, load_settings

app = typer.Typer(help="SupplyTrace: supply-chain quality and operations backend.", no_args_is_help=True)
db = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db, name="db")
projections = typer.Typer(help="Read projections (CQRS).", no_args_is_help=True)
app.add_typer(projections, name="projections")
events = typer.Typer(help="Operate delivery: event timelines, audited replay and skip.", no_args_is_help=True)
app.add_typer(events, name="events")
audit = typer.Typer(help="The audit log (a hash chain, ADR 0014).", no_args_is_help=True)
app.add_typer(audit, name="audit")
outbox = typer.Typer(help="The outbox: retention of handled events.", no_args_is_help=True)
app.add_typer(outbox, name="outbox")
reminders = typer.Typer(help="The reminder job: certificates expiring, CAPA actions due (ADR 0027).",
                        no_args_is_help=True)
app.add_typer(reminders, name="reminders")


def _settings() -> Settings:
    """The settings, or a one-line error naming the variable and exit code 2 (never a traceback)."""
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
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

    settings = _settings()
    container = build_container(settings)
    prepare_database(container, auto_migrate=False)
    api = create_app(container, background_workers(container) if worker else [])
    config = uvicorn.Config(api, host=host, port=port, log_config=None, access_log=False,  # Correlation logs them
                            server_header=False)
    _WelcomingServer(config, settings).run()


class _WelcomingServer(uvicorn.Server):
    """Once the socket listens (not before): where the docs are and who can log in."""

    def __init__(self, config: uvicorn.Config, settings: Settings) -> None:
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets)
        if self.started and not self.should_exit:
            port = self.servers[0].sockets[0].getsockname()[1] if self.servers else self.config.port
            shown = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "") else self.config.host
            host = f"[{shown}]" if ":" in shown else shown
            lines = welcome(self.settings, f"http://{host}:{port}")
            if self.settings.log_json:  # stdout is JSON lines only: the same words as one log line
                structlog.get_logger("supplytrace.serve").info("serve.ready", welcome=[line.strip() for line in lines])
                return
            for line in lines:
                typer.echo(line)


def welcome(settings: Settings, base_url: str) -> list[str]:
    """What `serve` prints once it is up."""
    from bootstrap.settings import DEFAULT_DEMO_PASSWORD
    from domain.roles import Role

    lines = [f"SupplyTrace is up at {base_url} (Ctrl+C stops it)",
             f"  web console: {base_url}/console (the users below, offline: ADR 0030)"]
    lines.append(f"  API docs: {base_url}/docs (Swagger UI) and {base_url}/redoc" if settings.docs_enabled
                 else "  API docs: off (SUPPLYTRACE_DOCS_ENABLED=false)")
    if settings.demo_users:
        default = settings.demo_password == DEFAULT_DEMO_PASSWORD
        password = f'password "{DEFAULT_DEMO_PASSWORD}"' if default else "password: SUPPLYTRACE_DEMO_PASSWORD"
        lines.append(f"  demo users ({password}), one per role, named after it: "
                     + ", ".join(role.value for role in Role))
        if default:
            lines.append(f"  log in: curl -d username=admin -d password={DEFAULT_DEMO_PASSWORD} {base_url}/auth/login")
    else:
        lines.append("  demo users: off (SUPPLYTRACE_DEMO_USERS=false)")
    if settings.users:
        lines.append("  users (SUPPLYTRACE_USERS): " + ", ".join(f"{u.username} ({u.role.value})"
                                                              for u in settings.users))
    return lines


MetricsPort = Annotated[int | None, typer.Option(
    metavar="PORT", help="Serve /metrics on this port (default SUPPLYTRACE_METRICS_PORT; none: no metrics server).")]


@app.command("worker")
def run_worker(
    once: Annotated[bool, typer.Option(help="Drain what is due, then exit.")] = False,
    metrics_port: MetricsPort = None,
) -> None:
    """Run the event workers of the configured mode (polling: the relay; kafka, rabbitmq: relay and consumer)."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    if once:
        redriven = container.reconcile()()
        report = container.relay().drain()
        steps = container.fulfilment_scheduler().run_once()
        report.add(container.relay().drain())
        typer.echo(f"published={report.published} retried={report.retried} failed={report.failed} "
                   f"fulfilment_steps={steps.advanced} redriven={redriven}")
        return
    serve_metrics(container, metrics_port)
    _run_until_signal(background_workers(container))


@app.command("relay")
def run_relay(metrics_port: MetricsPort = None) -> None:
    """Run only the outbox relay (in kafka and rabbitmq modes: publish pending events to the broker)."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    serve_metrics(container, metrics_port)
    _run_until_signal([relay_loop(container)])


@app.command("consume")
def run_consumer(metrics_port: MetricsPort = None) -> None:
    """Run only a consumer that hands the broker's events to the handlers (kafka: a consumer-group member;
    rabbitmq: a consumer of the partition queues, active on those no other consumer holds)."""
    settings = _settings()
    if not settings.event_mode.brokered:
        raise typer.BadParameter("`consume` needs SUPPLYTRACE_EVENT_MODE=kafka or rabbitmq")
    container = build_container(settings)
    prepare_database(container, auto_migrate=False)
    serve_metrics(container, metrics_port)
    _run_until_signal([broker_consumer(container)])


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


RuntimeRole = Annotated[str | None, typer.Option(
    "--runtime-role", metavar="NAME", help="The role the service connects as: re-apply its grants (PostgreSQL).")]
_NO_ROLES = {"sqlite": "SQLite has no roles: whoever may write the database file may rewrite it (protect the "
                       "file: see README)", "memory": "memory:// has no roles"}
_RUNTIME_ROLE_HINT = ("runtime role: none given; connect the service as a role that owns nothing, set up by "
                      "`supplytrace db grant --runtime-role NAME` (pass --runtime-role to upgrades that add tables)")


@db.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
               runtime_role: RuntimeRole = None) -> None:
    """Apply the migrations to SUPPLYTRACE_DATABASE_URL (as the owner of the tables)."""
    from adapters.outbound.sqlalchemy import migrate, runtime_role as roles

    container = build_container(_settings())
    kind = container.config.database_kind()
    if runtime_role is not None:
        _require_roles(kind)
        if revision != "head":
            _refuse("--runtime-role needs the head revision: the grants follow the schema of the code")
        with container.engine().connect() as conn:
            if not roles.role_exists(conn, runtime_role):
                _refuse(f"role {runtime_role} does not exist: create it with `supplytrace db grant`")
    if kind == "memory":
        typer.echo("memory:// needs no migration")
        return
    migrate.upgrade(container.engine(), revision)
    typer.echo(f"database at revision {migrate.current_revision(container.engine())}")
    if runtime_role is not None:
        _apply_grants(container.engine(), runtime_role)
    else:
        typer.echo(f"runtime role: {_NO_ROLES[kind]}" if kind in _NO_ROLES else _RUNTIME_ROLE_HINT)


@db.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision: e.g. 0010, base (an empty "
                                                          "schema), or -- -1 (one step back). Every later "
                                                          "migration is undone.")]) -> None:
    """Undo the migrations after REVISION on SUPPLYTRACE_DATABASE_URL (as the owner of the tables)."""
    from alembic.util import CommandError

    from adapters.outbound.sqlalchemy import migrate

    container = build_container(_settings())
    if container.config.database_kind() == "memory":
        typer.echo("memory:// has no schema to downgrade")
        return
    try:
        migrate.downgrade(container.engine(), revision)
    except CommandError as error:
        _refuse(str(error))
    typer.echo(f"database at revision {migrate.current_revision(container.engine()) or 'base (no tables)'}")


@db.command("grant")
def db_grant(
    runtime_role: Annotated[str, typer.Option("--runtime-role", metavar="NAME", help="The role the service "
                                              "connects as; created if missing.")],
    password_env: Annotated[str | None, typer.Option(metavar="VAR", help="Environment variable holding the "
                                                     "role's password (default: prompt for a new role).")] = None,
    login: Annotated[bool, typer.Option("--login/--no-login", help="Whether a new role may log in.")] = True,
) -> None:
    """Create the runtime role if missing and (re)apply its grants; run as the owner of the tables."""
    from adapters.outbound.sqlalchemy import migrate, runtime_role as roles

    container = build_container(_settings())
    _require_roles(container.config.database_kind())
    try:
        roles.check_role_name(runtime_role)
    except roles.RoleRefused as error:
        _refuse(str(error))
    engine = container.engine()
    current, head = migrate.current_revision(engine), migrate.head_revision(engine)
    if current != head:
        _refuse(f"database schema is at {current}, code expects {head}: run `supplytrace db upgrade` first")
    with engine.connect() as conn:
        exists = roles.role_exists(conn, runtime_role)
    password = _password(password_env, prompt=login and not exists)
    _apply_grants(engine, runtime_role, lambda conn: roles.ensure_role(conn, runtime_role, login, password))


def _password(variable: str | None, prompt: bool) -> str | None:
    import os

    if variable is None:
        return typer.prompt("password of the new role", hide_input=True, confirmation_prompt=True) if prompt else None
    if not os.environ.get(variable):
        _refuse(f"environment variable {variable} is not set or empty")
    return os.environ[variable]


def _apply_grants(engine: Any, role: str, prepare: Callable[[Any], str] | None = None) -> None:
    """Apply the grants in one transaction, rolled back if the check finds the role could still forge history."""
    from adapters.outbound.sqlalchemy import runtime_role as roles

    try:
        with engine.connect() as conn, conn.begin() as transaction:
            done = [prepare(conn)] if prepare is not None else []
            report = roles.apply_grants(conn, role)
            if report.problems:
                transaction.rollback()
    except roles.RoleRefused as error:
        _refuse(str(error))
    for line in ([] if report.problems else done) + report.lines():
        typer.echo(line)
    if report.problems:
        raise typer.Exit(1)


def _require_roles(kind: str) -> None:
    if kind in _NO_ROLES:
        _refuse(f"a runtime role needs PostgreSQL; {_NO_ROLES[kind]}")


def _refuse(message: str) -> None:
    typer.echo(f"refused: {message}", err=True)
    raise typer.Exit(2)


def _when(value: str | None, option: str) -> Any:
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _refuse(f"{option}: not an ISO date or date-time ({value!r})")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _print_json(data: Any) -> None:
    import json
    from dataclasses import asdict, is_dataclass

    typer.echo(json.dumps(data, default=lambda o: asdict(o) if is_dataclass(o) else str(o), indent=2))


Reason = Annotated[str, typer.Option("--reason", help="Why (goes to the audit log and the event's timeline).")]


@events.command("replay")
def replay_events(
    event_id: Annotated[str | None, typer.Argument(help="The FAILED event to replay (else: --failed-since …)")] = None,
    reason: Reason = "",
    failed_since: Annotated[str | None, typer.Option(help="Bulk: FAILED at or after (ISO).")] = None,
    failed_until: Annotated[str | None, typer.Option(help="Bulk: FAILED before (ISO).")] = None,
    event_type: Annotated[str | None, typer.Option(help="Bulk: only this event type.")] = None,
    aggregate_type: Annotated[str | None, typer.Option(help="Bulk: only this aggregate type.")] = None,
    aggregate_id: Annotated[str | None, typer.Option(help="Bulk: only this aggregate.")] = None,
    limit: Annotated[int, typer.Option(help="Bulk: at most this many, oldest first.")] = 100,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Bulk: list what would be replayed.")] = False,
) -> None:
    """Replay one FAILED event, or the FAILED events matching the filters (audited, with a reason)."""
    from uuid import UUID

    from application.ports.outbox import OutboxFilter
    from domain.errors import DomainError

    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    replay = container.replay_events()
    try:
        if event_id is not None:
            try:
                target = UUID(event_id)
            except ValueError:
                _refuse(f"not an event id: {event_id!r}")
            _print_json(replay(target, _os_user(), reason))
            return
        criteria = OutboxFilter(None, event_type, aggregate_type, aggregate_id,
                                _when(failed_since, "--failed-since"), _when(failed_until, "--failed-until"))
        done = replay.bulk(criteria, limit, dry_run, _os_user(), reason)
    except DomainError as error:
        _refuse(str(error))
    _print_json({"dry_run": dry_run, "count": len(done), "events": done})


@events.command("skip")
def skip_event(event_id: Annotated[str, typer.Argument(help="The FAILED event to give up on.")],
               reason: Reason = "") -> None:
    """Archive a FAILED event as SKIPPED (never delivered); its aggregate's parked events flow on."""
    from uuid import UUID

    from domain.errors import DomainError

    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    try:
        _print_json(container.replay_events().skip(UUID(event_id), _os_user(), reason))
    except (DomainError, ValueError) as error:
        _refuse(str(error))


@events.command("show")
def show_event(event_id: Annotated[str, typer.Argument(help="The event.")]) -> None:
    """An event's delivery timeline, step by step."""
    from uuid import UUID

    from domain.errors import DomainError

    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    try:
        timeline = container.event_timeline()(UUID(event_id))
    except (DomainError, ValueError) as error:
        _refuse(str(error))
    _print_json({"event_id": event_id, "status": timeline.record.status.value,
                 "steps": timeline.steps})


class Projection(StrEnum):
    INVENTORY = "inventory"


@projections.command("rebuild")
def rebuild_projection(name: Annotated[Projection, typer.Argument(help="The projection to rebuild.")]) -> None:
    """Recompute a projection from the write model in one transaction; report the rows changed."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    if name is Projection.INVENTORY:
        typer.echo(str(container.rebuild_inventory_projection()()))


@audit.command("verify")
def verify_audit_log() -> None:
    """Recompute the audit log's hash chain; print the result as JSON, exit 1 if a record does not hold."""
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    result = container.verify_audit_log()()
    typer.echo(json.dumps(result))
    if not result["ok"]:
        raise typer.Exit(1)


_AGE = re.compile(r"(\d+(?:\.\d+)?)([dh]?)")


def _age(text: str) -> timedelta:
    """`7d`, `36h`, or a number of days."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise typer.BadParameter(f"{text!r} is not an age like 7d, 36h or 7 (days)", param_hint="--older-than")
    return timedelta(hours=float(match[1])) if match[2] == "h" else timedelta(days=float(match[1]))


def _os_user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container's anonymous uid)
        return "cli"


@outbox.command("purge")
def purge_outbox(
    older_than: Annotated[str | None, typer.Option(metavar="AGE", help="Purge what was handled longer ago than "
                                                   "this: 7d, 36h, or days (default SUPPLYTRACE_RETENTION_DAYS).")]
    = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would go; remove nothing.")] = False,
) -> None:
    """Delete the handled events older than the retention, with their idempotency keys, in batches (audited)."""
    age = None if older_than is None else _age(older_than)
    if age is not None and age < FLOOR:
        _refuse(f"--older-than {older_than} is under the 1-day floor: the database refuses to delete younger rows")
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    batches = itertools.count(1)

    def progress(batch: Mapping[str, int]) -> None:
        typer.echo(f"batch {next(batches)}: removed " + ", ".join(f"{table} {n}" for table, n in batch.items()))

    report = container.purge_handled_events()(older_than=age, dry_run=dry_run, actor=_os_user(),
                                              progress=None if dry_run else progress)
    typer.echo(str(report))


@reminders.command("run")
def run_reminders(
    day: Annotated[str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="The day to remind for "
                                            "(default: today); a stage already sent is never sent again.")] = None,
) -> None:
    """Send the reminders due (CERT_EXPIRING, CERT_EXPIRED, ACTION_DUE_SOON, ACTION_OVERDUE, ACTION_ESCALATED)
    once each, through the outbox; the workers run the same job every SUPPLYTRACE_REMINDERS_EVERY_SECONDS."""
    from datetime import date

    try:
        when = None if day is None else date.fromisoformat(day)
    except ValueError:
        _refuse(f"--date: not a date YYYY-MM-DD ({day!r})")
    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    report = container.run_reminders()(when)
    sent = ", ".join(f"{kind} {n}" for kind, n in report.sent.items()) or "nothing"
    typer.echo(f"reminders for {report.day}: {report.examined} subjects examined, sent {sent}")


scorecard = typer.Typer(help="The supplier scorecard (ADR 0028).", no_args_is_help=True)
app.add_typer(scorecard, name="scorecard")


@scorecard.command("compute")
def compute_scores(
    month: Annotated[str | None, typer.Option(metavar="YYYY-MM", help="The month to store (default: the last "
                                              "complete month).")] = None,
) -> None:
    """Store the month's scores of every supplier in use that has none for it (a stored month never changes)."""
    from application.envelope import Origin
    from domain.errors import ValidationError
    from domain.scorecard import Month, last_complete_month

    container = build_container(_settings())
    prepare_database(container, auto_migrate=False)
    try:
        target = last_complete_month(container.clock().today()) if month is None else Month.parse(month, "--month")
        stored = container.compute_scores()(target.start, Origin(actor=_os_user()))
    except ValidationError as error:
        _refuse(f"{error.field}: {error.message}")
    typer.echo(f"{target}: {stored} supplier score{'' if stored == 1 else 's'} stored")


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

    configure_logging("WARNING")  # stdout is the demo's story; the embedded server's warnings go to stderr
    raise typer.Exit(run_demo(url, password, typer.echo))


def main() -> None:
    try:
        app()
    except SettingsError as error:  # settings loaded outside _settings() (the demo's embedded server)
        typer.echo(str(error), err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
