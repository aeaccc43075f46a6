"""Everything a running invitebot process holds, built once from Settings and closed on shutdown."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core.authz import Approvers
from app.core.decisions import Decider
from app.slack.gateway import SlackGateway, make_client
from app.store.db import make_engine, make_session_factory

log = logging.getLogger(__name__)

# Slow work (Slack admin calls that may take seconds each) runs here, never in Bolt's 5-thread ack pool.
BACKGROUND_THREADS = 32


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    gateway: SlackGateway
    decider: Decider
    approvers: Approvers
    background: ThreadPoolExecutor
    _in_flight: int = 0
    _idle: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.DATABASE_URL)
        sessions = make_session_factory(engine)
        gateway = SlackGateway(
            admin=make_client(settings.SLACK_ADMIN_TOKEN.get_secret_value(), settings.SLACK_API_URL),
            bot=make_client(settings.SLACK_BOT_TOKEN.get_secret_value(), settings.SLACK_API_URL),
        )
        replica_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            gateway=gateway,
            decider=Decider(sessions, gateway, replica_id, settings.INVITES_NOTIFY_REQUESTERS),
            approvers=Approvers(settings.INVITES_APPROVERS, gateway),
            background=ThreadPoolExecutor(max_workers=BACKGROUND_THREADS, thread_name_prefix="invitebot-work"),
        )

    @property
    def replica_id(self) -> str:
        return self.decider.replica_id

    def run_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run slow work after the ack; failures are logged, never lost silently."""
        with self._idle:
            self._in_flight += 1
        future = self.background.submit(fn, *args)
        future.add_done_callback(self._done)
        return future

    def in_flight(self) -> int:
        """Accepted work not finished yet (clicks being decided, cards being posted)."""
        with self._idle:
            return self._in_flight

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every accepted piece of work has finished; False if time ran out first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def _done(self, future: Future[Any]) -> None:
        error = future.exception()
        if error is not None:
            log.error("background work failed", exc_info=error)
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def close(self) -> None:
        """Finish in-flight work, then let go of the database."""
        self.background.shutdown(wait=True)
        self.engine.dispose()
