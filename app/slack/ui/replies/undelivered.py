"""What approvers read of Slack work given up for good (a DM to someone who left, a card in an archived channel), and
of workspaces invitebot was removed from: shown on the App Home, never a reason to stop serving."""

from __future__ import annotations

from app.core.queries import Undelivered
from app.slack.ui import blocks
from app.store.models import InviteRequest, OutboxJob

_WHAT = {
    "decide": "the decision call",
    "answer": "an answer to {user}",
    "notify": "the DM to {user}",
    "home": "the App Home of {user}",
    "post_card": "the card in {channel}",
    "card": "an update of the card in {channel}",
    "post_digest": "the backlog digest card in {channel}",
    "digest": "an update of the backlog digest card",
    "batch": "a bulk decision",
    "batch_progress": "a bulk decision's progress message",
    "remind": "a reminder in {channel}",
    "escalate": "an escalation",
    "expires": "the guest time-limit DM to {user}",
}


def job_words(job: OutboxJob, request: InviteRequest | None) -> str:
    """`the DM to @alan about ada@example.com: user_not_found`."""
    payload = job.payload or {}
    reply_to = payload.get("reply_to")
    user = payload.get("user") or (reply_to.get("user") if isinstance(reply_to, dict) else None)
    channel = payload.get("channel")
    who, where = f"<@{user}>" if user else "someone", f"<#{channel}>" if channel else "a channel"
    what = _WHAT.get(job.kind, job.kind).format(user=who, channel=where)
    about = f" about {blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)}" if request is not None else ""
    return f"{what}{about}: `{blocks.escape(job.last_error or '?')}`"


def undelivered_text(failed: Undelivered) -> str:
    """How many messages Slack refused for good, the latest few, and what on-call does about them."""
    many = "message" if failed.total == 1 else "messages"
    lines = [f":warning: *Slack refused {failed.total} {many} for good* (latest first):"]
    lines += [f"• {job_words(job, request)}" for job, request in failed.latest]
    if failed.total > len(failed.latest):
        lines.append(f"• and {failed.total - len(failed.latest)} more")
    lines.append("On-call: `invitebot outbox` lists them; `--retry-failed` sends them again once the cause is fixed.")
    return "\n".join(lines)


NO_ACCESS_SHOWN = 5  # workspaces named; the rest are counted (a section holds 3000 characters)


def no_access_text(labels: list[str]) -> str:
    """The workspaces an org admin removed invitebot from (team_access_revoked)."""
    named = ", ".join(blocks.safe(label, blocks.MAX_NAME_CHARS) for label in labels[:NO_ACCESS_SHOWN])
    if len(labels) > NO_ACCESS_SHOWN:
        named += f" and {len(labels) - NO_ACCESS_SHOWN} more"
    return f"*Not added to:* {named} (requesters there are not told by DM; an org admin can add invitebot back)"
