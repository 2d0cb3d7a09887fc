"""All configuration: environment variables prefixed SUPPLYTRACE_ (and a .env file)."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from limits import parse as parse_rate
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class UserSetting(BaseModel):
    """A real user: `supplytrace hash-password` prints the hash."""

    username: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    role: Role
    password_hash: str = Field(min_length=20)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SUPPLYTRACE_", env_file=".env", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./supplytrace.db"
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

    fulfilment_auto: bool = False
    fulfilment_step_seconds: float = Field(1.0, ge=0)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = Field("supplytrace", pattern=r"^[A-Za-z0-9._-]+$")
    kafka_consumer_group: str = "supplytrace-handlers"
    kafka_session_timeout_ms: int = Field(10000, ge=1000)
    kafka_delivery_timeout_ms: int = Field(30000, ge=1000)
    kafka_linger_ms: float = Field(1.0, ge=0)  # how long the producer gathers a batch before sending it
    kafka_consumer_batch_size: int = Field(500, ge=1, le=100_000)  # records handled in one transaction at most
    kafka_consumer_fetch_wait_ms: int = Field(100, ge=0)  # fetch.wait.max.ms: a fetch returns at once once data is there

    # abuse: failed logins per username and logins per client (the `limits` notation), body size
    login_rate_per_user: str = "5/minute"
    login_rate_per_client: str = "30/minute"
    rate_limit_storage_url: str = "memory://"  # e.g. redis://127.0.0.1:6379 to share across processes
    max_body_bytes: int = Field(1_048_576, ge=1024)
    docs_enabled: bool | None = None  # /docs, /redoc, /openapi.json; default: on outside production

    # Prometheus: /metrics on the API and the delivery observer (false: neither, e.g. to measure their cost);
    # the port on which `worker`, `relay` and `consume` serve /metrics (none: they do not)
    metrics_enabled: bool = True
    metrics_port: int | None = Field(None, ge=1, le=65535)

    log_level: str = "INFO"
    log_json: bool = False

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
        if self.database_url.startswith("postgresql://"):
            self.database_url = "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        return self
