"""Apply Alembic migrations, safely when several replicas start at once."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

from app.store.db import prepare_folder, sqlite_file

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works; it only has to be the same in every replica.
PG_MIGRATION_LOCK_KEY = 0x1A71_7EB0


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's config built in code, so `invitebot migrate` works from any directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """Hold a cross-process lock for the duration of a migration and yield the connection to migrate with."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK_KEY})
                connection.commit()
        return
    database_file = sqlite_file(engine.url)
    if database_file is None:
        with engine.connect() as connection:
            yield connection
        return
    prepare_folder(engine.url)  # the lock sits beside the database: its folder must exist first
    lock_path = database_file.with_name(database_file.name + ".migrate.lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade_to_head(engine: Engine) -> None:
    """`alembic upgrade head` under the lock; a no-op when the schema is current."""
    with migration_lock(engine) as connection:
        command.upgrade(alembic_config(connection), "head")
        connection.commit()


def check_models_match(engine: Engine) -> None:
    """`alembic check`: raises if the models and the migrations disagree."""
    with engine.connect() as connection:
        command.check(alembic_config(connection))
