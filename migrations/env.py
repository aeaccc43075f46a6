"""Alembic environment: migrate the connection we are handed, or DATABASE_URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.config import DatabaseSettings, load
from app.store.db import make_engine
from app.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=load(DatabaseSettings).DATABASE_URL, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(load(DatabaseSettings).DATABASE_URL)
    with engine.connect() as own_connection:
        _run(own_connection)
        own_connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
