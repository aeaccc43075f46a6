"""What one reconcile pass needs (database, Slack, workspaces, the Decider), without the server's pools and approvers."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine

from app.config import Settings
from app.core.decisions import Decider
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.slack.gateway import SlackGateway, make_client
from app.store.db import make_engine, make_session_factory


@dataclass
class SyncRuntime:
    """Built for `invitebot sync`: a pass and nothing that outlives it."""

    settings: Settings
    engine: Engine
    decider: Decider
    workspaces: Workspaces

    @classmethod
    def build(cls, settings: Settings) -> SyncRuntime:
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
            decider=Decider(sessions, gateway, replica_id, settings.INVITES_NOTIFY_REQUESTERS),
            workspaces=Workspaces(None if settings.all_teams else settings.INVITES_TEAM_IDS, gateway, sessions),
        )

    def sync(self) -> SyncSummary:
        """One reconcile pass over invitebot's workspaces."""
        return sync_once(self.decider, self.workspaces, self.settings.INVITES_CHANNEL)

    def close(self) -> None:
        """Let go of the database."""
        self.engine.dispose()
