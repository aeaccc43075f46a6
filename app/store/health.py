"""Whether the database takes writes now: a probe that really writes (each replica's heartbeat), run in a thread of its
own on a connection of its own, so neither /healthz nor a Slack request waits on a database that stopped answering."""

from __future__ import annotations

import enum
import logging
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.store.db import DatabaseOptions, make_engine, shown
from app.store.dialect import upsert
from app.store.models import Replica

log = logging.getLogger(__name__)

ANSWER_WITHIN = 1.5  # /healthz and the request guard wait this long for the probe; Slack gives up on an ack after 3 s
PROBE_BUSY_MS = 1_000  # a SQLite probe waits this long for the write lock; past it the database is busy, not broken
HEARTBEAT_SECONDS = 10.0  # a running replica probes (and so is seen) at least this often
SEEN_WITHIN = timedelta(minutes=1)  # a replica not seen for this long is gone
WORKER_SEEN_WITHIN = timedelta(seconds=3 * HEARTBEAT_SECONDS)  # no worker seen for this long: none is running
_FORGET_AFTER = timedelta(days=1)
_PAD = bytes(8192)  # more than a SQLite page: the probe must find a free page, as a new request's row may


class Role(str, enum.Enum):
    """What a process does, as its heartbeat row says."""

    WEB = "web"  # Slack's requests: verified, acked, claimed; the Slack work they cause is queued for a worker
    WORKER = "worker"  # the outbox's jobs, the sync and the reminders
    BOTH = "web+worker"  # both in one process (`invitebot socket`)

    @property
    def works(self) -> bool:
        """Takes outbox jobs."""
        return self is not Role.WEB


