"""Where the person behind a Slack request hears back, read from its payload: the channel they clicked in, their App
Home, or a command's response_url."""

from __future__ import annotations

from typing import Any

from slack_bolt.request.payload_utils import is_block_actions, is_slash_command

from app.slack.jobs.answers import Surface


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
