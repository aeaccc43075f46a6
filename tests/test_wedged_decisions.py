"""Whatever goes wrong between the claim and Slack's answer, the request never stays stuck and the credit stays true."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.conftest import (
    APPROVER,
    CHANNEL,
    GROUP_APPROVER,
    both_databases,
    buttons,
    card_text,
    ephemerals_for,
    new_request,
    wait_for_card,
)

APPROVE = "admin.inviteRequests.approve"


def _card_for(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    return request, wait_for_card(fake, request["email"])


def _click(bot, card, user=APPROVER):
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")


def _answer(fake, user=APPROVER):
    [answer] = fake.wait_for(lambda: ephemerals_for(fake, user), message=f"{user} was never answered")
    return answer


def _row(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"])


def _outcomes(bot):
    with bot.sessions() as session:
        return [e.outcome for e in session.scalars(select(DecisionLog).order_by(DecisionLog.id))]


@both_databases
@pytest.mark.parametrize(
    "fault",
    [
        {"wire": "html_502", "times": 3},  # a proxy's error page, to the first try and both retries
        {"error": "no_healthy_upstream", "status": 503, "times": 3},  # a proxy's own JSON, with a code Slack never sends
        {"error": "upstream_connect_error_or_disconnect_or_reset_before_headers_reset_reason_overflow"},
    ],
    ids=["html-502", "proxy-json-503", "overlong-code"],
)
def test_an_answer_without_a_slack_error_code_reopens_the_card_and_tells_the_clicker(fake, bot, fault):
    request, card = _card_for(fake, bot)
    fake.fail_next(APPROVE, **fault)

    _click(bot, card)

    answer = _answer(fake)
    assert "Slack answered with a server error" in answer and "Click Approve again to retry" in answer
    bot.settle()
    assert buttons(fake.message(CHANNEL, card["ts"]))
    assert _row(bot, request).status == "pending"
    assert _outcomes(bot) == ["http_error"]
    assert fake.invite_request_status(request["id"]) == "pending"

    _click(bot, card, user=GROUP_APPROVER)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{GROUP_APPROVER}>" in card_text(closed)


@both_databases
def test_a_cut_short_answer_never_leaves_the_request_stuck(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next(APPROVE, wire="truncated")

    _click(bot, card)

    answer = _answer(fake)
    assert "invitebot could not reach Slack" in answer and "Click Approve again to retry" in answer
    bot.settle()
    assert _row(bot, request).status == "pending"
    assert _outcomes(bot) == ["network_error"]
