"""What core needs from Slack, named without Slack: the answers it reasons about and the calls it may ask for.

The Slack adapter (app.slack.api.gateway) implements these; core never imports the adapter. Everything else core wants
said in Slack (cards, answers, DMs, App Homes) it writes as outbox jobs, which the adapter's handlers carry out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Iterator, Protocol


class Kind(enum.Enum):
    """What a Slack answer means for the request."""

    ALREADY_PROCESSED = "already_processed"  # someone decided first: find out who
    INVITE_FAILED = "invite_failed"  # approved, but the invite itself was not sent
    GONE = "gone"  # the request no longer exists
    TRANSIENT = "transient"  # Slack's side; retried, then released so the card can be clicked again
    ADMIN_FIX = "admin_fix"  # token, scope, plan or workspace problem an admin must fix
    REJECTED = "rejected"  # Slack refused the request as malformed


@dataclass(frozen=True)
class CallResult:
    """What one Web API call came to: ok, or a Slack error code (our own 'network_error'/'http_error' for the wire)."""

    error: str | None = None
    retry_after: float | None = None  # ratelimited: the seconds Slack asked us to wait

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class DecisionRecord:
    """A decision as Slack's approved/denied lists report it."""

    request_id: str
    action: str  # "approve" | "deny"
    actor_id: str | None


class SlackCallFailed(Exception):
    """A non-decision call failed; carries the Slack error code."""

    def __init__(self, method: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(f"{method} failed: {code}")
        self.method = method
        self.code = code
        self.retry_after = retry_after  # ratelimited: the seconds Slack asked us to wait


class SlackAdmin(Protocol):
    """The Slack calls core makes itself: the org's lists, who decided, and user-group membership."""

    def pending_requests(self, team_id: str) -> Iterator[dict[str, Any]]: ...

    def decisions(
        self, team_id: str, *, within_decision: bool = False, wanted: set[str] | None = None
    ) -> dict[str, DecisionRecord]: ...

    def admin_user_id(self) -> str | None: ...

    def workspaces(self) -> list[dict[str, Any]]: ...

    def usergroup_members(self, usergroup_id: str, team_id: str) -> frozenset[str]: ...

    def org_user_id(self, user_id: str, team_id: str) -> str: ...

    def invite(
        self, *, team_id: str, email: str, channel_ids: list[str], guest: str | None, expires_ts: int | None, message: str | None
    ) -> CallResult: ...

    def channel_workspaces(self, channel_id: str) -> frozenset[str] | None: ...
