"""Alembic environment: the engine comes from the caller (see migrate.py), never from a file."""

from alembic import context

from adapters.outbound.sqlalchemy.tables import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            context.execute("SET LOCAL statement_timeout = 0")  # a migration may take its time
        context.run_migrations()
