"""Tables: requests, the cards we posted, the audit log, batches, digests, approvals, notices, leases, the outbox, pace budgets,
replicas."""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY.
_BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Status(str, enum.Enum):
    """Where a request stands; only a conditional UPDATE moves a row out of PENDING."""

    PENDING = "pending"
    DECIDING = "deciding"
    APPROVED = "approved"
    DENIED = "denied"
    APPROVED_INVITE_FAILED = "approved_invite_failed"
    GONE = "gone"


_STATUSES_SQL = ", ".join(f"'{status.value}'" for status in Status)


class Action(str, enum.Enum):
    APPROVE = "approve"
    DENY = "deny"


class Source(str, enum.Enum):
    """The surface a decision came from."""

    BUTTON = "button"
    SLASH = "slash"
    HOME = "home"
    SYNC = "sync"
    OUTSIDE = "outside"
    POLICY = "policy"  # a rule of INVITES_POLICY in enforce mode; the actor is the rule's name


class InviteRequest(Base):
    __tablename__ = "invite_requests"
    # Only the statuses app.core.lifecycle moves a request between: the database itself refuses any other.
    __table_args__ = (CheckConstraint(f"status IN ({_STATUSES_SQL})", name="status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # NULL while the workspace is unknown (an org-wide event that names only the org); no buttons until it is known.
    team_id: Mapped[str | None] = mapped_column(String(32), index=True)
    team_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    real_name: Mapped[str | None] = mapped_column(String(255))
    requester_ids: Mapped[list[str]] = mapped_column(JSON)
    channel_ids: Mapped[list[str]] = mapped_column(JSON)
    invite_type: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    date_created: Mapped[datetime] = mapped_column(UtcDateTime)
    date_expire: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(32), default=Status.PENDING.value, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_source: Mapped[str | None] = mapped_column(String(16))
    deny_reason: Mapped[str | None] = mapped_column(Text)
    claim_owner: Mapped[str | None] = mapped_column(String(64))
    claim_action: Mapped[str | None] = mapped_column(String(16))
    claim_actor: Mapped[str | None] = mapped_column(String(32))
    claim_source: Mapped[str | None] = mapped_column(String(16))
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set by whichever process tells the requesters first, so they hear of a decision once.
    requesters_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why the requesters were not told by DM (`team_access_revoked`: invitebot may not act in the workspace); the card says so.
    requesters_untold: Mapped[str | None] = mapped_column(String(32))
    # When a claimed decision's admin call may go out (Slack's pace); the card says so while it waits.
    call_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Until when Slack asked invitebot to wait (a 429's Retry-After) before that call: the card words the wait as Slack's.
    slack_wait_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The first policy rule that matched when the request was stored, what it says (approve, deny, require_approvals)
    # and the policy's mode then (shadow or enforce); NULL when no rule matched or no policy is set.
    policy_rule: Mapped[str | None] = mapped_column(String(64))
    policy_verdict: Mapped[str | None] = mapped_column(String(24))
    policy_mode: Mapped[str | None] = mapped_column(String(16))
    # With policy_verdict "hold": why no rule may decide it now (policy_rule, when set, is the rule that cannot be checked).
    policy_note: Mapped[str | None] = mapped_column(String(300))
    # A require_approvals rule's count: in enforce mode it takes that many distinct approvers; NULL means one.
    approvals_needed: Mapped[int | None] = mapped_column(Integer)
    # Whether the person who decided did what the policy would have (NULL: no approve/deny verdict, or not decided by a person).
    policy_agreed: Mapped[bool | None] = mapped_column(Boolean)
    # Found in a backlog too big for a card each: the workspace's digest card stands for it instead.
    in_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RequestCard(Base):
    """A message we posted for a request; ts is NULL while the post is in flight."""

    __tablename__ = "request_cards"
    __table_args__ = (UniqueConstraint("request_id", "channel"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("invite_requests.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    reserved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The request status Slack last accepted a render of; sync re-renders cards that lag behind.
    rendered_status: Mapped[str | None] = mapped_column(String(32))


class DecisionLog(Base):
    """Audit of every attempt to decide, refused ones included; an attempt gets its outcome when Slack answers."""

    __tablename__ = "decision_log"
    __table_args__ = (Index("ix_decision_log_request_id_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    batch_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # the bulk decision this entry was part of
    # Whom an attempt that answers no invite request (a direct invitation) was about; NULL for the others, whose request says.
    team_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    invite_type: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # when the guest account it made ends


class Batch(Base):
    """A bulk decision: the requests a filter found when previewed, decided one by one at the workspace's pace once confirmed.

    `state`: preview (shown, not confirmed), running, cancelled or done; `progress_ts` is the message it keeps updated.
    """

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, object]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(32))
    progress_ts: Mapped[str | None] = mapped_column(String(32))
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class BatchItem(Base):
    """One request of a batch, in preview order; `outcome` once its decision has ended (or the batch was cancelled)."""

    __tablename__ = "batch_items"

    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(32))
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Digest(Base):
    """The one card standing for a workspace's backlog (INVITES_DIGEST_OVER), kept up to date instead of a card each."""

    __tablename__ = "digests"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Approval(Base):
    """One approver's approval of a request that needs several; the last one needed makes the one approve call."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("request_id", "approver_id"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("invite_requests.id", ondelete="CASCADE"))
    approver_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The workspace the approver acted in: their id is matched in those terms when their approval is checked again.
    actor_team: Mapped[str | None] = mapped_column(String(32))
    # Why the approval stopped counting (the refusal app.core.authz gives its approver now); NULL while it counts.
    lapsed: Mapped[str | None] = mapped_column(String(64))


class RequestNotice(Base):
    """A reminder, escalation or guest-expiry notice sent for a request: its row is what makes it go out once."""

    __tablename__ = "request_notices"

    request_id: Mapped[str] = mapped_column(ForeignKey("invite_requests.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class SyncRun(Base):
    """One reconcile pass and how it went, for the App Home and on-call."""

    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    summary: Mapped[str] = mapped_column(Text)
    errors: Mapped[int] = mapped_column(Integer)


class Lease(Base):
    """A named lock with an expiry, so one replica runs the sync at a time and a dead holder is replaced."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Replica(Base):
    """A running process's heartbeat, written by its database write probe: what `invitebot doctor` adds up against the
    server's connection limit (each replica holds up to `connections`), and the roles it shows."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    connections: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Filled and emptied by each probe, in one transaction: the write must take a page, as a new request's row does.
    probe: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What the process does (app.store.health.Role): a web replica is ready only while a worker's heartbeat is recent.
    role: Mapped[str] = mapped_column(String(16), server_default="web+worker")


class WorkspaceName(Base):
    """What Slack told us a workspace is called (admin.teams.list, or an event's `team`), shared by every replica."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    domain: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TeamAccess(Base):
    """Whether the org-wide app may act in a workspace, as Slack's latest team_access_granted/_revoked event said.

    A workspace without a row was never the subject of such an event: invitebot takes it that it may act there.
    """

    __tablename__ = "team_access"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    said_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the event's event_time: an older event never undoes a newer one


class CommandReceipt(Base):
    """A slash command already acted on, by its trigger_id: a replay of the same signed request is not acted on again."""

    __tablename__ = "command_receipts"

    trigger_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OutboxJob(Base):
    """Something Slack must be told, written in the transaction that made it necessary, done by whichever replica is free.

    `lane` orders the work (decisions, then answers and cards, then DMs and Homes); `not_before` is when it may run
    (Slack's pace or a backoff); a `running` job whose `locked_until` has passed belonged to a replica that died.
    """

    __tablename__ = "outbox_jobs"
    __table_args__ = (Index("ix_outbox_jobs_state_not_before", "state", "not_before"),)

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    lane: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(32), index=True)
    # Jobs that say the same thing (an App Home to publish for one user) share a key: one queued is enough.
    key: Mapped[str | None] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class PaceBudget(Base):
    """When the next call of a paced kind may go out (admin calls per workspace, posts per channel), for all replicas."""

    __tablename__ = "pace_budgets"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Until when a 429's Retry-After (capped by INVITES_MAX_RETRY_AFTER) holds this budget: its waits are Slack's.
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
