"""Apply Alembic migrations, safely when several replicas start at once."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from app.paths import default_data_folder
from app.store.db import ensure_reachable, prepare_folder, shown, sqlite_file

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


class SchemaNotCurrent(Exception):
    """A command that only reads found no invitebot schema, or an older one; the message says to run `invitebot migrate`."""


def head_revision() -> str:
    """The newest migration this invitebot has ("0015")."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no head"
    return head


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at, or None where no invitebot schema exists."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> tuple[str | None, str]:
    """`alembic upgrade head` under the lock; a no-op when the schema is current. Returns (before, after)."""
    with migration_lock(engine) as connection:
        before = current_revision(connection)
        command.upgrade(alembic_config(connection), "head")
        connection.commit()
        return before, head_revision()


def require_current(engine: Engine) -> None:
    """Before a command that only reads: the database opens and holds the newest schema; it never creates or migrates
    one (not even a SQLite file). DatabaseUnavailable or SchemaNotCurrent says what is wrong, in one line."""
    database_file = sqlite_file(engine.url)
    if database_file is not None and not database_file.exists():
        if not database_file.parent.is_dir() and database_file.parent != default_data_folder():
            prepare_folder(engine.url)  # raises DatabaseUnavailable naming the missing folder
        raise SchemaNotCurrent(f"no invitebot schema at {shown(engine.url)}; run `invitebot migrate`")
    ensure_reachable(engine)
    with engine.connect() as connection:
        current = current_revision(connection)
    head = head_revision()
    if current is None:
        raise SchemaNotCurrent(f"no invitebot schema at {shown(engine.url)}; run `invitebot migrate`")
    if current != head:
        raise SchemaNotCurrent(
            f"the schema at {shown(engine.url)} is at {current} and this invitebot needs {head}; run `invitebot migrate`"
        )


def check_models_match(engine: Engine) -> None:
    """`alembic check`: raises if the models and the migrations disagree."""
    with engine.connect() as connection:
        command.check(alembic_config(connection))
