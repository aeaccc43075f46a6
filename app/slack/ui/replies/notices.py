"""Posts about a request nobody has decided in time, and the warning before a guest account ends."""

from __future__ import annotations

from app.slack.ui import blocks
from app.slack.ui.replies.words import age_words
from app.store.models import InviteRequest, Source


def approver_mentions(approvers: list[str]) -> str:
    """INVITES_APPROVERS as mentions: users, and user groups (S…, or S…@T… naming the group's workspace)."""
    ids = (approver.partition("@")[0] for approver in approvers)
    return " ".join(f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ids)


def reminder(age_seconds: int, approvers: list[str]) -> str:
    """On the card's thread, once the request has waited INVITES_REMIND_AFTER."""
    return f"Still waiting after {age_words(age_seconds)}: {approver_mentions(approvers)}, please approve or deny."


def escalation_to_group(group: str, age_seconds: int) -> str:
    """On the card's thread, once the request has waited INVITES_ESCALATE_AFTER (INVITES_ESCALATE_TO is a user group)."""
    return (
        f"<!subteam^{group}>: this invite request is still waiting after {age_words(age_seconds)}. "
        "Please approve or deny it here."
    )


def escalation(request: InviteRequest, age_seconds: int, *, permalink: str | None, channel: str) -> str:
    """In the escalation channel (INVITES_ESCALATE_TO), with a link to the card (or its channel, without one)."""
    where = f"<{permalink}|Open its card> to approve or deny it." if permalink else f"Its card is in <#{channel}>."
    return (
        f":rotating_light: The invite request for *{blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)}* to "
        f"{blocks.workspace_words(request)} is still waiting after {age_words(age_seconds)}. {where}"
    )


def approved_by(request: InviteRequest) -> str:
    """Who approved a request: a person, or the policy rule that did."""
    if request.decision_source == Source.POLICY.value:
        return f"policy *{blocks.safe(request.decided_by or 'unnamed', 64)}*"
    return f"<@{request.decided_by}>" if request.decided_by else "an admin"


def guest_expiry_dm(request: InviteRequest) -> str:
    """What a requester reads 7 days and 1 day before the guest account they asked for ends."""
    assert request.date_expire is not None
    where = blocks.escape(request.team_name) if request.team_name else "the workspace"
    return (
        f":hourglass: The guest account of {blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)} in {where} "
        f"{blocks.slack_date(request.date_expire, lead='ends ')}. It was approved by {approved_by(request)}; "
        "a Slack admin can change its time limit."
    )
