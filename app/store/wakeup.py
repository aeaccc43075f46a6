"""How a worker hears of a new outbox job at once, whichever process wrote it.

PostgreSQL: the transaction that writes a job also sends NOTIFY, which the server delivers when it commits (never on a
rollback), and each worker LISTENs on a connection of its own. SQLite has nothing of the kind: a process that commits a
job rings every worker's doorbell beside the file (app.store.doorbell), and each worker then looks whether the file
changed at all (PRAGMA data_version, which reads no table), and only then whether the queued jobs changed; it also
looks every LOOK_WITH_DOORBELL_SECONDS on its own (LOOK_SECONDS without a doorbell). Either way the worker's own poll
stays as the fallback (a lost connection, a missed look).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.orm import Session

from app.store import doorbell
from app.store.db import READS_ONLY, DatabaseOptions, make_engine, shown
from app.store.models import OutboxJob

log = logging.getLogger(__name__)

CHANNEL = "invitebot_outbox"
LOOK_SECONDS = 0.05  # SQLite: how often a worker looks for a change (what it costs: docs/operations.md)
LOOK_WITH_DOORBELL_SECONDS = 0.5  # and with a doorbell (app.store.doorbell), which rings at each job written
LISTEN_TICK = 0.5  # PostgreSQL: how often the listener looks up from waiting, to hear that it must stop
RECONNECT_SECONDS = 1.0
_QUEUED = "queued"  # app.core.outbox's name for a job waiting to be taken


def announce(session: Session, due: datetime) -> None:
    """Tell every worker a job due at `due` was written, in the caller's transaction: on PostgreSQL it reaches them at
    commit, and a worker that looks on its own before `due` is not woken; on SQLite each worker's doorbell rings once
    the transaction commits, and the worker looks."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :due)"), {"channel": CHANNEL, "due": due.isoformat()})
    else:
        database = bind.engine.url.database
        event.listen(session, "after_commit", lambda _session: doorbell.ring(database), once=True)


def _due(payload: str) -> datetime | None:
    """The moment a notification's job is due (None: unknown, so any worker looks)."""
    try:
        return datetime.fromisoformat(payload)
    except ValueError:
        return None


class Waker:
    """A thread calling `wake` whenever another process (or this one) may have written a job that is due."""

    def __init__(self, engine: Engine, options: DatabaseOptions, wake: Callable[[datetime | None], None]) -> None:
        self._url = engine.url
        self._options = replace(options, pool_size=1)
        self._wake = wake
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._bell: doorbell.Doorbell | None = None  # SQLite: made by the looking thread

    def start(self) -> None:
        if self._thread is None:
            postgres = self._url.get_backend_name() == "postgresql"
            target = self._listen if postgres else self._look
            self._thread = threading.Thread(target=target, name="invitebot-outbox-wakeup", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._bell is not None:
            self._bell.interrupt()
        if self._thread is not None:
            self._thread.join(timeout=LISTEN_TICK + RECONNECT_SECONDS)

    def _listen(self) -> None:
        from app.store import postgres  # psycopg is installed with the postgres extra only

        failing = False
        while not self._stopping.is_set():
            try:
                with postgres.listener(self._url, self._options) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    if failing:
                        log.warning("listening for new outbox jobs on %s again", shown(self._url))
                        failing = False
                    self._wake(None)  # a job written while nobody listened
                    while not self._stopping.is_set():
                        for notice in connection.notifies(timeout=LISTEN_TICK):
                            self._wake(_due(notice.payload))
            except Exception as exc:  # noqa: BLE001 - the server may be away a while: the poll covers, and we try again
                if not failing:
                    log.warning("cannot listen for new outbox jobs on %s (%s); polling until it can", shown(self._url), exc)
                    failing = True
                self._stopping.wait(RECONNECT_SECONDS)

    def _look(self) -> None:
        engine = make_engine(self._url.render_as_string(hide_password=False), self._options)
        reads = engine.execution_options(**{READS_ONLY: True})
        bell = self._bell = doorbell.Doorbell(self._url.database)
        if self._stopping.is_set():  # closed while the doorbell was made: its ring went nowhere
            bell.interrupt()
        every = LOOK_WITH_DOORBELL_SECONDS if bell.rings else LOOK_SECONDS
        version: Any = None
        queued: Any = None
        try:
            while not self._stopping.is_set():
                try:
                    with reads.connect() as connection:  # one connection: data_version counts other connections' commits
                        pragma = connection.connection.driver_connection  # sqlite3's own, in autocommit: no BEGIN for a PRAGMA
                        assert pragma is not None
                        while not self._stopping.is_set():
                            bell.wait(every)  # a ring: another process (or this one) committed a job
                            now_version = pragma.execute("PRAGMA data_version").fetchone()[0]
                            if now_version != version:
                                version, queued = now_version, self._looked(connection, queued)
                                connection.rollback()  # no read transaction held between looks
                except Exception:  # noqa: BLE001 - a locked or missing file now and then; the poll covers meanwhile
                    log.debug("could not look for new outbox jobs", exc_info=True)
                    self._stopping.wait(RECONNECT_SECONDS)
        finally:
            bell.close()
            engine.dispose()

    def _looked(self, connection: Connection, queued: Any) -> Any:
        """The file changed: wake with the earliest moment a job queued since the last look is due (the outbox then
        knows whether to look now, or whether its own next look comes first); jobs taken or finished wake nobody."""
        waiting = select(func.count(), func.max(OutboxJob.created_at)).where(OutboxJob.state == _QUEUED)
        now_queued = tuple(connection.execute(waiting).one())
        if now_queued == queued or not now_queued[0]:
            return now_queued
        if queued is None or queued[1] is None:
            self._wake(None)  # the first look: whatever is queued
            return now_queued
        newer = (OutboxJob.state == _QUEUED) & (OutboxJob.created_at > queued[1])
        due = connection.execute(select(func.min(OutboxJob.not_before)).where(newer)).scalar()
        if due is not None:
            self._wake(due)
        return now_queued
