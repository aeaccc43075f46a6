"""Block Kit of bulk decisions: the preview modal, the progress message with its Cancel button, the App Home's buttons."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from app.core.bulk.batches import SHOWN
from app.slack.ids import ActionId, BatchValue, DomainValue
from app.slack.ui import blocks, limits, modals, replies
from app.store.models import Action, InviteRequest, Source

DOMAINS_SHOWN = 3  # App Home: the busiest domains that get bulk buttons (each an actions block)
_SOURCES = frozenset({Source.SLASH.value, Source.HOME.value, Source.BUTTON.value})
_CHANNEL_ID = re.compile(r"[CDG][A-Z0-9]{2,}")


@dataclass(frozen=True)
class PreviewContext:
    """Carried in the preview's private_metadata: which batch, whether the modal asks for the reason, where to answer."""

    batch_id: int
    action: str
    source: str
    ask_reason: bool = False
    channel: str | None = None  # where a slash command was typed: its answers go there, ephemerally

    def encode(self) -> str:
        return json.dumps(
            {"batch": self.batch_id, "action": self.action, "source": self.source, "ask": self.ask_reason, "channel": self.channel}
        )

    @classmethod
    def decode(cls, raw: str) -> "PreviewContext":
        """What encode() wrote; anything else is a ValueError."""
        data = json.loads(raw)
        batch_id, action, source, channel = data["batch"], data["action"], data["source"], data.get("channel")
        if not isinstance(batch_id, int) or isinstance(batch_id, bool) or batch_id < 1:
            raise ValueError("private_metadata names no batch")
        if action not in (Action.APPROVE.value, Action.DENY.value) or source not in _SOURCES:
            raise ValueError("private_metadata names no bulk decision")
        if channel is not None and not (isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel)):
            raise ValueError("private_metadata names no channel")
        return cls(batch_id, action, source, bool(data.get("ask")), channel)

    def reply_to(self, user_id: str) -> dict[str, str]:
        """Where what happens after the submission is told: the App Home, or ephemerally where the command was typed."""
        if self.source == Source.HOME.value or not self.channel:
            return {"surface": "home", "user": user_id}
        return {"surface": "ephemeral", "channel": self.channel, "user": user_id}


def _title(action: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": "Approve in bulk" if action == Action.APPROVE.value else "Deny in bulk"}


def loading(action: str) -> dict[str, Any]:
    """What opens at once, within the trigger's 3 seconds, while the requests are read and the batch written."""
    return {
        "type": "modal",
        "title": _title(action),
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [blocks.context(":hourglass_flowing_sand: Finding the pending requests…")],
    }


def notice(action: str, text: str) -> dict[str, Any]:
    """A modal that only says something (nothing matches, not allowed): no submit button."""
    return {
        "type": "modal",
        "title": _title(action),
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [blocks.mrkdwn_section(text)],
    }


def preview_modal(
    context: PreviewContext,
    *,
    head: str,
    first: list[InviteRequest],
    total: int,
    reason: str | None,
    required: bool,
) -> dict[str, Any]:
    """The count, the first SHOWN requests (email escaped, workspace, type) and "and N more"; for a deny, its reason (or
    a box for it). Submitting it starts exactly this list."""
    lines = [replies.bulk_preview_line(r) for r in first[:SHOWN]]
    out: list[dict[str, Any]] = [blocks.mrkdwn_section(head)]
    group: list[str] = []
    for line in lines:  # sections under Slack's 3000 characters each
        if group and sum(len(g) + 1 for g in group) + len(line) > limits.SECTION_TEXT - 100:
            out.append(blocks.mrkdwn_section("\n".join(group)))
            group = []
        group.append(line)
    if group:
        out.append(blocks.mrkdwn_section("\n".join(group)))
    if total > len(lines):
        out.append(blocks.context(replies.bulk_more(total - len(lines))))
    if context.action == Action.DENY.value:
        if context.ask_reason:
            hint = "Required: every requester will see it." if required else "Optional: every requester will see it."
            out.append(
                {
                    "type": "input",
                    "block_id": modals.REASON_BLOCK,
                    "optional": not required,
                    "label": {"type": "plain_text", "text": "Reason"},
                    "hint": {"type": "plain_text", "text": hint},
                    "element": {
                        "type": "plain_text_input",
                        "action_id": modals.REASON_INPUT,
                        "multiline": True,
                        "max_length": modals.MAX_REASON,
                    },
                }
            )
        else:
            said = f"*Reason* (every requester will see it)\n>{blocks.safe(reason, 2500)}" if reason else "No reason is given."
            out.append(blocks.mrkdwn_section(said))
    verb = "Approve" if context.action == Action.APPROVE.value else "Deny"
    return {
        "type": "modal",
        "callback_id": ActionId.BULK_PREVIEW_MODAL.value,
        "private_metadata": context.encode(),
        "title": _title(context.action),
        "submit": {"type": "plain_text", "text": f"{verb} {total}"[: limits.VIEW_TITLE]},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": out[: limits.VIEW_BLOCKS],
    }


def progress_message(text: str, batch_id: int, action: str, *, running: bool) -> list[dict[str, Any]]:
    """The progress message: its line, and while it runs a Cancel button (with a confirmation)."""
    out = [blocks.mrkdwn_section(text)]
    if running:
        verb = "approve" if action == Action.APPROVE.value else "deny"
        out.append(
            {
                "type": "actions",
                "block_id": f"bulk-{batch_id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.BULK_CANCEL.value,
                        "text": {"type": "plain_text", "text": "Cancel"},
                        "style": "danger",
                        "value": BatchValue(batch_id).encode(),
                        "confirm": {
                            "title": {"type": "plain_text", "text": f"Cancel this bulk {verb}?"},
                            "text": {"type": "mrkdwn", "text": "The requests not started yet stay pending; those under way finish."},
                            "confirm": {"type": "plain_text", "text": "Cancel the rest"},
                            "deny": {"type": "plain_text", "text": "Keep going"},
                        },
                    }
                ],
            }
        )
    return out


