"""What core's use cases are handed by the composition root, in one bag, instead of reaching for globals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from app.core import pacing
from app.core.authz import Approvers, GroupMembers
from app.core.outbox import Outbox
from app.core.policy import Policy
from app.core.ports import SlackAdmin


@dataclass(frozen=True)
class Rules:
    """What a decision must satisfy besides being made by an approver."""

    deny_reason_required: bool = False


@dataclass(frozen=True)
class Services:
    """The one bag core is handed (never fetches): the database, Slack's lists, the outbox, the paces, the rules, the
    approvers and the policy, and a name for this process's claims. app.main.container builds it from Settings."""

    sessions: sessionmaker[Session]
    gateway: SlackAdmin  # Slack's lists, read to learn who decided
    replica_id: str
    outbox: Outbox
    pace: pacing.Pace  # admin calls per workspace
    post_pace: pacing.Pace | None = None  # posts per channel (cards, digests, requester DMs)
    approvers: Approvers | None = None  # None: every caller has checked already (sync closes, never decides)
    rules: Rules = Rules()
    notify_requesters: bool = True
    reads: sessionmaker[Session] | None = None  # read-only sessions, when the database has a cheaper kind for them
    policy: Policy | None = None  # INVITES_POLICY, read at start-up
    groups: GroupMembers | None = None  # user-group members, for policy rules that name requesters by group

    def read(self) -> Session:
        return (self.reads or self.sessions)()
