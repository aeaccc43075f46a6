"""The composition root: every process's parts built once from Settings (serve, socket and doctor; the sync command)."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import DatabaseSettings, Settings
from app.core import holds, pacing, policy
from app.core.asks import AskLedger
from app.core.audit import now
from app.core.authz import Approvers, GroupMembers
from app.core.outbox import Outbox, failed, held_jobs
from app.core.services import Rules, Services
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.slack.api.client import make_client
from app.slack.api.gateway import SlackGateway
from app.slack.api.token_health import ADMIN, BOT, TokenHealth
from app.slack.jobs import asks
from app.slack.jobs import registry as jobs
from app.slack.runtime import Runtime
from app.store.db import DatabaseOptions, make_engine, make_read_session_factory, make_session_factory
from app.store.health import WriteCheck
from app.store.models import OutboxJob
from app.store.wakeup import Waker
from app.work import CountedPool, InFlight, Turns

# Work after an ack (commands, App Home reads, the Deny form) runs here; decisions run in the outbox (app.core.asks).
BACKGROUND_THREADS = 16
# Incoming requests are stored (and their cards queued) here, apart from clicks: placing one may list the org's workspaces.
INGEST_THREADS = 4


def build_runtime(settings: Settings) -> Runtime:
    """Everything `serve`, `socket` and `doctor` hold, built once from Settings; the outbox knows its Slack work."""
    options = database_options(settings)
    engine = make_engine(settings.DATABASE_URL, options)
    sessions = make_session_factory(engine)
    reads = make_read_session_factory(engine)
    token_check = TokenHealth()
    gateway = build_gateway(settings, token_check)
    workspaces = Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions)
    replica_id = new_replica_id()
    in_flight = InFlight()
    outbox = Outbox(sessions, replica_id, reads, poll=settings.INVITES_OUTBOX_POLL_SECONDS)
    approvers = Approvers(
        settings.INVITES_APPROVERS, gateway, workspaces, settings.INVITES_WORKSPACE_APPROVERS,
        allow_self_approval=settings.INVITES_ALLOW_SELF_APPROVAL,
    )
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        reads=reads,
        gateway=gateway,
        services=build_services(settings, sessions, gateway, replica_id, outbox, approvers, reads, groups=approvers.members),
        workspaces=workspaces,
        approvers=approvers,
        outbox=outbox,
        background=CountedPool(in_flight, max_workers=BACKGROUND_THREADS, thread_name_prefix="invitebot-work"),
        ingesting=CountedPool(in_flight, max_workers=INGEST_THREADS, thread_name_prefix="invitebot-ingest"),
        exports=Turns(in_flight, thread_name_prefix="invitebot-export"),
        in_flight=in_flight,
        token_check=token_check,
        write_check=WriteCheck(engine, options, replica_id),
        wakeup=Waker(engine, options, outbox.wake),
        asks=AskLedger(sessions, outbox, lambda ask, error: asks.tell_lost(runtime, ask, error), in_flight),
    )
    jobs.register(runtime)
    return runtime


def database_options(settings: DatabaseSettings) -> DatabaseOptions:
    """The INVITES_DB_* settings, as the store takes them."""
    return DatabaseOptions(
        pool_size=settings.INVITES_DB_POOL_SIZE,
        pool_timeout=settings.INVITES_DB_POOL_TIMEOUT,
        connect_timeout=settings.INVITES_DB_CONNECT_TIMEOUT,
        statement_timeout=settings.INVITES_DB_STATEMENT_TIMEOUT,
        network_timeout=settings.INVITES_DB_NETWORK_TIMEOUT,
    )


def build_gateway(settings: Settings, token_check: TokenHealth | None = None) -> SlackGateway:
    """Both Slack clients; `token_check` (when given) hears what Slack says of each token."""
    limits = {"timeout": settings.SLACK_API_TIMEOUT, "max_retry_after": settings.INVITES_MAX_RETRY_AFTER}
    return SlackGateway(
        admin=make_client(
            settings.SLACK_ADMIN_TOKEN.get_secret_value(),
            settings.SLACK_API_URL,
            observer=token_check.observer(ADMIN) if token_check else None,
            **limits,
        ),
        bot=make_client(
            settings.SLACK_BOT_TOKEN.get_secret_value(),
            settings.SLACK_API_URL,
            observer=token_check.observer(BOT) if token_check else None,
            **limits,
        ),
    )


def new_replica_id() -> str:
    """This process's name on its claims and outbox jobs: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_services(
    settings: Settings,
    sessions: sessionmaker[Session],
    gateway: SlackGateway,
    replica_id: str,
    outbox: Outbox,
    approvers: Approvers | None,
    reads: sessionmaker[Session] | None = None,
    *,
    groups: GroupMembers | None = None,
) -> Services:
    """Core's Services with the rules, policy and paces Settings give; raises PolicyError for a policy file that is wrong."""
    hold = timedelta(seconds=settings.INVITES_MAX_RETRY_AFTER)
    return Services(
        sessions=sessions,
        gateway=gateway,
        replica_id=replica_id,
        outbox=outbox,
        pace=pacing.Pace.per_minute("admin", settings.INVITES_ADMIN_CALLS_PER_MINUTE, hold),
        post_pace=pacing.Pace.per_minute("post", settings.INVITES_CARD_POSTS_PER_MINUTE, hold),
        approvers=approvers,
        rules=Rules(deny_reason_required=settings.INVITES_DENY_REASON_REQUIRED),
        notify_requesters=settings.INVITES_NOTIFY_REQUESTERS,
        reads=reads,
        policy=policy.load(settings.INVITES_POLICY) if settings.INVITES_POLICY else None,
        groups=groups,
    )


