"""Everything a running invitebot process holds, built once from Settings and closed on shutdown."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core.authz import Approvers
from app.core.decisions import Decider
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.slack.gateway import SlackGateway, make_client
from app.slack.token_health import ADMIN, BOT, TokenHealth
from app.store.db import make_engine, make_session_factory
from app.work import CountedPool, InFlight

log = logging.getLogger(__name__)


# Slow work (Slack admin calls that may take seconds each) runs here, never in Bolt's listener pool,
# whose threads only parse, ack and hand over.
BACKGROUND_THREADS = 32
LISTENER_THREADS = 8


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    gateway: SlackGateway
    decider: Decider
    workspaces: Workspaces
    approvers: Approvers
    background: CountedPool
    listeners: CountedPool
    in_flight: InFlight
    token_check: TokenHealth  # what Slack last said about both tokens (auth.test, rejections, revocations)

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.DATABASE_URL)
        sessions = make_session_factory(engine)
        token_check = TokenHealth()
        gateway = SlackGateway(
            admin=make_client(
                settings.SLACK_ADMIN_TOKEN.get_secret_value(), settings.SLACK_API_URL, observer=token_check.observer(ADMIN)
            ),
            bot=make_client(settings.SLACK_BOT_TOKEN.get_secret_value(), settings.SLACK_API_URL, observer=token_check.observer(BOT)),
        )
        workspaces = Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions)
        replica_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        in_flight = InFlight()
        return cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            gateway=gateway,
            decider=Decider(sessions, gateway, replica_id, settings.INVITES_NOTIFY_REQUESTERS),
            workspaces=workspaces,
            approvers=Approvers(settings.INVITES_APPROVERS, gateway, workspaces),
            background=CountedPool(in_flight, max_workers=BACKGROUND_THREADS, thread_name_prefix="invitebot-work"),
            listeners=CountedPool(in_flight, max_workers=LISTENER_THREADS, thread_name_prefix="invitebot-listener"),
            in_flight=in_flight,
            token_check=token_check,
        )

    @property
    def replica_id(self) -> str:
        return self.decider.replica_id

    def sync(self) -> SyncSummary:
        """One reconcile pass over invitebot's workspaces."""
        return sync_once(self.decider, self.workspaces, self.settings.INVITES_CHANNEL)

    def run_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run slow work after the ack; failures are logged, never lost silently."""
        return self.background.submit(fn, *args)

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every accepted request's work (listener and background) has finished."""
        return self.in_flight.wait_until_idle(timeout)

    def close(self) -> None:
        """Finish in-flight work, then let go of the database."""
        self.listeners.shutdown(wait=True)
        self.background.shutdown(wait=True)
        self.engine.dispose()
