"""The deny-reason modal: opened at once, filled in with the request once it is read."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.slack.ids import ActionId
from app.slack.ui import blocks
from app.store.models import InviteRequest, Source

REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
MAX_REASON = 2000
# A deny modal opens from a card's or a list's Deny button, or from the App Home's: nothing else may be claimed.
DENY_SOURCES = frozenset({Source.BUTTON.value, Source.HOME.value})
_CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,}")


@dataclass(frozen=True)
class DenyContext:
    """Carried in private_metadata: which request, and where to answer the person who denies it."""

    request_id: str
    source: str
    channel: str | None

    def encode(self) -> str:
        return json.dumps({"id": self.request_id, "source": self.source, "channel": self.channel})

    @classmethod
    def decode(cls, raw: str) -> "DenyContext":
        """What encode() wrote; anything else (another source, a channel that is not an id) is a ValueError."""
        data = json.loads(raw)
        request_id, source, channel = data["id"], data["source"], data.get("channel")
        if not isinstance(request_id, str) or not request_id:
            raise ValueError("private_metadata names no request")
        if source not in DENY_SOURCES:
            raise ValueError(f"a deny modal does not come from {source!r}")
        if channel is not None and not (isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel)):
            raise ValueError("private_metadata names no channel")
        return cls(request_id, source, channel)


def _title() -> dict[str, Any]:
    return {"type": "plain_text", "text": "Deny invite request"}


def deny_form(context: DenyContext, *, required: bool, request: InviteRequest | None = None) -> dict[str, Any]:
    """The modal with its reason box; the request's details when known (the first open happens before reading it)."""
    about = (
        blocks.mrkdwn_section(f"Deny the invite for *{blocks.escape(request.email)}*? The requester will be told.")
        if request
        else blocks.context(f"Request `{context.request_id}`")
    )
    hint = "Required: the requester will see it." if required else "Optional: the requester will see it."
    return {
        "type": "modal",
        "callback_id": ActionId.DENY_REASON_MODAL.value,
        "private_metadata": context.encode(),
        "title": _title(),
        "submit": {"type": "plain_text", "text": "Deny"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            about,
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": not required,
                "label": {"type": "plain_text", "text": "Reason"},
                "hint": {"type": "plain_text", "text": hint},
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": MAX_REASON,
                },
            },
        ],
    }


def notice(text: str) -> dict[str, Any]:
    """A modal that only informs (not allowed, already decided): no submit button."""
    return {
        "type": "modal",
        "title": _title(),
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [blocks.mrkdwn_section(text)],
    }


def explanation(title: str, text: str) -> dict[str, Any]:
    """A modal that explains something under its own title (at most 24 characters), with a Close button only."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [blocks.mrkdwn_section(text)],
    }


def submitted_reason(view: dict[str, Any]) -> str | None:
    value = (((view.get("state") or {}).get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_INPUT) or {}
    reason = (value.get("value") or "").strip()
    return reason or None
