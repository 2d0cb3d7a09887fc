"""Alembic environment: the engine comes from the caller (see migrate.py), or, when the `alembic`
command runs it from the repository root (alembic.ini), from the settings like `supplytrace db upgrade`."""

import sys
from logging.config import fileConfig

from alembic import context

from adapters.outbound.sqlalchemy.tables import metadata


def _engine_of_the_settings():
    # the `alembic` command is an entry point of its own: it reads the configuration as the CLI does
    from adapters.outbound.sqlalchemy.engine import create_engine
    from bootstrap.settings import SettingsError, load_settings

    if context.config.config_file_name is not None:
        fileConfig(context.config.config_file_name, disable_existing_loggers=False)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    if settings.database_url.startswith("memory://"):
        print("memory:// needs no migration (SUPPLYTRACE_DATABASE_URL)", file=sys.stderr)
        raise SystemExit(2)
    return create_engine(settings.database_url, statement_timeout=settings.database_statement_timeout_seconds,
                         connect_timeout=settings.database_connect_timeout_seconds)


engine = context.config.attributes.get("engine") or _engine_of_the_settings()

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one: with foreign keys enforced, dropping
        # a table other rows refer to fails (a downgrade of suppliers). Off for the migration only (the
        # pragma is ignored inside a transaction), the references checked before it is on again.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # no BEGIN before it
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            context.execute("SET LOCAL statement_timeout = 0")  # a migration may take its time
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