class WriteCheck:
    """The last probe's answer, a probe under way, and the errors the process's own writes met; safe from every thread.

    A good answer is reused for `fresh_for` seconds and then refreshed in the background. A write of the process that
    fails for a reason a probe would find (full, read-only, the server gone) makes the answer bad at once, and a bad
    answer is never reused: the next request asks again, so recovery shows at once too.
    """

    def __init__(self, engine: Engine, options: DatabaseOptions, replica_id: str, fresh_for: float = 1.0) -> None:
        self._url = engine.url.render_as_string(hide_password=False)
        self._shown = shown(engine.url)
        # Its own connection, so a busy pool never delays it; on SQLite the file is opened afresh each time, as a restart
        # would open it (a file made read-only, or immutable, under an open connection still looks writable to it).
        sqlite = engine.url.get_backend_name() == "sqlite"
        self._listens = engine.url.get_backend_name() == "postgresql"
        self._options = replace(options, pool_size=1, sqlite_busy_ms=PROBE_BUSY_MS, pooled=not sqlite)
        self._replica_id = replica_id
        self.role = Role.BOTH  # set before the first probe by the process once it knows (Runtime.start)
        self._connections = options.pool_size + 1  # its pool, and the probe's own
        self._fresh_for = fresh_for
        self._lock = threading.Lock()
        self._engine: Engine | None = None  # made on the first probe: doctor and one-off commands never probe
        self._writable: bool | None = None
        self._reason = ""
        self._checked_at = 0.0
        self._under_way: threading.Event | None = None
        self._started_at = 0.0
        self._stopping = threading.Event()
        self._heartbeat: threading.Thread | None = None
        event.listen(engine, "handle_error", self._on_error)

    @property
    def reason(self) -> str:
        """Why the last answer was bad, in the driver's words (empty while it is good)."""
        with self._lock:
            return "" if self._writable else self._reason

    def probe(self, within: float = ANSWER_WITHIN) -> bool:
        """Ask the database now (or join the probe under way) and wait at most `within` seconds: what /healthz does."""
        done = self._start()
        if not done.wait(within):
            self._stalled(f"the database did not answer within {within:g} seconds")
            return False
        with self._lock:
            return bool(self._writable)

    def writable(self) -> bool:
        """For every Slack request: a good answer at once (refreshed in the background once stale); after a bad one, or
        while a probe hangs, a fresh answer within ANSWER_WITHIN."""
        with self._lock:
            hung = self._under_way is not None and time.monotonic() - self._started_at > ANSWER_WITHIN
            good = self._writable is True and not hung
            stale = time.monotonic() - self._checked_at >= self._fresh_for
        if hung:
            self._stalled(f"the database did not answer within {ANSWER_WITHIN:g} seconds")
            return False
        if good:
            if stale:
                self._start()
            return True
        return self.probe()

    def start(self) -> None:
        """Probe every HEARTBEAT_SECONDS, so the replica is seen (doctor counts it) while no request comes."""
        if self._heartbeat is None:
            self._heartbeat = threading.Thread(target=self._beat, name="invitebot-db-heartbeat", daemon=True)
            self._heartbeat.start()

    def close(self) -> None:
        """Stop the heartbeat and let go of the probe's connection (a probe still hanging ends with its timeouts)."""
        self._stopping.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=ANSWER_WITHIN)
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.dispose()

    def _beat(self) -> None:
        while not self._stopping.is_set():
            self.probe()
            self._stopping.wait(HEARTBEAT_SECONDS)

    def _start(self) -> threading.Event:
        """The probe under way, or a new one in its own thread."""
        with self._lock:
            if self._under_way is not None:
                return self._under_way
            done = self._under_way = threading.Event()
            self._started_at = time.monotonic()
        threading.Thread(target=self._run, args=(done,), name="invitebot-db-probe", daemon=True).start()
        return done

    def _run(self, done: threading.Event) -> None:
        writable, reason = False, "the probe failed"
        try:
            writable, reason = self._write()
        finally:
            with self._lock:
                was = self._writable
                self._writable, self._reason, self._checked_at, self._under_way = writable, reason, time.monotonic(), None
            done.set()
        if self._stopping.is_set():
            return  # shutting down: the probe's connection was let go under it
        if was is not False and not writable:
            log.error("the database %s does not take writes (%s): Slack events are answered 503 until it does", self._shown, reason)
        elif was is False and writable:
            log.warning("the database %s takes writes again", self._shown)

    def _write(self) -> tuple[bool, str]:
        """One transaction that writes this replica's row with a page-sized pad, empties the pad and commits: refused on a
        full disk, a read-only file or server, and on SQLite it needs the write lock (waiting past PROBE_BUSY_MS is busy)."""
        moment = datetime.now(timezone.utc)
        try:
            with Session(self._probe_engine()) as session, session.begin():
                # A worker on PostgreSQL holds one more: the connection it LISTENs on for new jobs (app.store.wakeup).
                connections = self._connections + (1 if self.role.works and self._listens else 0)
                values = {
                    "id": self._replica_id,
                    "connections": connections,
                    "seen_at": moment,
                    "probe": _PAD,
                    "role": self.role.value,
                }
                upsert(session, Replica, values, ["connections", "seen_at", "probe", "role"])
                session.execute(update(Replica).where(Replica.id == self._replica_id).values(probe=None))
                session.execute(delete(Replica).where(Replica.seen_at < moment - _FORGET_AFTER))
        except OperationalError as exc:
            if "database is locked" in str(exc.orig).lower():  # SQLite: other writers hold the lock, busy writing
                return True, ""
            return False, _first_line(exc.orig or exc)
        except Exception as exc:  # noqa: BLE001 - any other failure means "cannot write"
            return False, _first_line(exc)
        return True, ""

    def _probe_engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = make_engine(self._url, self._options)
            return self._engine

    def _stalled(self, reason: str) -> None:
        with self._lock:
            was, self._writable, self._reason = self._writable, False, reason
        if was is not False:
            log.error("the database %s does not take writes (%s): Slack events are answered 503 until it does", self._shown, reason)

    def _on_error(self, context: ExceptionContext) -> None:
        """A write of this process's met an error a probe would find too: stop taking requests until a probe succeeds."""
        if context.is_pre_ping or not (context.is_disconnect or cannot_write(context.original_exception)):
            return
        self._stalled(_first_line(context.original_exception))


def cannot_write(error: BaseException) -> bool:
    """The driver says the database takes no writes now: full, read-only, its file or its server out of reach."""
    sqlite = getattr(error, "sqlite_errorname", None)
    if sqlite is not None:
        return str(sqlite).startswith(("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN"))
    if not hasattr(error, "sqlstate"):
        return False
    state = getattr(error, "sqlstate", None)
    if state is None:  # psycopg's own: no answer from a server (refused, timed out, cut off)
        return type(error).__name__ in ("OperationalError", "InterfaceError")
    return str(state).startswith(("08", "53", "57P")) or state == "25006"  # connection, resources, shutdown, read-only


def replicas_seen(engine: Engine) -> list[Replica]:
    """The replicas whose probe wrote within SEEN_WITHIN: what `invitebot doctor` adds up."""
    with Session(engine) as session:
        since = datetime.now(timezone.utc) - SEEN_WITHIN
        return list(session.scalars(select(Replica).where(Replica.seen_at >= since).order_by(Replica.id)))


def workers_seen(session: Session, moment: datetime) -> tuple[int, datetime | None]:
    """How many processes taking outbox jobs wrote their heartbeat within WORKER_SEEN_WITHIN of `moment`, and when the
    latest of them did (whenever that was)."""
    works = Replica.role.in_([role.value for role in Role if role.works])
    recent = session.scalar(
        select(func.count()).select_from(Replica).where(works, Replica.seen_at >= moment - WORKER_SEEN_WITHIN)
    )
    return int(recent or 0), session.scalar(select(func.max(Replica.seen_at)).where(works))


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
