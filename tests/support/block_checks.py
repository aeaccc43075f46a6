"""Whether blocks, messages and views are ones Slack takes: slack_sdk's models, the stand-in's limits, no token cut."""

from __future__ import annotations

import inspect
import re
from typing import Any, Iterator

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from app.sandbox import block_kit
from app.slack.ui import limits

VIEW_ARGUMENTS = frozenset(inspect.signature(View.__init__).parameters) - {"self", "kwargs"}


def texts(node: Any) -> Iterator[str]:
    """Every string Slack renders: each `text` value anywhere in the blocks."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value)


def assert_no_token_cut(node: Any) -> None:
    for text in texts(node):
        outside_tokens = re.sub(r"<[^<>\n]*>", "", text)
        assert "<" not in outside_tokens, f"a <…> token is cut or unclosed in {text[-80:]!r}"
        assert "&" not in re.sub(r"&(amp|lt|gt);", "", text), f"an &entity; is cut in {text[-80:]!r}"


def assert_blocks_valid(surface: list[dict[str, Any]]) -> None:
    for block in surface:
        parsed = Block.parse(block)
        assert parsed is not None, f"slack_sdk knows no block type {block.get('type')!r}"
        parsed.to_dict()  # raises SlackObjectFormationError past slack_sdk's limits
    assert_no_token_cut(surface)


def assert_message_valid(surface: list[dict[str, Any]], text: str | None = None) -> None:
    assert 1 <= len(surface) <= limits.MESSAGE_BLOCKS
    assert_blocks_valid(surface)
    assert block_kit.message_problems(surface) == []
    assert block_kit.message_error(surface) is None, f"{limits.text_length(surface)} characters of text in one message"
    if text is not None:
        assert text and len(text) <= limits.SECTION_TEXT
        assert_no_token_cut({"text": text})


def assert_view_valid(view: dict[str, Any]) -> None:
    assert 1 <= len(view["blocks"]) <= limits.VIEW_BLOCKS
    assert_blocks_valid(view["blocks"])
    View(**{key: value for key, value in view.items() if key in VIEW_ARGUMENTS}).to_dict()
    assert block_kit.view_problems(view) == []
