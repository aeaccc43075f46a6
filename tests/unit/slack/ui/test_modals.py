"""The deny-reason modal as data: what it asks, what it carries in private_metadata, and what a submission reads."""

from __future__ import annotations

import pytest

from app.slack.ui import modals
from tests.support.block_checks import assert_view_valid
from tests.support.rows import request_row
from tests.support.stand_in import CHANNEL

CONTEXT = modals.DenyContext("Ir0000TEST", "button", CHANNEL)


def test_the_modal_opens_before_the_request_is_read_then_names_the_invitee_escaped():
    first = modals.deny_form(CONTEXT, required=False)
    filled = modals.deny_form(CONTEXT, required=True, request=request_row(email="<!channel>@evil.example"))

    assert first["blocks"][0]["elements"][0]["text"] == "Request `Ir0000TEST`"
    assert filled["blocks"][0]["text"]["text"] == "Deny the invite for *&lt;!channel&gt;@evil.example*? The requester will be told."
    for view, required in ((first, False), (filled, True)):
        assert_view_valid(view)
        [box] = [b for b in view["blocks"] if b["type"] == "input"]
        assert box["optional"] is not required
        assert box["hint"]["text"].startswith("Required" if required else "Optional")
        assert modals.DenyContext.decode(view["private_metadata"]) == CONTEXT


def test_a_notice_and_an_explanation_only_close():
    notice = modals.notice("Only invite approvers can approve or deny invite requests. Nothing was changed.")
    explained = modals.explanation("A title longer than Slack allows", "Why")

    assert "submit" not in notice and "submit" not in explained
    assert explained["title"]["text"] == "A title longer than Slac"  # Slack's 24 characters
    assert_view_valid(notice)


@pytest.mark.parametrize(("value", "reason"), [("  Use a work address \n", "Use a work address"), ("   ", None), (None, None)])
def test_the_submitted_reason_is_trimmed_and_an_empty_one_is_none(value, reason):
    view = {"state": {"values": {"reason": {"reason_input": {"type": "plain_text_input", "value": value}}}}}

    assert modals.submitted_reason(view) == reason
    assert modals.submitted_reason({}) is None


@pytest.mark.parametrize(
    "raw",
    [
        '{"id": "", "source": "button", "channel": null}',
        '{"id": "Ir1", "source": "policy", "channel": null}',
        '{"id": "Ir1", "source": "button", "channel": "#general"}',
    ],
)
def test_private_metadata_we_did_not_write_is_refused(raw):
    with pytest.raises(ValueError):
        modals.DenyContext.decode(raw)


def test_a_deny_from_the_home_has_no_channel():
    context = modals.DenyContext("Ir1", "home", None)

    assert modals.DenyContext.decode(context.encode()) == context
