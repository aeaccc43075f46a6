"""Block Kit checked the way Slack checks it, so the stand-in refuses what Slack would refuse.

Pure functions: blocks or a view in, a list of problems (JSON pointer and what is wrong) or Slack's error code out.
The numbers are Slack's, from its block reference (https://docs.slack.dev/reference/block-kit/blocks and the pages
of each block, element and composition object) and ../shared/slack/reference.md §5.7; they are kept here, apart
from the bot's own app/slack/ui/limits.py, so the stand-in checks the bot instead of agreeing with it.

Slack answers `invalid_blocks` for a message (chat.postMessage, chat.update, chat.postEphemeral, a response_url post)
and `invalid_arguments` for a view (views.publish, views.open, views.update). A message whose blocks are each valid
but hold more than about 12,000 characters of text in all is refused with `msg_blocks_too_long`: Slack documents the
12,000 for a markdown block and for `markdown_text`, and its SDK maintainers give it as the total for a message's
blocks (slackapi/bolt-js issues 2509 and 2867, where messages of 11,341 to 13,297 characters were refused).
"""

from __future__ import annotations

from typing import Any

MESSAGE_BLOCKS = 50
MESSAGE_TEXT = 12_000  # characters of text in all of a message's blocks
VIEW_BLOCKS = 100
TEXT = 3000  # a text object: a section's text, a context element
FIELD = 2000  # one section field
FIELDS = 10
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
HEADER = 150
BUTTON = 75
BUTTON_VALUE = 2000
URL = 3000
ID = 255  # block_id, action_id, callback_id, external_id
LABEL = 2000  # an input's label and hint
ALT_TEXT = 2000
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
VIEW_TITLE = 24  # a modal's title, submit and close
PRIVATE_METADATA = 3000

