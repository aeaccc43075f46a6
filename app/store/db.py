"""Engine and session factory, with SQLite set up for several concurrent writers."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.paths import default_data_folder

SQLITE_BUSY_TIMEOUT_MS = 30_000
ANSWER_MARGIN_SECONDS = 5  # past statement_timeout, for the server's own cancel to arrive before we stop listening


@dataclass(frozen=True)
class DatabaseOptions:
    """How a process uses its database: the INVITES_DB_* settings (these defaults are theirs; see app.config)."""

    pool_size: int = 10
    pool_timeout: float = 10.0
    connect_timeout: int = 5
    statement_timeout: int | None = 10  # None: no limit (migrations may rewrite large tables)
    network_timeout: int = 10
    sqlite_busy_ms: int = SQLITE_BUSY_TIMEOUT_MS
    pooled: bool = True  # False: every use opens a connection of its own and closes it

    @property
    def answer_within(self) -> float | None:
        """How long a PostgreSQL connection waits for any answer before it gives up on the server."""
        if self.statement_timeout is None:
            return None
        return float(self.statement_timeout + self.network_timeout + ANSWER_MARGIN_SECONDS)

    def for_migrations(self) -> DatabaseOptions:
        return replace(self, statement_timeout=None)


class DatabaseUnavailable(Exception):
    """The database cannot be opened; the message names it (password hidden) and what failed, on one line."""


def make_engine(url: str, options: DatabaseOptions = DatabaseOptions()) -> Engine:
    """One engine per process, holding at most `options.pool_size` connections; work waits `pool_timeout` seconds for
    a free one, then fails (sqlalchemy.exc.TimeoutError). On SQLite every transaction takes the write lock up front."""
    pool: dict[str, Any] = {"poolclass": NullPool}
    if options.pooled:
        pool = {"pool_size": options.pool_size, "max_overflow": 0, "pool_timeout": options.pool_timeout, "pool_pre_ping": True}
    if url.startswith("sqlite"):
        if sqlite_file(make_url(url)) is None:
            pool = {}  # in memory: one connection per thread (SingletonThreadPool), nothing to size
        elif options.pooled:
            pool["pool_pre_ping"] = False  # a file has no server to drop the connection: a ping would be one more statement
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": options.sqlite_busy_ms / 1000}, **pool)
        _configure_sqlite(engine, options.sqlite_busy_ms)
        return engine
    from app.store import postgres  # psycopg is installed with the postgres extra only

    given = make_url(url).query
    args = postgres.connect_args(options.connect_timeout, options.statement_timeout, options.network_timeout)
    engine = create_engine(url, connect_args={k: v for k, v in args.items() if k not in given}, **pool)
    connection_class = postgres.connection_class(options.answer_within)

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        return connection_class.connect(*cargs, **cparams)

    return engine


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite database, or None for an in-memory one (or another backend)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or url.query.get("mode") == "memory":
        return None
    return Path(database.removeprefix("file:")).absolute()


def prepare_folder(url: URL) -> None:
    """Before SQLite first opens its file: make the default data folder; any other missing folder is an error."""
    path = sqlite_file(url)
    if path is None or path.parent.is_dir():
        return
    if path.parent == default_data_folder():
        path.parent.mkdir(exist_ok=True)
        return
    raise DatabaseUnavailable(_cannot_open(url, f"the folder {path.parent} does not exist"))


def ensure_reachable(engine: Engine) -> None:
    """Open a connection and run a trivial query; raises DatabaseUnavailable with one line saying what failed."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise DatabaseUnavailable(_cannot_open(engine.url, why_unavailable(engine.url, exc))) from None
    except OSError as exc:
        raise DatabaseUnavailable(_cannot_open(engine.url, exc.strerror or str(exc))) from None


def why_unavailable(url: URL, exc: DBAPIError) -> str:
    """The driver's reason in a few words: 'connection refused', 'the folder /x is not writable', …"""
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    reason = reason.removeprefix("connection failed: ")
    if reason.startswith("connection to server at ") and "failed: " in reason:
        reason = reason.rsplit("failed: ", 1)[1]  # psycopg: 'connection to server at "h", port 1 failed: Connection refused'
    reason = reason.removeprefix("FATAL:").strip()
    path = sqlite_file(url)
    if path is not None and reason == "unable to open database file":
        if not path.parent.is_dir():
            return f"the folder {path.parent} does not exist"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return f"the folder {path.parent} is not writable"
    return reason[:1].lower() + reason[1:] if reason[1:2].islower() else reason


def shown(url: URL) -> str:
    """The database as a person recognises it, never with its password."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{url.database}" if url.database else "sqlite://"
    return url.render_as_string(hide_password=True)


def _cannot_open(url: URL, reason: str) -> str:
    return f"cannot open the database {shown(url)}: {reason}"


def _configure_sqlite(engine: Engine, busy_ms: int) -> None:
    """WAL + busy timeout, and BEGIN IMMEDIATE so two writers queue instead of failing with 'database is locked'."""

    @event.listens_for(engine, "do_connect")
    def _before_connect(_dialect, _record, _cargs, _cparams) -> None:
        prepare_folder(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        reads_only = connection.get_execution_options().get(READS_ONLY)
        connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


READS_ONLY = "invitebot_reads_only"


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: on SQLite they begin without taking the write lock, so they never queue behind writers.
    Writes belong in the ordinary sessions, whose BEGIN IMMEDIATE makes writers wait their turn."""
    return sessionmaker(engine.execution_options(**{READS_ONLY: True}), expire_on_commit=False)


def database_answers(engine: Engine) -> bool:
    """True when a trivial query succeeds (/readyz and /metrics ask it before reading)."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False
