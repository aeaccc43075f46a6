"""Reading the page's JSON bodies and the bot's answers: required text fields, and the error shown for bad ones."""

from __future__ import annotations

import json
from typing import Any

from app.sandbox import Reply

Answer = tuple[int, dict[str, Any]]  # HTTP status and JSON body for the page


class BadRequest(ValueError):
    """The page sent something the demo cannot act on; the message is shown to the person."""


def text(body: dict[str, Any], key: str, *, required: bool = True, limit: int = 4000) -> str:
    """A text field of the body; BadRequest when it is missing (and required), not text, or too long."""
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise BadRequest(f"{key} is missing")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{key} must be text of at most {limit} characters")
    return value


def bot_answer(reply: Reply) -> dict[str, Any]:
    """The bot's HTTP answer, decoded when it is JSON."""
    try:
        body = json.loads(reply.body) if reply.body.strip() else None
    except ValueError:
        body = reply.body
    return {"ok": 200 <= reply.status < 300, "status": reply.status, "body": body}