BLOCK_TYPES = frozenset(
    {"actions", "context", "divider", "file", "header", "image", "input", "markdown", "rich_text", "section", "table", "video"}
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
BUTTON_STYLES = frozenset({"primary", "danger"})


def message_problems(blocks: Any) -> list[str]:
    """What Slack would refuse in a message's blocks; empty when it would take them."""
    check = _Checker()
    check.blocks(blocks, "/blocks", MESSAGE_BLOCKS)
    return check.problems


def message_error(blocks: Any) -> str | None:
    """`invalid_blocks` when a message's blocks break a Block Kit rule, `msg_blocks_too_long` when they hold more
    text than a message may, else None."""
    if message_problems(blocks):
        return "invalid_blocks"
    return "msg_blocks_too_long" if text_length(blocks) > MESSAGE_TEXT else None


def text_length(node: Any) -> int:
    """Characters of text in blocks: every string under a "text" key, at any depth (sections, fields, context
    elements, headers, buttons, confirmation dialogs)."""
    if isinstance(node, list):
        return sum(text_length(item) for item in node)
    if not isinstance(node, dict):
        return 0
    return sum(len(value) if key == "text" and isinstance(value, str) else text_length(value) for key, value in node.items())


def view_problems(view: Any) -> list[str]:
    """What Slack would refuse in a modal or Home view; empty when it would take it."""
    check = _Checker()
    if not isinstance(view, dict):
        return ["/: a view is a JSON object"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        check.problems.append(f"/type: {kind!r} is not modal or home")
    check.blocks(view.get("blocks"), "/blocks", VIEW_BLOCKS)
    if kind == "modal":
        check.text(view.get("title"), "/title", VIEW_TITLE, plain=True)
        for key in ("submit", "close"):
            if key in view:
                check.text(view[key], f"/{key}", VIEW_TITLE, plain=True)
        blocks = view.get("blocks")
        if isinstance(blocks, list) and "submit" not in view and any(_type(b) == "input" for b in blocks):
            check.problems.append("/submit: a modal with input blocks needs a submit button")
    for key, most in (("private_metadata", PRIVATE_METADATA), ("callback_id", ID), ("external_id", ID)):
        if view.get(key) not in (None, ""):
            check.string(view[key], f"/{key}", most)
    return check.problems


def view_error(view: Any) -> str | None:
    """`invalid_arguments` when a view breaks a Block Kit rule, else None."""
    return "invalid_arguments" if view_problems(view) else None


def _type(node: Any) -> Any:
    return node.get("type") if isinstance(node, dict) else None


class _Checker:
    """Walks one surface (a message or a view), collecting problems; block_ids are unique across the surface."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.block_ids: set[str] = set()

    def fail(self, at: str, what: str) -> None:
        self.problems.append(f"{at}: {what}")

    def blocks(self, blocks: Any, at: str, most: int) -> None:
        if blocks is None:
            return
        if not isinstance(blocks, list):
            self.fail(at, "blocks are a JSON array")
            return
        if len(blocks) > most:
            self.fail(at, f"{len(blocks)} blocks, more than {most}")
        for index, block in enumerate(blocks):
            self.block(block, f"{at}/{index}")

    def block(self, block: Any, at: str) -> None:
        kind = _type(block)
        if kind not in BLOCK_TYPES:
            self.fail(f"{at}/type", f"{kind!r} is not a block type")
            return
        if "block_id" in block:
            block_id = block["block_id"]
            if self.string(block_id, f"{at}/block_id", ID) and block_id in self.block_ids:
                self.fail(f"{at}/block_id", f"{block_id!r} is used twice")
            self.block_ids.add(str(block_id))
        getattr(self, f"_{kind}", lambda block, at: None)(block, at)

    # -- blocks -----------------------------------------------------------------------------------

    def _section(self, block: dict[str, Any], at: str) -> None:
        if "text" not in block and "fields" not in block:
            self.fail(at, "a section needs text or fields")
        if "text" in block:
            self.text(block["text"], f"{at}/text", TEXT)
        if "fields" in block:
            fields = block["fields"]
            if not isinstance(fields, list) or not 1 <= len(fields) <= FIELDS:
                self.fail(f"{at}/fields", f"between 1 and {FIELDS} fields")
            else:
                for index, field in enumerate(fields):
                    self.text(field, f"{at}/fields/{index}", FIELD)
        if "accessory" in block:
            self.element(block["accessory"], f"{at}/accessory")

    def _header(self, block: dict[str, Any], at: str) -> None:
        self.text(block.get("text"), f"{at}/text", HEADER, plain=True)

    def _context(self, block: dict[str, Any], at: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS:
            self.fail(f"{at}/elements", f"between 1 and {CONTEXT_ELEMENTS} elements")
            return
        for index, element in enumerate(elements):
            if _type(element) == "image":
                self.element(element, f"{at}/elements/{index}")
            else:
                self.text(element, f"{at}/elements/{index}", TEXT)

    def _actions(self, block: dict[str, Any], at: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= ACTIONS_ELEMENTS:
            self.fail(f"{at}/elements", f"between 1 and {ACTIONS_ELEMENTS} elements")
            return
        action_ids: set[str] = set()
        for index, element in enumerate(elements):
            self.element(element, f"{at}/elements/{index}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id is None:
                continue
            if action_id in action_ids:
                self.fail(f"{at}/elements/{index}/action_id", f"{action_id!r} is used twice in this block")
            action_ids.add(str(action_id))

    def _input(self, block: dict[str, Any], at: str) -> None:
        self.text(block.get("label"), f"{at}/label", LABEL, plain=True)
        if "hint" in block:
            self.text(block["hint"], f"{at}/hint", LABEL, plain=True)
        if not isinstance(block.get("element"), dict):
            self.fail(f"{at}/element", "an input needs an element")
        else:
            self.element(block["element"], f"{at}/element")

    def _image(self, block: dict[str, Any], at: str) -> None:
        self.element(block, at)
        if "title" in block:
            self.text(block["title"], f"{at}/title", TEXT, plain=True)

    # -- elements and composition objects -----------------------------------------------------------

    def element(self, element: Any, at: str) -> None:
        kind = _type(element)
        if not isinstance(kind, str):
            self.fail(f"{at}/type", "an element needs a type")
            return
        if "action_id" in element:
            self.string(element["action_id"], f"{at}/action_id", ID)
        if kind == "button":
            self.text(element.get("text"), f"{at}/text", BUTTON, plain=True)
            self.string(element.get("value"), f"{at}/value", BUTTON_VALUE, optional=True)
            self.string(element.get("url"), f"{at}/url", URL, optional=True)
            if "style" in element and element["style"] not in BUTTON_STYLES:
                self.fail(f"{at}/style", f"{element['style']!r} is not primary or danger")
        elif kind == "image":
            if not element.get("image_url") and not element.get("slack_file"):
                self.fail(at, "an image needs image_url or slack_file")
            self.string(element.get("image_url"), f"{at}/image_url", URL, optional=True)
            self.string(element.get("alt_text"), f"{at}/alt_text", ALT_TEXT)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{at}/confirm")

    def confirm(self, dialog: Any, at: str) -> None:
        if not isinstance(dialog, dict):
            self.fail(at, "a confirmation dialog is an object")
            return
        self.text(dialog.get("title"), f"{at}/title", CONFIRM_TITLE, plain=True)
        self.text(dialog.get("text"), f"{at}/text", CONFIRM_TEXT)
        self.text(dialog.get("confirm"), f"{at}/confirm", CONFIRM_BUTTON, plain=True)
        self.text(dialog.get("deny"), f"{at}/deny", CONFIRM_BUTTON, plain=True)
        if "style" in dialog and dialog["style"] not in BUTTON_STYLES:
            self.fail(f"{at}/style", f"{dialog['style']!r} is not primary or danger")

    def text(self, obj: Any, at: str, most: int, *, plain: bool = False) -> None:
        """A text object: plain_text (where only that is allowed) or mrkdwn, 1 to `most` characters."""
        kind = _type(obj)
        if kind not in TEXT_TYPES:
            self.fail(f"{at}/type", f"{kind!r} is not a text object" if obj is not None else "text is required")
            return
        if plain and kind != "plain_text":
            self.fail(f"{at}/type", "must be plain_text")
        self.string(obj.get("text"), f"{at}/text", most)

    def string(self, value: Any, at: str, most: int, *, optional: bool = False) -> bool:
        """A string of 1 to `most` characters (or absent, when optional); True when it is one."""
        if value is None and optional:
            return False
        if not isinstance(value, str) or not value:
            self.fail(at, "must be a non-empty string")
            return False
        if len(value) > most:
            self.fail(at, f"{len(value)} characters, more than {most}")
            return False
        return True
