"""The earlier systems' setting names are lower-precedence aliases; an invalid setting is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap.settings import PREFIX, Settings, SettingsError, load_settings

ALIASED = {  # field: the earlier systems' names, highest precedence first
    "database_url": ("WRITE_DATABASE_URL", "DATABASE_URL"),
    "read_database_url": ("READ_DATABASE_URL",),
    "kafka_bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS",),
    "kafka_consumer_group": ("KAFKA_CONSUMER_GROUP",),
    "log_level": ("LOG_LEVEL",),
}
PG = "postgresql+psycopg://u@h:5432/"
SRC = Path(__file__).resolve().parents[2] / "src"  # this checkout's code, whatever the venv was installed from


@pytest.fixture(autouse=True)
def no_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in list(os.environ):
        if name.startswith(PREFIX) or any(name in names for names in ALIASED.values()):
            monkeypatch.delenv(name)


def test_each_earlier_name_is_read_and_the_supplytrace_name_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/plain")  # the 003/004 form, normalised
    monkeypatch.setenv("READ_DATABASE_URL", PG + "replica")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv("KAFKA_CONSUMER_GROUP", "order-processor")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert (settings.database_url, settings.read_database_url) == (PG + "plain", PG + "replica")
    assert (settings.kafka_bootstrap_servers, settings.kafka_consumer_group) == ("kafka:9092", "order-processor")
    assert settings.log_level == "DEBUG"

    monkeypatch.setenv("WRITE_DATABASE_URL", PG + "write")  # more specific than DATABASE_URL
    assert load_settings().database_url == PG + "write"
    for field, names in ALIASED.items():
        value = {"log_level": "ERROR"}.get(field, PG + field if "url" in field else "mine")
        monkeypatch.setenv(PREFIX + field.upper(), value)
        assert getattr(load_settings(), field) == value, f"SUPPLYTRACE_{field.upper()} must beat {names}"
    assert Settings(database_url="memory://", read_database_url=None).database_url == "memory://"  # by name
    monkeypatch.setenv("SUPPLYTRACE_READ_DATABASE_URL", "")  # set but empty: no replica
    assert load_settings().read_database_url is None
    monkeypatch.setenv("SUPPLYTRACE_READ_DATABASE_URL", PG + "database_url")  # the primary itself: no replica
    assert load_settings().read_database_url is None


def test_dotenv_is_read_under_both_names_and_the_environment_beats_it(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path) -> None:
    (tmp_path / ".env").write_text("LOG_LEVEL=warning\nKAFKA_CONSUMER_GROUP=from-dotenv\n"
                                   "SUPPLYTRACE_KAFKA_BOOTSTRAP_SERVERS=dotenv:9092\n")
    settings = load_settings()
    assert (settings.log_level, settings.kafka_consumer_group) == ("WARNING", "from-dotenv")
    assert settings.kafka_bootstrap_servers == "dotenv:9092"
    monkeypatch.setenv("SUPPLYTRACE_LOG_LEVEL", "critical")  # the same name: the environment beats .env
    assert load_settings().log_level == "CRITICAL"
    # the names' order decides, not the source: SUPPLYTRACE_ in .env beats an earlier name in the environment
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "leftover:9092")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///leftover.db")
    (tmp_path / ".env").write_text("SUPPLYTRACE_KAFKA_BOOTSTRAP_SERVERS=dotenv:9092\n"
                                   "SUPPLYTRACE_DATABASE_URL=sqlite:///dotenv.db\nLOG_LEVEL=nope\n")
    monkeypatch.delenv("SUPPLYTRACE_LOG_LEVEL")
    with pytest.raises(SettingsError, match=r"^invalid configuration: LOG_LEVEL: .*\(got 'nope'\)$"):
        load_settings()  # named as it is spelled in .env
    (tmp_path / ".env").write_text("SUPPLYTRACE_KAFKA_BOOTSTRAP_SERVERS=dotenv:9092\n"
                                   "SUPPLYTRACE_DATABASE_URL=sqlite:///dotenv.db\n")
    settings = load_settings()
    assert (settings.kafka_bootstrap_servers, settings.database_url) == ("dotenv:9092", "sqlite:///dotenv.db")
    assert Settings(_env_file=None).database_url == "sqlite:///leftover.db"  # without .env: the earlier name


@pytest.mark.parametrize(("environment", "expected"), [
    ({"SUPPLYTRACE_LOG_LEVEL": "verbose"}, "SUPPLYTRACE_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING', "
                                           "'ERROR' or 'CRITICAL' (got 'verbose')"),
    ({"LOG_LEVEL": "loud"}, "LOG_LEVEL: Input should be"),  # the name that was set, not the field's
    ({"SUPPLYTRACE_DATABASE_POOL_SIZE": "many"}, "SUPPLYTRACE_DATABASE_POOL_SIZE: Input should be a valid integer"),
    ({"DATABASE_URL": "mysql://root:hunter2@db/x"}, "DATABASE_URL: unsupported scheme 'mysql'"),
    ({"SUPPLYTRACE_READ_DATABASE_URL": PG + "r"}, "SUPPLYTRACE_READ_DATABASE_URL: a read replica needs PostgreSQL"),
    ({"SUPPLYTRACE_ENV": "production"}, "SUPPLYTRACE_JWT_SECRET must be set"),
])
def test_an_invalid_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                            environment: dict[str, str], expected: str) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith("invalid configuration: ") and expected in message
    assert "\n" not in message and "hunter2" not in message  # one line; a URL's password is never repeated


def test_two_invalid_settings_are_both_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPLYTRACE_LOG_LEVEL", "verbose")
    monkeypatch.setenv("SUPPLYTRACE_OUTBOX_BATCH_SIZE", "0")
    message = str(pytest.raises(SettingsError, load_settings).value)
    assert "SUPPLYTRACE_LOG_LEVEL" in message and "SUPPLYTRACE_OUTBOX_BATCH_SIZE" in message


def test_the_cli_prints_one_line_and_exits_2_without_a_traceback(tmp_path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(PREFIX)}
    environment["SUPPLYTRACE_LOG_LEVEL"] = "verbose"
    environment["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])
    for command in (["worker", "--once"], ["db", "upgrade"]):
        done = subprocess.run([sys.executable, "-m", "adapters.inbound.cli", *command], cwd=tmp_path,
                              env=environment, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == ["invalid configuration: SUPPLYTRACE_LOG_LEVEL: Input should be 'DEBUG', "
                                            "'INFO', 'WARNING', 'ERROR' or 'CRITICAL' (got 'verbose')"]
        assert done.stdout == ""
