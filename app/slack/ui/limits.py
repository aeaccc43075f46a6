"""Slack's Block Kit limits that our builders must respect, in one place, and the one rule fitting a message in them.

Sources: Slack's block reference (https://docs.slack.dev/reference/block-kit/blocks), the actions block, button and
composition object pages, and ../shared/slack/reference.md §5.7. Slack answers `invalid_blocks` (messages) or
`invalid_arguments` (views) when one is exceeded, and the whole message or view is lost. A message whose blocks hold
more than about 12,000 characters of text in all is refused as `msg_blocks_too_long` (Slack's 12,000 for a markdown
block; slackapi/bolt-js issues 2509 and 2867 report the refusal for all of a message's blocks from 11,341 characters
on), so invitebot keeps every message to MESSAGE_TEXT.
"""

from __future__ import annotations

from typing import Any, Callable

Block = dict[str, Any]

MESSAGE_BLOCKS = 50  # blocks in one message (chat.postMessage, chat.update, response_url)
MESSAGE_TEXT = 11_000  # characters of text in all of one message's blocks, under Slack's ~12,000 with room to spare
VIEW_BLOCKS = 100  # blocks in a modal or a Home tab

SECTION_TEXT = 3000  # a section's text, and any text object in a context block
FIELD_TEXT = 2000  # one section field
SECTION_FIELDS = 10  # fields in one section
CONTEXT_ELEMENTS = 10  # elements in one context block
ACTIONS_ELEMENTS = 25  # elements in one actions block

HEADER_TEXT = 150  # a header block's plain_text
BUTTON_TEXT = 75  # a button's plain_text
BUTTON_VALUE = 2000
BUTTON_URL = 3000
BLOCK_ID = 255
ACTION_ID = 255

CONFIRM_TITLE = 100  # a confirmation dialog's plain_text title
CONFIRM_TEXT = 300  # its text
CONFIRM_BUTTON = 30  # its confirm and deny labels

VIEW_TITLE = 24  # a modal's title, submit and close labels
PRIVATE_METADATA = 3000


def text_length(node: Any) -> int:
    """Characters of text in blocks as Slack counts them against a message's total: every string under a "text" key,
    at any depth (sections, fields, context elements, headers, buttons, confirmation dialogs)."""
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    if not isinstance(node, dict):
        return 0
    return sum(len(value) if key == "text" and isinstance(value, str) else text_length(value) for key, value in node.items())


def fit(
    head: list[Block],
    items: list[list[Block]],
    more: Callable[[int], str],
    *,
    tail: Callable[[int], list[Block]] | None = None,
) -> list[Block]:
    """The one rule for every message invitebot sends: `head`, then as many whole `items` (each a few blocks, in order)
    as fit in MESSAGE_BLOCKS blocks and MESSAGE_TEXT characters of text, then, when some are left out, a line `more(n)`
    saying how many and what to do about them, then `tail(shown)` (such as a pager, which depends on how many were shown).
    """
    shown = fitting(head, items, more, tail=tail)
    return [*head, *(block for item in items[:shown] for block in item), *_ends(len(items) - shown, shown, more, tail)]


def fitting(
    head: list[Block],
    items: list[list[Block]],
    more: Callable[[int], str],
    *,
    tail: Callable[[int], list[Block]] | None = None,
) -> int:
    """How many of `items` fit() shows: the most that fit with the head, the line about the rest, and the tail."""
    blocks, chars = len(head), text_length(head)
    totals = [(blocks, chars)]  # blocks and characters of the head and the first n items
    for item in items:
        blocks, chars = blocks + len(item), chars + text_length(item)
        totals.append((blocks, chars))
    for shown in range(len(items), 0, -1):
        end = _ends(len(items) - shown, shown, more, tail)
        blocks, chars = totals[shown]
        if blocks + len(end) <= MESSAGE_BLOCKS and chars + text_length(end) <= MESSAGE_TEXT:
            return shown
    return 0  # not even one: the head is too long, which Slack's refusal shows and its builder must shorten


def _ends(left: int, shown: int, more: Callable[[int], str], tail: Callable[[int], list[Block]] | None) -> list[Block]:
    return ([_context(more(left))] if left else []) + (tail(shown) if tail else [])


def within(blocks: list[Block]) -> list[Block]:
    """Any message as it leaves for Slack (app.slack.api.gateway): unchanged when it fits; else its sections from the
    end are left out for a line saying how many, and its closing buttons are kept."""
    if len(blocks) <= MESSAGE_BLOCKS and text_length(blocks) <= MESSAGE_TEXT:
        return blocks
    body = list(blocks)
    buttons: list[Block] = []
    while body and body[-1].get("type") == "actions":
        buttons.insert(0, body.pop())
    return fit([], [[block] for block in body], _cut_short, tail=lambda shown: buttons)


def _cut_short(left: int) -> str:
    return f"{left} more {'section' if left == 1 else 'sections'} not shown: Slack takes no longer message."


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_TEXT]}]}
