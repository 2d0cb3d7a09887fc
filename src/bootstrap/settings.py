"""All configuration: environment variables prefixed SUPPLYTRACE_ (and a .env file)."""

from __future__ import annotations

import os
from enum import StrEnum
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, get_args

from limits import parse as parse_rate
from pydantic import AliasChoices, BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from domain.roles import Role

DEFAULT_JWT_SECRET = "change-me-development-only-secret-000000"
DEFAULT_DEMO_PASSWORD = "demo"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class EventMode(StrEnum):
    POLLING = "polling"
    KAFKA = "kafka"
    RABBITMQ = "rabbitmq"

    @property
    def brokered(self) -> bool:
        """A broker carries the events: a relay publishes them, consumers hand them to the handlers."""
        return self is not EventMode.POLLING


PREFIX = "SUPPLYTRACE_"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_SCHEMES = ("memory://", "sqlite", "postgresql")
_SECRET_WORDS = ("url", "secret", "password", "users")  # an error never repeats these values


def aliases(name: str, *earlier: str) -> AliasChoices:
    """SUPPLYTRACE_<NAME> first, then the names the earlier systems used, in that order of precedence."""
    return AliasChoices(PREFIX + name.upper(), *earlier)


class SettingsError(Exception):
    """An invalid configuration, as one line naming the environment variable(s)."""


def _names(info: FieldInfo) -> tuple[str, ...]:
    alias = info.validation_alias
    return tuple(str(name) for name in alias.choices) if isinstance(alias, AliasChoices) else ()


def first_set(names: tuple[str, ...], *sources: Mapping[str, Any]) -> str | None:
    """The first of `names` set in any of `sources` (the environment, then .env): the order of the
    names decides, not the source, so SUPPLYTRACE_X in .env beats an earlier system's X in the environment."""
    return next((name for name in names for source in sources if name.lower() in source), None)