# How long `invitebot sync` waits, past the last slot its pace gave them, for the cards and DMs its pass queued.
DRAIN_SECONDS = 60.0


@dataclass
class SyncRuntime:
    """Built for `invitebot sync`: a pass, and the cards, digests and DMs it owes, and nothing that outlives them."""

    settings: Settings
    engine: Engine
    services: Services
    workspaces: Workspaces
    outbox: Outbox

    @classmethod
    def build(cls, settings: Settings) -> SyncRuntime:
        engine = make_engine(settings.DATABASE_URL, database_options(settings))
        sessions = make_session_factory(engine)
        reads = make_read_session_factory(engine)
        gateway = build_gateway(settings)
        replica_id = new_replica_id()
        outbox = Outbox(sessions, replica_id, reads)
        services = build_services(settings, sessions, gateway, replica_id, outbox, None, reads, groups=GroupMembers(gateway))
        jobs.register_cards(outbox, services, gateway, settings.INVITES_ADMIN_CALLS_PER_MINUTE, settings.routes)
        return cls(
            settings=settings,
            engine=engine,
            services=services,
            workspaces=Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions),
            outbox=outbox,
        )

    def sync(self) -> tuple[SyncSummary, list[OutboxJob], int]:
        """One reconcile pass over invitebot's workspaces, then the cards, digests and requester DMs it queued, each at
        its pace (other jobs are the server's); the pass's summary, those jobs Slack refused for good, and how many posts
        wait held for a channel that refused one (app.core.holds)."""
        started = now()
        summary = sync_once(
            self.services, self.workspaces, self.settings.routes, digest_over=self.settings.INVITES_DIGEST_OVER
        )
        self.outbox.start()
        self.outbox.drain(started, DRAIN_SECONDS)
        with self.services.read() as session:
            held = len(held_jobs(session, holds.POST_KINDS))
        return summary, failed(self.services.sessions, since=started, kinds=self.outbox.kinds), held

    def close(self) -> None:
        """Let go of the outbox and the database."""
        self.outbox.stop()
        self.engine.dispose()
