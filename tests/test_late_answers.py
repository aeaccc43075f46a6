"""A command's answer that comes after its response_url stopped taking posts (30 minutes, or 5 posts) still reaches
the person: as an ephemeral in the channel they typed it in, or as a direct message when the bot cannot post there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request

APPROVE = "admin.inviteRequests.approve"
HALF_AN_HOUR_AND_A_MINUTE = 31 * 60


def approve_after_half_an_hour(fake: Any, bot: Any, channel: str) -> None:
    """`/invites approve` whose decision waits (here: Slack is slow) until its response_url has expired."""
    request = new_request(fake, "ada@example.com")
    bot.slack.invite_requested(request)
    bot.settle()
    fake.set_latency(APPROVE, 1.0)
    before = len(fake.calls(APPROVE))
    assert bot.slack.slash(text=f"approve {request['id']}", user_id=APPROVER, channel_id=channel, team_id=TEAM).status == 200
    fake.wait_for(lambda: fake.calls_in_progress(APPROVE) == 1, message="the approve call reached Slack")
    fake.advance_clock(HALF_AN_HOUR_AND_A_MINUTE)
    bot.settle()
    assert len(fake.calls(APPROVE)) == before + 1 and fake.invite_request_status(request["id"]) == "approved"


def test_an_approve_answered_after_30_minutes_is_told_in_the_channel(fake: Any, bot: Any) -> None:
    approve_after_half_an_hour(fake, bot, CHANNEL)

    assert fake.response_posts() == []  # the response_url answered expired_url
    [told] = fake.ephemerals(channel=CHANNEL, user=APPROVER)
    assert told["via"] == "chat.postEphemeral" and "You approved the invite request for ada@example.com" in told["text"]
    assert fake.direct_messages(APPROVER) == []


@pytest.mark.parametrize("channel", ["D0PEOPLE01", "C0NOBOT001"], ids=["a conversation between people", "a channel without the bot"])
def test_where_the_bot_cannot_post_the_late_answer_is_a_direct_message(fake: Any, bot: Any, channel: str) -> None:
    fake.add_channel("C0NOBOT001", name="no-bot", team_id=TEAM, bot_member=False)

    approve_after_half_an_hour(fake, bot, channel)

    assert fake.response_posts() == [] and fake.ephemerals(user=APPROVER) == []
    [told] = fake.direct_messages(APPROVER)
    assert "You approved the invite request for ada@example.com" in told["text"]
