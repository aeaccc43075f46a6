"""The stand-in's in-memory Slack world, shared by the HTTP handlers and the tests that observe it."""

from __future__ import annotations

import copy
import random
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_ALNUM = string.ascii_uppercase + string.digits


@dataclass
class Call:
    """One Web API call as the stand-in received and answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    error: str | None
    at: float


@dataclass
class Team:
    id: str
    name: str
    domain: str


@dataclass
class User:
    id: str
    name: str
    team_id: str
    real_name: str
    is_bot: bool = False


@dataclass
class RateLimits:
    """Opt-in pacing like Slack's: Tier 2 per method per workspace, ~1 message a second per channel."""

    tier2_per_minute: int = 20  # a minute's worth may come at once (Slack: "20+ per minute, occasional bursts")
    messages_per_second: float = 1.0
    message_burst: int = 1  # messages one channel takes at once before pacing bites
    buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at)

    def take(self, key: tuple[str, str], per_second: float, capacity: float) -> float:
        """Spend one call from the bucket; 0 when allowed, else the seconds until one is free."""
        now = time.monotonic()
        tokens, at = self.buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * per_second)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / per_second


@dataclass
class Channel:
    id: str
    name: str
    team_id: str | None
    is_archived: bool = False
    bot_member: bool = True  # the bot was invited: it may post here (Slack: not_in_channel otherwise)


@dataclass
class Usergroup:
    id: str
    team_id: str
    handle: str
    user_ids: list[str]


@dataclass
class InviteRequest:
    """A workspace invite request and, once decided, who decided it (admin.inviteRequests.*)."""

    id: str
    team_id: str
    email: str
    invite_type: str
    requester_ids: list[str]
    channel_ids: list[str]
    real_name: str | None
    request_reason: str | None
    date_created: int
    date_expire: int | None
    status: str = "pending"
    actor_id: str | None = None
    decided_seq: int = 0
    invite_id: str | None = None
    invite_date: int | None = None

    def item(self) -> dict[str, Any]:
        """The request as admin.inviteRequests.list returns it (no `team`, reference §1.1)."""
        return {
            "id": self.id,
            "email": self.email,
            "date_created": self.date_created,
            "requester_ids": list(self.requester_ids),
            "channel_ids": list(self.channel_ids),
            "invite_type": self.invite_type,
            "real_name": self.real_name,
            "date_expire": self.date_expire,
            "request_reason": self.request_reason,
        }

    def invite(self) -> dict[str, Any]:
        """The `invite` object of an approved.list item (reference §1.4)."""
        return {
            "id": self.invite_id,
            "inviter_id": self.requester_ids[0] if self.requester_ids else self.actor_id,
            "email": self.email,
            "date_created": self.invite_date,
            "date_resent": None,
            "is_bouncing": False,
            "invite_preferences": {
                "is_restricted": self.invite_type == "restricted",
                "is_ultra_restricted": self.invite_type == "ultra_restricted",
                "date_expire": self.date_expire,
                "channel_ids": list(self.channel_ids),
                "is_domain_matched": False,
                "real_name": self.real_name,
            },
        }


@dataclass
class Fault:
    """An injected answer for the next `remaining` calls of one method."""

    error: str
    status: int
    retry_after: int
    remaining: int
    # What goes wrong on the wire instead of a Slack error: "html_502" (a proxy's error page, the method not run),
    # or "truncated" (the method ran, its 200 answer cut short).
    wire: str | None = None


@dataclass
class ResponseUrl:
    """A response_url handed to the bot: where the interaction came from, when (SlackState.now), how often it was used."""

    channel: str
    user: str
    message_ts: str | None
    issued_at: float
    uses: int = 0


@dataclass
class Trigger:
    issued_at: float
    used: bool = False
    user_id: str | None = None  # whose click or command brought it: a modal it opens is shown to them


@dataclass
class OpenModal:
    """One view of a person's modal stack, with the errors a view_submission's ack put under its inputs."""

    view_id: str
    errors: dict[str, str] = field(default_factory=dict)


# extension -> (filetype, pretty_type, mimetype), as Slack's file objects say them; anything else is "binary"
FILE_TYPES = {
    "csv": ("csv", "CSV", "text/csv"),
    "txt": ("text", "Plain Text", "text/plain"),
}
UNKNOWN_FILE_TYPE = ("binary", "Binary", "application/octet-stream")


@dataclass
class UploadedFile:
    """A file from files.getUploadURLExternal: the length promised, where its bytes were kept, and where it was shared."""

    id: str
    filename: str
    length: int
    ticket: str
    title: str | None = None
    path: str | None = None  # the bytes on disk; None until the upload URL received exactly `length` bytes
    shared_in: list[str] = field(default_factory=list)
    completed: bool = False

    def kind(self) -> dict[str, str]:
        """filetype, pretty_type and mimetype as Slack's file object gives them, told by the name's extension."""
        extension = self.filename.rpartition(".")[2].lower() if "." in self.filename else ""
        filetype, pretty_type, mimetype = FILE_TYPES.get(extension, UNKNOWN_FILE_TYPE)
        return {"filetype": filetype, "pretty_type": pretty_type, "mimetype": mimetype}


