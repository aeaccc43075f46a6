"""Engine and session factory, with SQLite set up for several concurrent writers."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.paths import default_data_folder

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
PROBE_BUSY_TIMEOUT_MS = 2_000  # a write probe waits this long for SQLite's write lock, not the writers' 30 s
# A statement that needs write access and changes nothing: refused on a read-only SQLite file (or one opened
# query_only), on a full or vanished disk's journal, and in a read-only PostgreSQL transaction or standby.
_WRITE_PROBE = "DELETE FROM invite_requests WHERE 1 = 0"
PG_CONNECT_TIMEOUT_SECONDS = 10  # a host that drops packets fails in seconds instead of hanging start-up


class DatabaseUnavailable(Exception):
    """The database cannot be opened; the message names it (password hidden) and what failed, on one line."""


def make_engine(url: str) -> Engine:
    """One engine per process; on SQLite every transaction takes the write lock up front."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    connect_args = {} if "connect_timeout" in url else {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS}
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, connect_args=connect_args)


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


def _configure_sqlite(engine: Engine) -> None:
    """WAL + busy timeout, and BEGIN IMMEDIATE so two writers queue instead of failing with 'database is locked'."""

    @event.listens_for(engine, "do_connect")
    def _before_connect(_dialect, _record, _cargs, _cparams) -> None:
        prepare_folder(engine.url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
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
    """True when a trivial query succeeds; what /healthz reports."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        return False


def database_writable(engine: Engine) -> bool:
    """True when the database takes a write: a transaction that runs a no-op DELETE and rolls back; what /healthz reports.

    On SQLite the transaction is BEGIN IMMEDIATE (see _configure_sqlite), so it also needs the write lock.
    """
    sqlite = engine.url.get_backend_name() == "sqlite"
    try:
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection  # pragmas outside any transaction
            if sqlite:
                raw.execute(f"PRAGMA busy_timeout={PROBE_BUSY_TIMEOUT_MS}")  # type: ignore[union-attr]
            try:
                connection.exec_driver_sql(_WRITE_PROBE)  # begins the transaction (BEGIN IMMEDIATE on SQLite)
                connection.rollback()
            finally:
                if sqlite:
                    raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")  # type: ignore[union-attr]
        return True
    except OperationalError as exc:
        if _busy(exc):  # other writers hold SQLite's lock: busy is not read-only
            return True
        log.debug("the database write probe failed: %s", exc)
        return False
    except Exception as exc:  # noqa: BLE001 - any other failure means "cannot write"
        log.debug("the database write probe failed: %s", exc)
        return False


def _busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked": the probe waited its 2 s behind writers that are busy writing."""
    return "database is locked" in str(exc.orig or exc).lower()


class WriteCheck:
    """Whether the database takes writes, for the guard in app.slack.bolt; safe to use from every thread.

    A good answer is reused, and refreshed in the background once it is `fresh_for` seconds old, so requests never
    wait for a probe (on SQLite it needs the write lock the decisions hold); a bad one is never reused, so the first
    request after the database recovers goes through.
    """

    def __init__(self, engine: Engine, fresh_for: float = 1.0) -> None:
        self._engine = engine
        self._fresh_for = fresh_for
        self._lock = threading.Lock()
        self._writable: bool | None = None
        self._checked_at = 0.0
        self._refreshing = False

    def writable(self) -> bool:
        """Never makes a request wait while the database is fine: a stale good answer is refreshed in the background.

        Before the first answer, and while the last one was bad, the probe runs at once (recovery shows immediately).
        """
        with self._lock:
            good = self._writable is True
            stale = time.monotonic() - self._checked_at >= self._fresh_for
            refresh = good and stale and not self._refreshing
            if refresh:
                self._refreshing = True
        if refresh:
            threading.Thread(target=self._refresh, name="invitebot-write-check", daemon=True).start()
        return True if good else self.probe()

    def _refresh(self) -> None:
        try:
            self.probe()
        finally:
            with self._lock:
                self._refreshing = False

    def probe(self) -> bool:
        """Ask the database now (what /healthz does), and remember the answer."""
        writable = database_writable(self._engine)
        with self._lock:
            was, self._writable, self._checked_at = self._writable, writable, time.monotonic()
        if was is not False and not writable:
            log.error("the database %s does not take writes: Slack events are answered 503 until it does", shown(self._engine.url))
        elif was is False and writable:
            log.warning("the database %s takes writes again", shown(self._engine.url))
        return writable
