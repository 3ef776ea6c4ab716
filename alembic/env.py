"""Alembic environment for reminder.

Used two ways: `alembic upgrade head` from a checkout (URL from REMINDER_DATABASE_URL, the -x url=... option
or the default store), and `reminder db upgrade` / the embedded store's self-upgrade, which pass an engine.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine

from alembic import context
from reminder.db.models import Base

config = context.config
target_metadata = Base.metadata


def _engine() -> Engine:
    engine = config.attributes.get("connection_engine")
    if engine is not None:
        return engine
    from reminder.config import load_settings
    from reminder.db import create_store_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url
    return create_store_engine(url)


def run_migrations_offline() -> None:
    from reminder.config import load_settings

    url = context.get_x_argument(as_dictionary=True).get("url") or load_settings().database_url
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # The caller's connection, already inside its transaction (the SQLite store's BEGIN IMMEDIATE): the
        # caller commits, so a concurrent start never sees half a schema.
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = _engine()
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