@dataclass
class SlackState:
    """Everything the stand-in knows, guarded by one re-entrant lock whose condition signals every change."""

    bot_token: str
    admin_token: str
    bot_user_id: str
    admin_user_id: str
    enterprise_id: str
    app_id: str
    app_token: str
    bot_id: str = "B0SANDBOXBT"
    rate_limits: RateLimits | None = None  # None: no pacing (the default, so tests run at full speed)
    held_until: dict[str, float] = field(default_factory=dict)  # method -> time.monotonic() its 429s end (hold_method)
    enterprise_name: str = "Sandbox Org"
    teams: dict[str, Team] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    local_ids: dict[str, tuple[str, str]] = field(default_factory=dict)  # local U… id -> (global W… id, its workspace)
    channels: dict[str, Channel] = field(default_factory=dict)
    usergroups: dict[str, Usergroup] = field(default_factory=dict)
    requests: dict[str, InviteRequest] = field(default_factory=dict)
    messages: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # channel -> ts -> message
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    invites: list[dict[str, Any]] = field(default_factory=list)  # admin.users.invite, in order
    response_posts: list[dict[str, Any]] = field(default_factory=list)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    home_views: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> view
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # view id -> modal view
    views_opened: list[dict[str, Any]] = field(default_factory=list)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    modal_stacks: dict[str, list[OpenModal]] = field(default_factory=dict)  # user -> open views, the top one last
    closed_views: set[str] = field(default_factory=set)  # modals their person closed: views.update finds them no more
    calls: list[Call] = field(default_factory=list)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    in_progress: dict[str, int] = field(default_factory=dict)  # method -> calls received, held back by latency
    socket_url: str = ""  # where apps.connections.open sends the app: ws://127.0.0.1:<port>/link/
    socket_tickets: set[str] = field(default_factory=set)  # handed out by apps.connections.open, each good once
    socket_acks: dict[str, dict[str, Any]] = field(default_factory=dict)  # envelope_id -> the app's ack
    revoked: set[str] = field(default_factory=set)  # tokens Slack answers token_revoked for (FakeSlack.revoke_token)
    # Workspaces an org admin removed the org-wide app from: the bot's messages and views there answer
    # team_access_not_granted (FakeSlack.set_team_access; the sender's team_access_* events say so).
    no_access: set[str] = field(default_factory=set)
    dropped_answers: dict[str, int] = field(default_factory=dict)  # method -> calls done whose answer is never sent
    files: dict[str, UploadedFile] = field(default_factory=dict)  # file id -> what files.* were told and sent
    upload_url: str = ""  # where files.getUploadURLExternal sends uploads: http://127.0.0.1:<port>/upload/v1/
    upload_dir: str = ""  # where uploaded bytes are written as they arrive, so a large file never sits in memory
    clock_offset: float = 0.0  # seconds Slack's clock is ahead of this machine's (FakeSlack.advance_clock)
    version: int = field(default=0, init=False)
    lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    cond: threading.Condition = field(init=False, repr=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)
    _last_ts_us: int = field(default=0, init=False)
    _decisions: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.cond = threading.Condition(self.lock)

    def changed(self) -> None:
        """Wake every wait_for(); call with the lock held after mutating anything."""
        self.version += 1
        self.cond.notify_all()

    def now(self) -> float:
        """Slack's monotonic clock: this machine's, moved on by advance_clock, for what expires (response_urls)."""
        return time.monotonic() + self.clock_offset

    def new_id(self, prefix: str, length: int) -> str:
        with self.lock:
            return prefix + "".join(self._rng.choice(_ALNUM) for _ in range(length))

    def next_ts(self) -> str:
        """A message ts: strictly increasing, unique, shaped like Slack's "1732240000.000100"."""
        with self.lock:
            self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
            return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def decide(self, request_id: str, action: str, actor_id: str) -> str | None:
        """Move a pending request to approved/denied; return the Slack error code instead when that is impossible."""
        with self.lock:
            request = self.requests.get(request_id)
            if request is None:
                return "invalid_request"
            if request.status != "pending":
                return "already_processed"
            self._decisions += 1
            request.status = {"approve": "approved", "deny": "denied"}[action]
            request.actor_id = actor_id
            request.decided_seq = self._decisions
            if action == "approve":
                request.invite_id = self.new_id("I", 10)
                request.invite_date = int(time.time())
            self.changed()
            return None

    def summary(self) -> str:
        """A short picture of the world for assertion messages."""
        with self.lock:
            statuses: dict[str, int] = {}
            for request in self.requests.values():
                statuses[request.status] = statuses.get(request.status, 0) + 1
            recent = [f"{c.method}->{c.error or 'ok'}" for c in self.calls[-15:]]
            counts = {channel: len(msgs) for channel, msgs in self.messages.items()}
            return (
                f"requests={statuses} messages={counts} ephemerals={len(self.ephemerals)} "
                f"response_posts={len(self.response_posts)} calls={len(self.calls)} last={recent}"
            )

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 10.0, message: str = "") -> T:
        """Re-evaluate `predicate` after every change (outside the lock) until it is truthy or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = self.version
            value = predicate()
            if value:
                return value
            with self.lock:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise AssertionError(f"{message} (waited {timeout}s; {self.summary()})".strip())
                    if self.version != seen:
                        break
                    self.cond.wait(remaining)


def snapshot(value: T) -> T:
    """A deep copy, so observers never share mutable state with the server threads."""
    return copy.deepcopy(value)
