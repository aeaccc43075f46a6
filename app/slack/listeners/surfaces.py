"""Where the person behind a Slack request hears back: the channel they clicked in, their App Home, or a command's
response_url."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.request.payload_utils import is_block_actions, is_slash_command

from app.core.outbox import GiveUp, Retry
from app.core.outcomes import Outcome, Result
from app.slack.jobs.answers import tell
from app.slack.jobs.home import publish_home
from app.slack.runtime import Runtime
from app.slack.ui import replies
from app.store.models import Source


@dataclass(frozen=True)
class Surface:
    """Where a click came from, and so where its answer goes: the channel (ephemeral) or the App Home."""

    source: Source
    channel: str | None = None

    @classmethod
    def of(cls, body: dict[str, Any]) -> "Surface":
        container = body.get("container") or {}
        if container.get("type") == "view":
            return cls(Source.HOME)
        return cls(Source.BUTTON, container.get("channel_id") or (body.get("channel") or {}).get("id"))

    def reply_to(self, user_id: str) -> dict[str, str]:
        """Where the outbox sends this clicker's answer once Slack has answered."""
        if self.source is Source.HOME:
            return {"surface": "home", "user": user_id}
        return {"surface": "ephemeral", "channel": self.channel or "", "user": user_id}

    def answer(self, runtime: Runtime, user_id: str, outcome: Outcome) -> None:
        """An outcome known at once is told here; one that waits for Slack's answer is told by the outbox."""
        if outcome.result is Result.ACCEPTED:
            return
        self.tell(runtime, user_id, replies.decision(outcome, user_id, per_minute=runtime.settings.INVITES_ADMIN_CALLS_PER_MINUTE))
        if self.source is not Source.HOME and outcome.result not in (Result.REFUSED, Result.REASON_REQUIRED):
            publish_home(runtime, user_id)

    def tell(self, runtime: Runtime, user_id: str, text: str) -> None:
        try:
            tell(runtime, self.reply_to(user_id), text)
        except (Retry, GiveUp):
            pass  # told at once, not as an outbox job: nothing to try again, and the failure was logged


def reply_to_of(body: dict[str, Any]) -> dict[str, str] | None:
    """Where the person who sent this request hears back (app.slack.jobs.answers.tell reads it); None when nobody did.

    A slash command through its response_url (and, once that takes no more, in the channel it was typed in); a click
    where it was made (an ephemeral in its channel, or their App Home
    for a click in the Home or a modal). A modal's submission says where it was started in its own private_metadata
    (DenyContext, PreviewContext), and an event has nobody to answer.
    """
    if is_slash_command(body) and isinstance(body.get("response_url"), str) and isinstance(body.get("user_id"), str):
        return {"surface": "response_url", "url": body["response_url"], "user": body["user_id"], "channel": str(body.get("channel_id") or "")}
    user = body.get("user")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str):
        return None
    if is_block_actions(body):
        return Surface.of(body).reply_to(user["id"])
    return None
