"""Tell the people who asked for an invite how their request ended, once per decision."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import update

from app.core.audit import now
from app.slack import blocks
from app.slack.gateway import SlackCallFailed
from app.store.models import InviteRequest, Status

if TYPE_CHECKING:
    from app.core.decisions import Decider

log = logging.getLogger(__name__)
_TOLD = (Status.APPROVED.value, Status.DENIED.value, Status.APPROVED_INVITE_FAILED.value)


def requesters(decider: "Decider", request_id: str) -> None:
    """DM each requester about a closed request; the first process to mark it in the database sends."""
    if not decider.notify_requesters:
        return
    with decider.sessions.begin() as session:
        won = session.execute(
            update(InviteRequest)
            .where(
                InviteRequest.id == request_id,
                InviteRequest.status.in_(_TOLD),
                InviteRequest.requesters_notified_at.is_(None),
            )
            .values(requesters_notified_at=now())
        ).rowcount
        request = session.get(InviteRequest, request_id) if won else None
    if request is None:
        return
    text = message(request)
    for user_id in request.requester_ids:
        try:
            decider.gateway.post_message(user_id, text=text, blocks=[blocks.mrkdwn_section(text)])
        except SlackCallFailed as exc:
            log.warning("could not tell requester %s about %s: %s", user_id, request_id, exc.code)


def message(request: InviteRequest) -> str:
    """What the requester reads."""
    who = f"<@{request.decided_by}>" if request.decided_by else "an admin"
    where = blocks.escape(request.team_name) if request.team_name else "the workspace"
    subject = f"Your request to invite {blocks.escape(request.email)} to {where}"
    if request.status == Status.APPROVED.value:
        return f":white_check_mark: {subject} was approved by {who}. They will get an invitation by email."
    if request.status == Status.APPROVED_INVITE_FAILED.value:
        return (
            f":warning: {subject} was approved by {who}, but Slack could not send the invitation "
            "(they may be deactivated or already in the workspace)."
        )
    reason = f"\nReason: {blocks.escape(request.deny_reason)}" if request.deny_reason else ""
    return f":no_entry: {subject} was denied by {who}.{reason}"
