"""What the Slack adapter is handed by the composition root (app.main.container): one running process's parts."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.core.asks import AskLedger
from app.core.authz import Approvers
from app.core.outbox import Outbox
from app.core.policy import Policy
from app.core.services import Services
from app.core.sync import SyncSummary, sync_once
from app.core.workspaces import Workspaces
from app.slack.api.gateway import SlackGateway
from app.slack.api.token_health import TokenHealth
from app.store.health import Role, WriteCheck
from app.store.wakeup import Waker
from app.work import CountedPool, InFlight, Turns


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]  # read-only sessions: on SQLite they do not wait for the write lock
    gateway: SlackGateway
    services: Services
    workspaces: Workspaces
    approvers: Approvers
    outbox: Outbox
    background: CountedPool  # work after an ack, submitted only through app.slack.listeners.after_ack
    ingesting: CountedPool
    exports: Turns  # /invites export, one at a time in a process, submitted only through app.slack.listeners.after_ack
    in_flight: InFlight
    token_check: TokenHealth  # what Slack last said about both tokens (auth.test, rejections, revocations)
    write_check: WriteCheck  # whether the database takes writes now, asked without waiting on a silent server
    wakeup: Waker  # hears of jobs other processes write, so the outbox takes them at once
    asks: AskLedger  # writes down each click and Deny form before its ack, for a worker to decide

    def start(self, role: Role = Role.BOTH) -> None:
        """Start the heartbeat, which says `role`, and for a worker (or both) take outbox jobs, once the schema is
        migrated; doctor and one-off commands never start. A web process only writes jobs, for the workers."""
        self.write_check.role = role
        if role.works:
            self.outbox.start()
            self.wakeup.start()
        self.write_check.start()

    @property
    def replica_id(self) -> str:
        return self.services.replica_id

    @property
    def policy(self) -> Policy | None:
        """INVITES_POLICY as read at start-up (a change takes effect on restart)."""
        return self.services.policy

    def sync(self) -> SyncSummary:
        """One reconcile pass over invitebot's workspaces."""
        return sync_once(self.services, self.workspaces, self.settings.routes, digest_over=self.settings.INVITES_DIGEST_OVER)

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
        self.asks.close()
        self.background.shutdown(wait=True)
        self.ingesting.shutdown(wait=True)
        self.exports.shutdown(wait=True)
        self.wakeup.close()
        self.outbox.stop()
        self.write_check.close()
        self.engine.dispose()
