"""What one reconcile pass needs (database, Slack, workspaces, the Decider), without the server's pools and approvers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine

from app.config import Settings
from app.core.authz import GroupMembers
from app.core.decisions import Decider
from app.core.outbox import Outbox
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.runtime import build_decider, build_gateway, new_replica_id
from app.slack.jobs import tell_requester
from app.store.db import make_engine, make_session_factory

# How long `invitebot sync` waits, after its pass, for the requester DMs the pass queued.
DRAIN_SECONDS = 60.0


@dataclass
class SyncRuntime:
    """Built for `invitebot sync`: a pass, and the DMs it owes, and nothing that outlives them."""

    settings: Settings
    engine: Engine
    decider: Decider
    workspaces: Workspaces
    outbox: Outbox

    @classmethod
    def build(cls, settings: Settings) -> SyncRuntime:
        engine = make_engine(settings.DATABASE_URL)
        sessions = make_session_factory(engine)
        gateway = build_gateway(settings)
        replica_id = new_replica_id()
        outbox = Outbox(sessions, replica_id)
        decider = build_decider(settings, sessions, gateway, replica_id, outbox, None, groups=GroupMembers(gateway))
        outbox.handle("notify", partial(tell_requester, sessions, gateway, decider.post_pace))
        return cls(
            settings=settings,
            engine=engine,
            decider=decider,
            workspaces=Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions),
            outbox=outbox,
        )

    def sync(self) -> SyncSummary:
        """One reconcile pass over invitebot's workspaces, then the requester DMs it queued (other jobs are the server's)."""
        summary = sync_once(
            self.decider, self.workspaces, self.settings.routes, digest_over=self.settings.INVITES_DIGEST_OVER
        )
        self.outbox.start()
        self.outbox.wait_until_idle(DRAIN_SECONDS)
        return summary

    def close(self) -> None:
        """Let go of the outbox and the database."""
        self.outbox.stop()
        self.engine.dispose()