class _AliasesInOrder(PydanticBaseSettingsSource):
    """The fields with aliases, each from the first of its names that is set (see first_set)."""

    def __init__(self, settings_cls: type[BaseSettings], *sources: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.sources = [{k.lower(): v for k, v in getattr(source, "env_vars", {}).items() if v is not None}
                        for source in sources]

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        found = {}
        for field, info in self.settings_cls.model_fields.items():
            names = _names(info)
            name = first_set(names, *self.sources)
            if name is not None:  # keyed as the other sources key it: by the first name
                found[names[0]] = next(source[name.lower()] for source in self.sources if name.lower() in source)
        return found


class UserSetting(BaseModel):
    """A real user: `supplytrace hash-password` prints the hash."""

    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    password_hash: str = Field(min_length=20)


class Settings(BaseSettings):
    # populate_by_name: Settings(database_url=...) still works where a field has aliases
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore", populate_by_name=True)

    env: Environment = Environment.DEVELOPMENT
    # the earlier systems' names are lower-precedence aliases (ADR 0023); WRITE_ is the more specific one
    database_url: str = Field("sqlite:///./supplytrace.db",
                              validation_alias=aliases("database_url", "WRITE_DATABASE_URL", "DATABASE_URL"))
    # queries (lists, details, KPI, audit log) read from this PostgreSQL replica; none: from the primary
    read_database_url: str | None = Field(None, validation_alias=aliases("read_database_url", "READ_DATABASE_URL"))
    database_pool_size: int = Field(40, ge=1)
    # every wait on the database is bounded: past these a request gets a 503, a worker retries
    database_statement_timeout_seconds: float = Field(15.0, gt=0)
    database_connect_timeout_seconds: float = Field(5.0, gt=0)
    database_pool_timeout_seconds: float = Field(5.0, gt=0)
    event_mode: EventMode = EventMode.POLLING

    jwt_secret: str = DEFAULT_JWT_SECRET
    jwt_lifetime_seconds: int = Field(3600, ge=60)
    jwt_max_lifetime_seconds: int = Field(86400, ge=60)  # a token claiming a longer life is refused
    # "this token is not revoked" is believed this long per process (a logout elsewhere takes up to it)
    revocation_cache_seconds: float = Field(1.0, ge=0, le=60)
    api_threads: int = Field(16, ge=1, le=1000)  # threads running the sync endpoints (anyio's limiter)
    demo_users: bool = True
    demo_password: str = DEFAULT_DEMO_PASSWORD
    users: list[UserSetting] = []

    outbox_max_attempts: int = Field(5, ge=1)
    outbox_backoff_seconds: float = Field(1.0, ge=0)
    outbox_max_backoff_seconds: float = Field(300.0, ge=0)
    outbox_batch_size: int = Field(100, ge=1, le=10_000)
    delivery_timeline: bool = True  # record each delivery step (GET /events/{id}); false only to measure its cost
    outbox_lease_seconds: float = Field(10.0, gt=0)  # renewed every third of it while a relay holds the batch
    reconcile_after_seconds: float = Field(300.0, gt=0)  # published, not handled for this long: re-driven
    worker_poll_interval_seconds: float = Field(0.2, gt=0)
    # handled events and their idempotency keys are purged once this old: keep it longer than the
    # broker's redelivery window and the replay window (ADR 0015); the database refuses under a day
    retention_days: int = Field(7, ge=1)
    retention_every_seconds: float = Field(3600.0, ge=0)  # how often the workers purge; 0: never
    # a POST's Idempotency-Key is remembered (its response replayed) this long, then purged (ADR 0020)
    idempotency_window_seconds: int = Field(86400, ge=1)

    # a certificate is EXPIRING this many days before its expiry (ADR 0025)
    certificate_warn_days: int = Field(30, ge=0, le=366)
    # the reminder job (ADR 0027): how often the workers run it (0: never; `supplytrace reminders run`
    # still does), its stages, and who is told besides an escalated action's owner and its NC's owner
    reminders_every_seconds: float = Field(3600.0, ge=0)
    reminder_certificate_days: list[Annotated[int, Field(ge=0, le=366)]] = Field([60, 30, 7], min_length=1)
    reminder_action_due_soon_days: int = Field(7, ge=0, le=366)
    reminder_escalate_after_days: int = Field(7, ge=1, le=366)
    quality_lead: str | None = None  # a username of the user directory
    # the scorecard (ADR 0028): how often the workers store the last complete month's scores (0: never)
    scorecard_every_seconds: float = Field(3600.0, ge=0)

    fulfilment_auto: bool = False
    fulfilment_step_seconds: float = Field(1.0, ge=0)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias=aliases("kafka_bootstrap_servers",
                                                                                    "KAFKA_BOOTSTRAP_SERVERS"))
    kafka_topic_prefix: str = Field("supplytrace", pattern=r"^[A-Za-z0-9._-]+$")
    kafka_consumer_group: str = Field("supplytrace-handlers", validation_alias=aliases("kafka_consumer_group",
                                                                                       "KAFKA_CONSUMER_GROUP"))
    kafka_session_timeout_ms: int = Field(10000, ge=1000)
    kafka_delivery_timeout_ms: int = Field(30000, ge=1000)
    kafka_linger_ms: float = Field(1.0, ge=0)  # how long the producer gathers a batch before sending it
    kafka_consumer_batch_size: int = Field(500, ge=1, le=100_000)  # records handled in one transaction at most
    kafka_consumer_fetch_wait_ms: int = Field(100, ge=0)  # fetch.wait.max.ms: a fetch returns at once once data is there

    # RabbitMQ mode (ADR 0029): exchange P, partition queues P.0 … P.<N-1>, dead letters P.dlx → P.dlq
    rabbitmq_url: str = Field("amqp://guest:guest@127.0.0.1:5672/", validation_alias=aliases("rabbitmq_url",
                                                                                             "RABBITMQ_URL"))
    rabbitmq_prefix: str = Field("supplytrace", pattern=r"^[A-Za-z0-9._-]+$")
    rabbitmq_partitions: int = Field(4, ge=1, le=1024)  # changing it moves aggregates: drain the queues first
    rabbitmq_queue_type: Literal["quorum", "classic"] = "quorum"
    rabbitmq_prefetch: int = Field(100, ge=1, le=65535)  # unacknowledged messages per partition queue
    rabbitmq_consumer_batch_size: int = Field(500, ge=1, le=100_000)  # messages handled in one transaction at most
    rabbitmq_confirm_timeout_seconds: float = Field(30.0, gt=0)  # a publish waits this long for the confirms
    rabbitmq_connect_timeout_seconds: float = Field(5.0, gt=0)
    rabbitmq_heartbeat_seconds: int = Field(60, ge=0)  # 0: none

    # abuse: failed logins per username and logins per client (the `limits` notation), body size
    login_rate_per_user: str = "5/minute"
    login_rate_per_client: str = "30/minute"
    rate_limit_storage_url: str = "memory://"  # e.g. redis://127.0.0.1:6379 to share across processes
    max_body_bytes: int = Field(1_048_576, ge=1024)
    docs_enabled: bool | None = None  # /docs, /redoc, /openapi.json; default: on outside production
    compat_routes: bool = True  # the earlier systems' paths (/create_order, /inventario…): see routes/compat.py

    # Prometheus: /metrics on the API and the delivery observer (false: neither, e.g. to measure their cost);
    # the port on which `worker`, `relay` and `consume` serve /metrics (none: they do not)
    metrics_enabled: bool = True
    metrics_port: int | None = Field(None, ge=1, le=65535)

    log_level: LogLevel = Field("INFO", validation_alias=aliases("log_level", "LOG_LEVEL"))
    log_json: bool = False

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        aliased = _AliasesInOrder(settings_cls, env_settings, dotenv_settings)
        return init_settings, aliased, env_settings, dotenv_settings, file_secret_settings

    @field_validator("log_level", mode="before")
    @classmethod
    def _a_level(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().upper() in get_args(LogLevel):
            return value.strip().upper()  # `debug` is DEBUG
        return value

    @field_validator("read_database_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value  # READ_DATABASE_URL= : unset

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _a_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_SCHEMES):
            raise ValueError(f"unsupported scheme {value.split(':', 1)[0]!r} (memory://, sqlite:///…, postgresql://…)")
        if value is not None and value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("rabbitmq_url")
    @classmethod
    def _an_amqp_url(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("not an AMQP URL (amqp://user:password@host:5672/vhost, amqps://…)")
        return value

    @field_validator("reminder_certificate_days")
    @classmethod
    def _distinct_days(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a day")
        return sorted(value, reverse=True)

    @field_validator("login_rate_per_user", "login_rate_per_client")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse_rate(value)  # "5/minute", "100 per hour" …: raises on anything else
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.env is Environment.PRODUCTION:
            if self.jwt_secret == DEFAULT_JWT_SECRET or len(self.jwt_secret) < 32:
                raise ValueError("SUPPLYTRACE_JWT_SECRET must be set to a secret of 32+ characters in production")
            if self.demo_users:
                raise ValueError("demo users cannot run in production: set SUPPLYTRACE_DEMO_USERS=false")
        if self.users and self.jwt_secret == DEFAULT_JWT_SECRET:
            raise ValueError("real users (SUPPLYTRACE_USERS) need a SUPPLYTRACE_JWT_SECRET of your own: "
                             "with the public default, anyone could sign their tokens")
        if self.jwt_lifetime_seconds > self.jwt_max_lifetime_seconds:
            raise ValueError("SUPPLYTRACE_JWT_LIFETIME_SECONDS exceeds SUPPLYTRACE_JWT_MAX_LIFETIME_SECONDS")
        if self.docs_enabled is None:
            self.docs_enabled = self.env is not Environment.PRODUCTION
        if not self.demo_users and not self.users:
            raise ValueError("no users: set SUPPLYTRACE_USERS or enable SUPPLYTRACE_DEMO_USERS outside production")
        if self.read_database_url == self.database_url:
            self.read_database_url = None  # the order system's default (READ_ = WRITE_): no replica, one pool
        if self.read_database_url is not None and not (self.database_url.startswith("postgresql")
                                                        and self.read_database_url.startswith("postgresql")):
            raise ValueError("SUPPLYTRACE_READ_DATABASE_URL: a read replica needs PostgreSQL for both URLs "
                             "(SQLite and memory:// have one database: unset it)")
        return self


def _variable(loc: tuple[Any, ...], dotenv: Mapping[str, Any]) -> str:
    """The environment variable an error is about: of a field's names, the one that is set."""
    head = str(loc[0]) if loc else ""
    for field, info in Settings.model_fields.items():
        names = _names(info) or (PREFIX + field.upper(),)
        if head == field or head in names:
            environ = {name.lower(): value for name, value in os.environ.items()}
            return first_set(names, environ, dotenv) or names[0]
    return head


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env; raises SettingsError (one line) instead of a ValidationError."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        from dotenv import dotenv_values  # pydantic-settings reads .env with it

        dotenv = {name.lower(): value for name, value in dotenv_values(".env").items()} if os.path.isfile(".env") else {}
        problems = []
        for item in error.errors(include_url=False):
            message = item["msg"].removeprefix("Value error, ")
            if item["loc"]:
                variable, shown = _variable(item["loc"], dotenv), item.get("input")
                secret = any(word in variable.lower() for word in _SECRET_WORDS)
                got = f" (got {shown!r})" if isinstance(shown, str | int | float) and not secret else ""
                problems.append(f"{variable}: {message}{got}")
            else:
                problems.append(message)
        raise SettingsError("invalid configuration: " + "; ".join(problems).replace("\n", " ")) from None
