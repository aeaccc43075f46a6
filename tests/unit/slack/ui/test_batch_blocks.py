"""Bulk decisions' Block Kit as data: the preview, the progress message and its Cancel, the domain buttons, and what a
preview carries in its private_metadata."""

from __future__ import annotations

import json

import pytest

from app.core.queries import Stats
from app.sandbox import block_kit
from app.slack.ids import DomainValue
from app.slack.ui import batch_blocks, home_view, limits, replies
from tests.support.cards import buttons
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, CHANNEL, TEAM

NO_STATS = Stats(pending_by_team={}, approved_7d=0, denied_7d=0, median_to_decision=None)


def test_the_preview_progress_and_home_buttons_are_blocks_slack_takes():
    hostile = [request_row(id=f"Ir{n:08d}", email=f"<!channel>{'&' * 200}{n}@example.com", team_name="<@U1> & co" * 30) for n in range(20)]
    for action, ask in (("approve", False), ("deny", True), ("deny", False)):
        context = batch_blocks.PreviewContext(7, action, "slash", ask, CHANNEL)
        head = replies.bulk_preview_head(action, replies.bulk_filter_words("example.com", ["<!here>"] * 50, ("restricted",)), 120, 20)
        view = batch_blocks.preview_modal(context, head=head, first=hostile, total=120, reason="<!channel> " * 300, required=True)
        assert block_kit.view_problems(view) == []
        text = json.dumps(view)
        assert "and 100 more" in text and "<!channel>" not in text.replace("\\u003c", "<").split("private_metadata")[0]
    words = replies.bulk_filter_words("x" * 250 + ".com", [], ())
    for running in (True, False):
        message = batch_blocks.progress_message(replies.bulk_title("approve", words, APPROVER) + "\n37 of 120 approved", 7, "approve", running=running)
        assert block_kit.message_problems(message) == []
        assert bool(buttons({"blocks": message})) is running
    domains = [("d" * 60 + f"{n}.example.com", 100 - n) for n in range(10)]
    home = home_view.approver_home(
        stats=NO_STATS, pending=[], pending_total=0, decisions=[], config=home_view.HomeConfig(CHANNEL, [APPROVER], 300, None),
        domains=domains,
    )
    assert block_kit.view_problems(home) == []
    shown = [b for b in home["blocks"] if b.get("block_id", "").startswith("home-bulk-")]
    assert len(shown) == batch_blocks.DOMAINS_SHOWN and shown[0]["block_id"].startswith("home-bulk-" + "d" * 60 + "0")


def test_a_deny_preview_asks_for_the_reason_or_shows_the_one_given():
    asking = batch_blocks.preview_modal(
        batch_blocks.PreviewContext(7, "deny", "home", True), head="h", first=[request_row()], total=1, reason=None, required=True
    )
    [box] = [b for b in asking["blocks"] if b["type"] == "input"]
    assert box["optional"] is False and box["element"]["max_length"] == 2000
    assert asking["submit"]["text"] == "Deny 1"

    given = batch_blocks.preview_modal(
        batch_blocks.PreviewContext(7, "deny", "slash", False, CHANNEL), head="h", first=[], total=0, reason="Use <work>", required=True
    )
    assert given["blocks"][-1]["text"]["text"] == "*Reason* (every requester will see it)\n>Use &lt;work&gt;"
    assert not [b for b in given["blocks"] if b["type"] == "input"]


def test_the_domain_buttons_carry_the_domain_and_the_digests_workspace():
    [row] = batch_blocks.domain_buttons([("example.com", 12)], block_prefix="digest-bulk-", team=TEAM)

    approve, deny = row["elements"]
    assert (approve["action_id"], deny["action_id"]) == ("bulk_approve_domain", "bulk_deny_domain")
    assert DomainValue.decode(approve["value"]) == DomainValue("example.com", TEAM) == DomainValue.decode(deny["value"])
    long = batch_blocks.domain_buttons([("x" * 300 + ".com", 2)], block_prefix="home-bulk-")[0]
    assert len(long["block_id"]) == limits.BLOCK_ID
    assert all(len(e["text"]["text"]) <= limits.BUTTON_TEXT and e["text"]["text"].endswith("…") for e in long["elements"])


@pytest.mark.parametrize(
    "context",
    [
        batch_blocks.PreviewContext(7, "approve", "home"),
        batch_blocks.PreviewContext(8, "deny", "slash", True, CHANNEL),
        batch_blocks.PreviewContext(9, "deny", "button", False, "D0DIRECT1"),
    ],
)
def test_a_preview_context_reads_back_as_written(context):
    assert batch_blocks.PreviewContext.decode(context.encode()) == context


@pytest.mark.parametrize(
    "raw",
    [
        '{"batch": 0, "action": "approve", "source": "home"}',
        '{"batch": true, "action": "approve", "source": "home"}',
        '{"batch": 7, "action": "escalate", "source": "home"}',
        '{"batch": 7, "action": "approve", "source": "policy"}',
        '{"batch": 7, "action": "approve", "source": "slash", "channel": "#general"}',
    ],
)
def test_a_preview_context_we_did_not_write_is_refused(raw):
    with pytest.raises(ValueError):
        batch_blocks.PreviewContext.decode(raw)


def test_answers_after_a_preview_go_where_it_was_asked_for():
    assert batch_blocks.PreviewContext(7, "approve", "home").reply_to(APPROVER) == {"surface": "home", "user": APPROVER}
    assert batch_blocks.PreviewContext(7, "approve", "slash", channel=CHANNEL).reply_to(APPROVER) == {
        "surface": "ephemeral", "channel": CHANNEL, "user": APPROVER
    }


def test_a_backlog_chooser_carries_its_digests_channel_and_nothing_else_does():
    chooser = batch_blocks.backlog_chooser("head", [("example.com", 3)], TEAM, "hint", CHANNEL)

    assert batch_blocks.chooser_channel(chooser) == CHANNEL
    assert batch_blocks.chooser_channel(batch_blocks.backlog_chooser("head", [], TEAM, "hint", None)) is None
    for metadata in ("", "not json", "[]", '{"channel": "#general"}'):
        assert batch_blocks.chooser_channel({"private_metadata": metadata}) is None
