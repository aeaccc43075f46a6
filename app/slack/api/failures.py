"""The one rule turning a failed Slack call into what the outbox does next: wait for a slot, try again later, or give up."""

from __future__ import annotations

from app.core.outbox import GiveUp, Retry
from app.core.pacing import Pace
from app.slack.api.gateway import SlackCallFailed

# Slack answers that asking again will not change: the job is given up (and shows in /metrics, `invitebot outbox` and
# the App Home; a card's channel refusing it also fails /readyz).
NEVER_SUCCEEDS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "is_inactive",
        "cant_update_message",
        "edit_window_closed",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "msg_blocks_too_long",
        "no_text",
        "user_not_found",
        "messages_tab_disabled",  # a DM to someone when the app's Messages tab is off
        "team_access_not_granted",  # the org-wide app is not added to the workspace (team_access_revoked)
        "user_not_in_channel",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "used_url",
        "expired_url",
        "invalid_url",
        "no_service",
    }
)


def job_failure(exc: SlackCallFailed, slot: tuple[Pace | None, str] | None = None) -> Exception:
    """GiveUp for an answer asking again cannot change, else Retry; a 429 on a paced `slot` (pace, key) waits for its next turn."""
    if slot is not None and exc.code == "ratelimited":
        pace, key = slot
        return Retry(exc.code, exc.retry_after or 1.0, pace=(pace, key) if pace else None)
    return GiveUp(exc.code) if exc.code in NEVER_SUCCEEDS else Retry(exc.code)
