"""The stand-in refuses Block Kit that Slack refuses: the checker as data, then through the Web API and response_url."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from app.sandbox import FakeSlack
from app.sandbox.block_kit import message_error, message_problems, view_error, view_problems
from tests.sandbox.conftest import CHANNEL, USER, error_of


def section(text: str = "hello", **kw: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **kw}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def button(action_id: str = "go", text: str = "Go", **kw: Any) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), **kw}


def actions(*elements: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements), **kw}


def home(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks}


def modal(blocks: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {"type": "modal", "title": plain("Deny invite request"), "blocks": blocks, **kw}


# -- the checker ------------------------------------------------------------------------------------


def test_a_message_holds_50_blocks_and_a_view_100() -> None:
    assert message_error([section()] * 50) is None
    assert message_error([section()] * 51) == "invalid_blocks"
    assert view_error(home([section()] * 100)) is None
    assert view_error(home([section()] * 101)) == "invalid_arguments"
    assert view_error(modal([section()] * 101)) == "invalid_arguments"


@pytest.mark.parametrize(
    ("fits", "too_long"),
    [
        (section("x" * 3000), section("x" * 3001)),
        ({"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2000}]},
         {"type": "section", "fields": [{"type": "mrkdwn", "text": "x" * 2001}]}),
        ({"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 10},
         {"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * 11}),
        ({"type": "header", "text": plain("x" * 150)}, {"type": "header", "text": plain("x" * 151)}),
        (actions(button(text="x" * 75)), actions(button(text="x" * 76))),
        (actions(button(value="x" * 2000)), actions(button(value="x" * 2001))),
        (actions(button(action_id="a" * 255)), actions(button(action_id="a" * 256))),
        (section(block_id="b" * 255), section(block_id="b" * 256)),
        ({"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 10},
         {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * 11}),
        (actions(*[button(f"b{n}") for n in range(25)]), actions(*[button(f"b{n}") for n in range(26)])),
    ],
    ids=["section text", "field", "fields", "header", "button text", "button value", "action_id", "block_id",
         "context elements", "actions elements"],
)
def test_each_limit_holds_at_its_number_and_fails_one_past_it(fits: dict[str, Any], too_long: dict[str, Any]) -> None:
    assert message_problems([fits]) == []
    assert message_error([too_long]) == "invalid_blocks"
    assert view_error(home([too_long])) == "invalid_arguments"


def test_headers_and_buttons_take_plain_text_only() -> None:
    mrkdwn = {"type": "mrkdwn", "text": "*bold*"}
    assert message_error([{"type": "header", "text": mrkdwn}]) == "invalid_blocks"
    assert message_error([actions({"type": "button", "action_id": "go", "text": mrkdwn})]) == "invalid_blocks"
    assert message_error([section(accessory={"type": "button", "action_id": "go", "text": mrkdwn})]) == "invalid_blocks"
    assert message_problems([actions(button(style="primary"), button("no", style="danger"))]) == []
    assert message_error([actions(button(style="blue"))]) == "invalid_blocks"


def test_block_ids_are_unique_in_a_message_or_view_and_action_ids_in_a_block() -> None:
    assert message_error([section(block_id="same"), section(block_id="same")]) == "invalid_blocks"
    assert view_error(home([section(block_id="same"), actions(button(), block_id="same")])) == "invalid_arguments"
    assert message_error([actions(button("same"), button("same"))]) == "invalid_blocks"
    assert message_problems([actions(button("same")), actions(button("same"))]) == []  # unique within a block only
    problems = message_problems([section(block_id="same"), section(block_id="same")])
    assert problems == ["/blocks/1/block_id: 'same' is used twice"]


def test_confirm_dialogs_text_objects_and_block_types() -> None:
    confirm = {"title": plain("Sure?"), "text": {"type": "mrkdwn", "text": "x" * 300}, "confirm": plain("Yes"), "deny": plain("No")}
    assert message_problems([actions(button(confirm=confirm))]) == []
    assert message_error([actions(button(confirm={**confirm, "text": {"type": "mrkdwn", "text": "x" * 301}}))])
    assert message_error([actions(button(confirm={**confirm, "title": plain("x" * 101)}))])
    assert message_error([actions(button(confirm={**confirm, "deny": plain("x" * 31)}))])
    assert message_error([section("")]) == "invalid_blocks"  # text objects hold at least one character
    assert message_error([{"type": "section"}]) == "invalid_blocks"
    assert message_error([{"type": "carousel"}]) == "invalid_blocks"
    assert message_error([{"type": "divider"}, {"type": "context", "elements": []}]) == "invalid_blocks"


def test_modal_surface_rules() -> None:
    reason = {"type": "input", "label": plain("Reason"), "element": {"type": "plain_text_input", "action_id": "r"}}
    assert view_problems(modal([reason], submit=plain("Deny"), close=plain("Cancel"))) == []
    assert view_error(modal([reason])) == "invalid_arguments"  # inputs need a submit button
    assert view_error(modal([], title=plain("x" * 25))) == "invalid_arguments"
    assert view_error(modal([], title={"type": "mrkdwn", "text": "Deny"})) == "invalid_arguments"
    assert view_error(modal([], private_metadata="x" * 3001)) == "invalid_arguments"
    assert view_error(modal([], private_metadata="", callback_id="")) is None
    assert view_error({"type": "modal", "blocks": []}) == "invalid_arguments"  # a modal has a title


# -- through the Web API -----------------------------------------------------------------------------


def test_messages_over_the_limits_are_refused(fake: FakeSlack, bot: WebClient) -> None:
    posted = bot.chat_postMessage(channel=CHANNEL, text="ok", blocks=[section()] * 50)
    assert error_of(bot.chat_postMessage, channel=CHANNEL, text="too many", blocks=[section()] * 51) == "invalid_blocks"
    assert error_of(bot.chat_update, channel=CHANNEL, ts=posted["ts"], text="x", blocks=[section("x" * 3001)]) == "invalid_blocks"
    assert error_of(bot.chat_postEphemeral, channel=CHANNEL, user=USER, text="x", blocks=[section()] * 51) == "invalid_blocks"
    assert error_of(bot.chat_postMessage, channel=CHANNEL, text="x", blocks='{"type": "section"}') == "invalid_blocks_format"
    assert len(fake.messages(CHANNEL)) == 1 and len(fake.message(CHANNEL, posted["ts"])["blocks"]) == 50


def test_views_over_the_limits_are_refused(fake: FakeSlack, bot: WebClient) -> None:
    assert bot.views_publish(user_id=USER, view=home([section()] * 100))["ok"]
    assert error_of(bot.views_publish, user_id=USER, view=home([section()] * 101)) == "invalid_arguments"
    assert len(fake.home_view(USER)["blocks"]) == 100
    trigger = fake.issue_trigger_id()
    assert error_of(bot.views_open, trigger_id=trigger, view=modal([{"type": "header", "text": plain("x" * 151)}])) == (
        "invalid_arguments"
    )
    opened = bot.views_open(trigger_id=fake.issue_trigger_id(), view=modal([section()]))["view"]
    assert error_of(bot.views_update, view_id=opened["id"], view=modal([section(block_id="a"), section(block_id="a")])) == (
        "invalid_arguments"
    )


def test_response_url_posts_over_the_limits_answer_400_invalid_blocks(fake: FakeSlack) -> None:
    hook = WebhookClient(fake.new_response_url(channel=CHANNEL, user=USER))
    refused = hook.send(text="too many", blocks=[section()] * 51)
    assert (refused.status_code, refused.body) == (400, '{"ok": false, "error": "invalid_blocks"}')
    assert fake.ephemerals(user=USER) == []
    assert hook.send(text="fine", blocks=[section()] * 50).status_code == 200
    assert len(fake.ephemerals(user=USER)[-1]["blocks"]) == 50


def test_blocks_validate(fake: FakeSlack, bot: WebClient) -> None:
    assert bot.blocks_validate(blocks=[section()] * 50)["ok"]
    assert error_of(bot.blocks_validate, blocks=[section()] * 51) == "invalid_blocks"
    assert bot.blocks_validate(message={"text": "hi", "blocks": [section()]})["ok"]
    assert error_of(bot.blocks_validate, message={"blocks": [actions(button("a"), button("a"))]}) == "invalid_blocks"
    assert bot.blocks_validate(view=home([section()] * 100))["ok"]
    assert error_of(bot.blocks_validate, view=home([section()] * 101)) == "invalid_blocks"
    assert error_of(bot.blocks_validate) == "invalid_arguments"
    assert error_of(bot.blocks_validate, blocks=[section()], view=home([])) == "invalid_arguments"
    admin = WebClient(base_url=fake.api_url, token=fake.admin_token)
    assert error_of(admin.blocks_validate, blocks=[section()]) == "not_allowed_token_type"


def test_a_message_holds_12000_characters_of_text_in_all_its_blocks() -> None:
    full = [section("x" * 3000)] * 4
    assert message_error(full) is None
    assert message_error([*full, section("y")]) == "msg_blocks_too_long"
    assert message_error([section("x" * 2999), actions(button(text="Go"))] * 4) == "msg_blocks_too_long"  # button labels count
    confirm = {"title": plain("Sure?"), "text": plain("x" * 300), "confirm": plain("Yes"), "deny": plain("No")}
    assert message_error([section("x" * 2900), actions(button(confirm=confirm))] * 4) == "msg_blocks_too_long"
    assert message_error([section("x" * 3001)] * 5) == "invalid_blocks"  # a block's own limit is told first


def test_messages_with_too_much_text_are_refused_everywhere_a_message_goes(fake: FakeSlack, bot: WebClient) -> None:
    full, over = [section("x" * 3000)] * 4, [section("x" * 3000)] * 4 + [section("y")]
    posted = bot.chat_postMessage(channel=CHANNEL, text="ok", blocks=full)

    assert error_of(bot.chat_postMessage, channel=CHANNEL, text="x", blocks=over) == "msg_blocks_too_long"
    assert error_of(bot.chat_update, channel=CHANNEL, ts=posted["ts"], text="x", blocks=over) == "msg_blocks_too_long"
    assert error_of(bot.chat_postEphemeral, channel=CHANNEL, user=USER, text="x", blocks=over) == "msg_blocks_too_long"
    hook = WebhookClient(fake.new_response_url(channel=CHANNEL, user=USER))
    refused = hook.send(text="x", blocks=over)
    assert (refused.status_code, refused.body) == (400, '{"ok": false, "error": "msg_blocks_too_long"}')
    assert hook.send(text="fits", blocks=full).status_code == 200
    assert [len(m["blocks"]) for m in fake.messages(CHANNEL)] == [4] and len(fake.ephemerals(user=USER)) == 1
