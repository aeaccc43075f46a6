"""What a requester reads: their own requests (/invites mine), and a direct message once one is decided."""

from __future__ import annotations

from typing import Any

from app.core.lifecycle import APPROVED, INVITE_FAILED
from app.slack.ui import blocks
from app.slack.ui.replies.words import LIST_REASON_CHARS, _sections, status_words
from app.store.models import InviteRequest


def mine(requests: list[InviteRequest]) -> list[dict[str, Any]]:
    """A requester's own requests and how each stands."""
    if not requests:
        return [blocks.mrkdwn_section("You have not asked to invite anyone yet.")]
    lines = [
        f"• *{blocks.safe(r.email, blocks.MAX_EMAIL_CHARS)}* ({blocks.slack_date(r.date_created)}): "
        f"{status_words(r, reason_chars=LIST_REASON_CHARS)}{guest_ends(r)}"
        for r in requests
    ]
    more = lambda left: f"{left} older requests not shown; an invite approver can look any of them up."  # noqa: E731
    return _sections([blocks.mrkdwn_section("*Your invite requests*")], lines, more=more)


def requester_dm(request: InviteRequest) -> str:
    """What a requester reads when their request was decided."""
    who = blocks.decided_by_words(request, "an admin")
    where = blocks.escape(request.team_name) if request.team_name else "the workspace"
    subject = f"Your request to invite {blocks.escape(request.email)} to {where}"
    if request.status == APPROVED:
        return f":white_check_mark: {subject} was approved by {who}. They will get an invitation by email."
    if request.status == INVITE_FAILED:
        return (
            f":warning: {subject} was approved by {who}, but Slack could not send the invitation "
            "(they may be deactivated or already in the workspace)."
        )
    reason = f"\nReason: {blocks.escape(request.deny_reason)}" if request.deny_reason else ""
    return f":no_entry: {subject} was denied by {who}.{reason}"


def guest_ends(request: InviteRequest) -> str:
    """After an approved guest's status in `/invites mine` and the requester's Home: when the account ends (nothing for anyone else)."""
    if request.status != APPROVED or request.invite_type not in blocks.GUEST_TYPES or request.date_expire is None:
        return ""
    return f" · guest account {blocks.slack_date(request.date_expire, lead='ends ')}"
