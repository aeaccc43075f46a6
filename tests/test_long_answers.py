"""Answers longer than one Slack message takes arrive cut to fit, ending in a line that says how many more there are.

Slack refuses a message whose blocks hold more than about 12,000 characters of text (msg_blocks_too_long), and the
stand-in refuses it the same way: before, the person who asked saw nothing at all.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from app.sandbox.block_kit import message_error, text_length
from app.store.models import DecisionLog
from tests.support.rows import request_row
from tests.support.stand_in import APPROVER, CHANNEL, OUTSIDER, TEAM

NOW = datetime.now(timezone.utc)


def answered(fake: Any, bot: Any, text: str) -> dict[str, Any]:
    """The one post to the command's response_url that Slack took."""
    before = len(fake.response_posts())
    assert bot.slack.slash(text=text, user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM).status == 200
    bot.settle()
    [post] = fake.response_posts()[before:]
    assert message_error(post["blocks"]) is None
    assert text_length(post["blocks"]) <= 11_000  # invitebot's budget, under Slack's ~12,000
    return post


def last_line(post: dict[str, Any]) -> str:
    [closing] = [b for b in post["blocks"] if b["type"] == "context"][-1:]
    return str(closing["elements"][0]["text"])


def test_show_with_a_long_audit_trail_says_how_many_attempts_are_left_out(fake: Any, bot: Any) -> None:
    with bot.runtime.sessions.begin() as session:
        session.add(request_row(id="Ir0000LONG", reason="Joining the project. " * 120, first_seen=NOW, last_seen=NOW))
        session.add_all(
            DecisionLog(
                request_id="Ir0000LONG", actor_id=OUTSIDER, action="approve", source="button", outcome="not_allowed",
                at=NOW - timedelta(minutes=400 - n),
            )
            for n in range(400)
        )

    post = answered(fake, bot, "show Ir0000LONG")

    shown = len(re.findall(rf"<@{OUTSIDER}> tried to approve: refused, not an approver \(from card\)", json.dumps(post["blocks"])))
    assert 10 < shown < 400
    assert last_line(post).startswith(f"{400 - shown} later attempts not shown.")
    assert any(b["type"] == "actions" for b in post["blocks"])  # the card keeps its buttons


def test_history_of_50_with_long_deny_reasons_says_how_many_are_left_out(fake: Any, bot: Any) -> None:
    with bot.runtime.sessions.begin() as session:
        session.add_all(
            request_row(
                id=f"Ir{n:08d}", email=f"person{n:02d}@example.com", status="denied", decided_by=APPROVER,
                decided_at=NOW - timedelta(minutes=n), decision_source="slash", deny_reason="Not one of ours. " * 150,
                first_seen=NOW, last_seen=NOW,
            )
            for n in range(50)
        )

    post = answered(fake, bot, "history 50")

    shown = [n for n in range(50) if f"person{n:02d}@example.com" in json.dumps(post["blocks"])]
    assert shown == list(range(len(shown))) and 20 < len(shown) < 50  # the latest, as many as one message holds
    assert last_line(post).startswith(f"{50 - len(shown)} older decisions not shown.")


def test_a_list_page_of_long_requests_ends_where_next_begins(fake: Any, bot: Any) -> None:
    with bot.runtime.sessions.begin() as session:
        session.add_all(
            request_row(
                id=f"Ir{n:08d}", email=f"{'long' * 60}{n:02d}@example.com", real_name="Ada " * 50,
                requester_ids=[f"W0ASKER{k:03d}" for k in range(60)], date_created=NOW - timedelta(hours=30 - n), first_seen=NOW, last_seen=NOW,
            )
            for n in range(30)
        )

    first = answered(fake, bot, "list")

    listed = [b["block_id"] for b in first["blocks"] if b.get("block_id", "").startswith("list-")]
    assert 1 < len(listed) < 10 and listed == [f"list-Ir{n:08d}" for n in range(len(listed))]
    assert f"(1–{len(listed)} of 30, oldest first)" in first["blocks"][0]["text"]["text"]
    assert last_line(first) == f"{10 - len(listed)} more on this page did not fit in one message: Next starts with them."

    before = len(fake.response_posts())
    bot.slack.click_ephemeral(user_id=APPROVER, channel=CHANNEL, blocks=first["blocks"], action_id="invites_list_page_next")
    bot.settle()
    [second] = fake.response_posts()[before:]
    assert f"({len(listed) + 1}–" in second["blocks"][0]["text"]["text"]
    assert f"list-Ir{len(listed):08d}" in [b.get("block_id") for b in second["blocks"]]
