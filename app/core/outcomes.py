"""How an attempt to decide ended, as data: what decide() and the decision job return, and app.slack.ui words."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from app.core.authz import Verdict
from app.store.models import Action, InviteRequest


class Result(enum.Enum):
    """How an attempt ended, from the clicker's point of view."""

    ACCEPTED = "accepted"  # claimed; Slack is being asked, and the answer follows
    QUEUED = "queued"  # claimed; the call waits for the workspace's pace
    DECIDED = "decided"
    INVITE_FAILED = "invite_failed"
    DECIDED_ELSEWHERE = "decided_elsewhere"
    ALREADY_DECIDED = "already_decided"
    IN_FLIGHT = "in_flight"
    GONE = "gone"
    NOT_FOUND = "not_found"
    REFUSED = "refused"
    REASON_REQUIRED = "reason_required"
    APPROVAL_RECORDED = "approval_recorded"  # one of several approvals a rule asks for; no call yet
    ALREADY_APPROVED = "already_approved"  # this approver's approval is already counted
    FAILED = "failed"
    SKIPPED = "skipped"  # a bulk decision's item that was taken, or cancelled, before this attempt (nothing was done)


class Why(enum.Enum):
    """Why an attempt FAILED (or came to another result than its own call's), beyond Slack's error code."""

    SLACK_ERROR = "slack_error"
    RELEASED_MEANWHILE = "released_meanwhile"  # another attempt just failed and gave the request back
    NOT_LISTED_YET = "not_listed_yet"  # already_processed, but Slack's lists do not show the decision yet
    ANSWER_LOST_UNDECIDED = "answer_lost_undecided"  # the answer was lost; Slack's lists show it undecided
    ANSWER_LOST_UNCHECKED = "answer_lost_unchecked"  # the answer was lost, and the lists could not be read
    UNPLACED = "unplaced"  # the workspace is not known yet
    GAVE_UP = "gave_up"  # invitebot's own attempts kept failing (its database, say); the claim was given back
    TOO_LATE = "too_late"  # Slack answered after sync had resolved the claim; the request is open again
    LATE = "late"  # Slack answered after sync had resolved the claim; the row shows how it stands now


@dataclass(frozen=True)
class Outcome:
    """What an attempt came to, as data; app.slack.ui.replies turns it into the sentence a person reads."""

    result: Result
    action: Action
    request_id: str
    email: str | None = None
    error: str | None = None  # Slack's error code
    why: Why | None = None
    other: str | None = None  # who else holds or made the decision
    other_action: str | None = None
    outside: bool = False  # the other decision was made outside invitebot (in Slack's own admin pages)
    wait_seconds: float | None = None  # QUEUED: how long until the call may go out
    slack_wait_seconds: float | None = None  # QUEUED: how long Slack asked us to wait (its Retry-After); None: our pace
    verdict: Verdict | None = None  # REFUSED: why
    approvals: tuple[str, ...] = ()  # APPROVAL_RECORDED / ALREADY_APPROVED: who has approved so far, in order
    needed: int | None = None  # how many approvals the request's rule asks for
    # APPROVAL_RECORDED / ALREADY_APPROVED: earlier approvals that stopped counting now, as (approver, authz's refusal)
    lapsed: tuple[tuple[str, str], ...] = ()
    request: InviteRequest | None = field(default=None, compare=False)

    def payload(self) -> dict[str, Any]:
        """The outcome as an answer job carries it (the row is read again when the answer is written)."""
        return {
            "result": self.result.value,
            "action": self.action.value,
            "request_id": self.request_id,
            "email": self.email,
            "error": self.error,
            "why": self.why.value if self.why else None,
            "other": self.other,
            "other_action": self.other_action,
            "outside": self.outside,
            "wait_seconds": self.wait_seconds,
            "slack_wait_seconds": self.slack_wait_seconds,
        }

    @classmethod
    def from_payload(cls, data: dict[str, Any], request: InviteRequest | None) -> "Outcome":
        return cls(
            result=Result(data["result"]),
            action=Action(data["action"]),
            request_id=str(data["request_id"]),
            email=data.get("email"),
            error=data.get("error"),
            why=Why(data["why"]) if data.get("why") else None,
            other=data.get("other"),
            other_action=data.get("other_action"),
            outside=bool(data.get("outside")),
            wait_seconds=data.get("wait_seconds"),
            slack_wait_seconds=data.get("slack_wait_seconds"),
            request=request,
        )
