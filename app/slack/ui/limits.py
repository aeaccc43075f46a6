"""Slack's Block Kit limits that our builders must respect, in one place.

Sources: Slack's block reference (https://docs.slack.dev/reference/block-kit/blocks), the actions block, button and
composition object pages, and ../shared/slack/reference.md §5.7. Slack answers `invalid_blocks` (messages) or
`invalid_arguments` (views) when one is exceeded, and the whole message or view is lost.
"""

from __future__ import annotations

MESSAGE_BLOCKS = 50  # blocks in one message (chat.postMessage, chat.update, response_url)
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