def _label(text: str) -> str:
    """A button's plain text, cut to Slack's 75 characters."""
    return text if len(text) <= limits.BUTTON_TEXT else text[: limits.BUTTON_TEXT - 1] + "…"


def home_domains(domains: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The App Home's bulk buttons: for each of the busiest domains, Approve all and Deny all (each opens a preview)."""
    shown = domains[:DOMAINS_SHOWN]
    if not shown:
        return []
    counted = " · ".join(f"{blocks.safe(domain, 300)}: {count}" for domain, count in shown)
    intro = blocks.context(f"*Several from one domain:* {counted}. Each button shows the requests first.")
    return [intro, *domain_buttons(shown, block_prefix="home-bulk-")]


def domain_buttons(domains: list[tuple[str, int]], *, block_prefix: str, team: str | None = None) -> list[dict[str, Any]]:
    """Approve all and Deny all for each domain, in `team` only when given (a digest's workspace)."""
    out: list[dict[str, Any]] = []
    for domain, _count in domains:
        value = DomainValue(domain, team).encode()
        out.append(
            {
                "type": "actions",
                "block_id": f"{block_prefix}{domain}"[: limits.BLOCK_ID],
                "elements": [
                    {
                        "type": "button",
                        "action_id": ActionId.BULK_APPROVE.value,
                        "text": {"type": "plain_text", "text": _label(f"Approve all from {domain}")},
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": ActionId.BULK_DENY.value,
                        "text": {"type": "plain_text", "text": _label(f"Deny all from {domain}")},
                        "value": value,
                    },
                ],
            }
        )
    return out


def backlog_chooser(head: str, domains: list[tuple[str, int]], team: str, hint: str, channel: str | None) -> dict[str, Any]:
    """A digest's "Decide in bulk": the backlog's domains with the most requests, each with its two buttons; a click
    turns this modal into that domain's preview. `channel`: the digest's, where the answers after a confirm go."""
    counted = [blocks.mrkdwn_section(head)]
    if domains:
        listed = " · ".join(f"{blocks.safe(domain, 300)}: {count}" for domain, count in domains)
        counted.append(blocks.context(f"*Pending by email domain:* {listed}."))
    room = limits.VIEW_BLOCKS - len(counted) - 1
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Decide in bulk"},
        "close": {"type": "plain_text", "text": "Close"},
        "private_metadata": json.dumps({"channel": channel} if channel else {}),
        "blocks": [*counted, *domain_buttons(domains, block_prefix="digest-bulk-", team=team)[:room], blocks.context(hint)],
    }


def chooser_channel(view: dict[str, Any]) -> str | None:
    """The digest's channel a backlog chooser carries, or None for any other modal."""
    try:
        channel = json.loads(view.get("private_metadata") or "{}").get("channel")
    except (ValueError, AttributeError):
        return None
    return channel if isinstance(channel, str) and _CHANNEL_ID.fullmatch(channel) else None
