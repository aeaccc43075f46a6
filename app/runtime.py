"""Everything a running invitebot process holds, built once from Settings and closed on shutdown."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core import pacing, policy
from app.core.authz import Approvers, GroupMembers
from app.core.decisions import Decider, Rules
from app.core.outbox import Outbox
from app.core.policy import Policy
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.slack.gateway import SlackGateway, make_client
from app.slack.token_health import ADMIN, BOT, TokenHealth
from app.store.db import make_engine, make_read_session_factory, make_session_factory
from app.work import CountedPool, InFlight

log = logging.getLogger(__name__)


# Work after an ack (claims, commands, App Home reads) runs here; the Slack calls a decision needs run in the outbox.
BACKGROUND_THREADS = 16
# Incoming requests are stored and their cards posted here, at the channel's pace, apart from clicks.
INGEST_THREADS = 4


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]  # read-only sessions: on SQLite they do not wait for the write lock
    gateway: SlackGateway
    decider: Decider
    workspaces: Workspaces
    approvers: Approvers
    outbox: Outbox
    background: CountedPool
    ingesting: CountedPool
    in_flight: InFlight
    token_check: TokenHealth  # what Slack last said about both tokens (auth.test, rejections, revocations)

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        engine = make_engine(settings.DATABASE_URL)
        sessions = make_session_factory(engine)
        reads = make_read_session_factory(engine)
        token_check = TokenHealth()
        gateway = build_gateway(settings, token_check)
        workspaces = Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions)
        replica_id = new_replica_id()
        in_flight = InFlight()
        outbox = Outbox(sessions, replica_id, reads)
        approvers = Approvers(settings.INVITES_APPROVERS, gateway, workspaces, settings.INVITES_WORKSPACE_APPROVERS)
        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=sessions,
            reads=reads,
            gateway=gateway,
            decider=build_decider(settings, sessions, gateway, replica_id, outbox, approvers, reads, groups=approvers.members),
            workspaces=workspaces,
            approvers=approvers,
            outbox=outbox,
            background=CountedPool(in_flight, max_workers=BACKGROUND_THREADS, thread_name_prefix="invitebot-work"),
            ingesting=CountedPool(in_flight, max_workers=INGEST_THREADS, thread_name_prefix="invitebot-ingest"),
            in_flight=in_flight,
            token_check=token_check,
        )
        from app.slack import jobs  # the outbox's Slack work needs the runtime it is part of

        jobs.register(runtime)
        return runtime

    def start(self) -> None:
        """Start taking outbox jobs (once the schema is migrated); doctor and one-off commands never do."""
        self.outbox.start()

    @property
    def replica_id(self) -> str:
        return self.decider.replica_id

    @property
    def policy(self) -> Policy | None:
        """INVITES_POLICY as read at start-up (a change takes effect on restart)."""
        return self.decider.policy

    def sync(self) -> SyncSummary:
        """One reconcile pass over invitebot's workspaces."""
        return sync_once(self.decider, self.workspaces, self.settings.routes, digest_over=self.settings.INVITES_DIGEST_OVER)

    def run_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run work after the ack; failures are logged, never lost silently."""
        return self.background.submit(fn, *args)

    def ingest_later(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Store an incoming request and post its card after the ack, where waiting for the channel's pace holds up no click."""
        return self.ingesting.submit(fn, *args)

    def wait_until_idle(self, timeout: float) -> bool:
        """Block until every accepted request's work (listeners, background, and the outbox jobs it made) has finished."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.in_flight.wait_until_idle(max(0.0, deadline - time.monotonic())):
                return False
            if not self.outbox.wait_until_idle(max(0.0, deadline - time.monotonic())):
                return False
            if self.in_flight.count() == 0:
                return True

    def close(self) -> None:
        """Finish in-flight work and running jobs (queued ones wait in the database), then let go of the database."""
        self.background.shutdown(wait=True)
        self.ingesting.shutdown(wait=True)
        self.outbox.stop()
        self.engine.dispose()


def build_gateway(settings: Settings, token_check: TokenHealth | None = None) -> SlackGateway:
    """Both Slack clients; `token_check` (when given) hears what Slack says of each token."""
    return SlackGateway(
        admin=make_client(
            settings.SLACK_ADMIN_TOKEN.get_secret_value(),
            settings.SLACK_API_URL,
            observer=token_check.observer(ADMIN) if token_check else None,
        ),
        bot=make_client(
            settings.SLACK_BOT_TOKEN.get_secret_value(), settings.SLACK_API_URL, observer=token_check.observer(BOT) if token_check else None
        ),
    )


def new_replica_id() -> str:
    """This process's name on its claims and outbox jobs: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_decider(
    settings: Settings,
    sessions: sessionmaker[Session],
    gateway: SlackGateway,
    replica_id: str,
    outbox: Outbox,
    approvers: Approvers | None,
    reads: sessionmaker[Session] | None = None,
    *,
    groups: GroupMembers | None = None,
) -> Decider:
    """The Decider with the rules, policy and paces Settings give; raises PolicyError for a policy file that is wrong."""
    return Decider(
        sessions=sessions,
        gateway=gateway,
        replica_id=replica_id,
        outbox=outbox,
        pace=pacing.Pace.per_minute("admin", settings.INVITES_ADMIN_CALLS_PER_MINUTE),
        post_pace=pacing.Pace.per_minute("post", settings.INVITES_CARD_POSTS_PER_MINUTE),
        approvers=approvers,
        rules=Rules(deny_reason_required=settings.INVITES_DENY_REASON_REQUIRED),
        notify_requesters=settings.INVITES_NOTIFY_REQUESTERS,
        reads=reads,
        policy=policy.load(settings.INVITES_POLICY) if settings.INVITES_POLICY else None,
        groups=groups,
    )
