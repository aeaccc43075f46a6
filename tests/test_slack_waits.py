"""Slack's own waits (HTTP 429 with Retry-After): one answer holds only the call it answered, for a bounded time, and
is told as Slack's wait rather than invitebot's pace."""

from __future__ import annotations

import json
import threading

from sqlalchemy import select

from app.store.models import InviteRequest, PaceBudget
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, OTHER_TEAM, TEAM, new_request

APPROVE = "admin.inviteRequests.approve"
AN_HOUR = 3600
HOLD = 2  # INVITES_MAX_RETRY_AFTER in these tests, in place of the default minute


def _card(fake, bot, email):
    request = new_request(fake, email)
    bot.slack.invite_requested(request)
    return request, wait_for_card(fake, email)


def _click(bot, card, user):
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")


def _told(fake, user, needle, timeout=10.0):
    return fake.wait_for(
        lambda: [text for text in ephemerals_for(fake, user) if needle in text], timeout=timeout, message=f"{user} never heard {needle!r}"
    )


def _card_updates(fake, card):
    """Every text the card was rewritten with, in order."""
    calls = [c for c in fake.calls("chat.update") if c.params.get("ts") == card["ts"] and c.status == 200 and not c.error]
    return [json.dumps(c.params.get("blocks"), ensure_ascii=False) for c in calls]


@both_databases
def test_one_retry_after_of_an_hour_holds_only_its_own_decision_and_says_it_is_slacks(fake, start_bot):
    first, second = start_bot(INVITES_MAX_RETRY_AFTER=str(HOLD)), start_bot(INVITES_MAX_RETRY_AFTER=str(HOLD))
    ada, ada_card = _card(fake, first, "ada@example.com")
    bob, bob_card = _card(fake, first, "bob@example.com")
    fake.fail_next(APPROVE, "ratelimited", retry_after=AN_HOUR)

    _click(first, ada_card, APPROVER)
    [held] = _told(fake, APPROVER, "queued")
    _click(second, bob_card, GROUP_APPROVER)  # the other replica, sharing the workspace's pace budget

    assert "Slack asked us to wait (about 1 h); invitebot asks again in about 2 s" in held
    assert "decisions a minute" not in held and "click" not in held.lower()
    _told(fake, GROUP_APPROVER, f"You approved the invite request for {bob['email']}")
    _told(fake, APPROVER, f"You approved the invite request for {ada['email']}", timeout=15)
    assert not [text for text in ephemerals_for(fake, GROUP_APPROVER) if "queued" in text]
    assert any("Approving… <@W0APPROV01>, queued: Slack asked us to wait (about 1 h)" in text for text in _card_updates(fake, ada_card))
    closed = wait_for_card(fake, ada["email"], lambda m: "queued" not in card_text(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed) and not buttons(closed)
    asked = [(c.params["invite_request_id"], c.status) for c in fake.calls(APPROVE)]
    assert asked.count((ada["id"], 429)) == 1 and asked.count((ada["id"], 200)) == 1 and asked.count((bob["id"], 200)) == 1
    first_try, second_try = [c.at for c in fake.calls(APPROVE) if c.params["invite_request_id"] == ada["id"]]
    assert HOLD * 0.9 <= second_try - first_try < HOLD + 5


def test_while_slack_keeps_answering_429_the_call_asks_again_in_steps_and_the_clicker_hears_once(fake, start_bot):
    bot = start_bot(INVITES_MAX_RETRY_AFTER="1")
    ada, card = _card(fake, bot, "ada@example.com")
    fake.hold_method(APPROVE, 3.5)  # Slack answers 429 for 3.5 s, its Retry-After counting down from 4

    _click(bot, card, APPROVER)

    _told(fake, APPROVER, f"You approved the invite request for {ada['email']}", timeout=20)
    tries = fake.calls(APPROVE)
    assert [c.status for c in tries[:-1]] == [429] * (len(tries) - 1) and tries[-1].status == 200 and len(tries) >= 4
    steps = [later.at - earlier.at for earlier, later in zip(tries, tries[1:])]
    assert all(0.9 <= step < 5 for step in steps), steps
    told = ephemerals_for(fake, APPROVER)
    assert len([text for text in told if "Slack asked us to wait" in text]) == 1, told


def test_a_click_behind_a_held_call_is_told_the_wait_is_slacks(fake, start_bot):
    bot = start_bot(INVITES_MAX_RETRY_AFTER="30")
    ada, ada_card = _card(fake, bot, "ada@example.com")
    bob, bob_card = _card(fake, bot, "bob@example.com")
    fake.fail_next(APPROVE, "ratelimited", retry_after=AN_HOUR)
    _click(bot, ada_card, APPROVER)
    _told(fake, APPROVER, "Slack asked us to wait (about 1 h)")

    _click(bot, bob_card, GROUP_APPROVER)

    [queued] = _told(fake, GROUP_APPROVER, "queued")
    assert "queued: Slack asked us to wait (about 30 s)" in queued and "decisions a minute" not in queued
    with bot.sessions() as session:
        row = session.get(InviteRequest, bob["id"])
        held = session.scalar(select(PaceBudget.held_until).where(PaceBudget.key == f"admin:{TEAM}"))
    assert row.slack_wait_until == held and row.call_at >= held


def test_a_card_post_slack_asks_to_wait_an_hour_for_is_posted_after_the_hold(fake, start_bot):
    bot = start_bot(INVITES_MAX_RETRY_AFTER=str(HOLD))
    fake.fail_next("chat.postMessage", "ratelimited", retry_after=AN_HOUR)
    request = new_request(fake, "ada@example.com")

    bot.slack.invite_requested(request)

    wait_for_card(fake, request["email"], timeout=HOLD + 10)
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


def test_a_sync_slack_asks_to_wait_an_hour_ends_at_once_and_says_why(fake, start_bot):
    bot = start_bot()
    other = new_request(fake, "grace@example.com", team_id=OTHER_TEAM)
    fake.fail_next("admin.inviteRequests.list", "ratelimited", retry_after=AN_HOUR)
    done: list = []

    worker = threading.Thread(target=lambda: done.append(bot.runtime.sync()), daemon=True)
    worker.start()
    worker.join(timeout=20)

    assert done, "the sync pass was still waiting out Slack's hour"
    [summary] = done
    assert summary.errors == 1 and f"{TEAM}: admin.inviteRequests.list ratelimited" in summary.line()
    wait_for_card(fake, other["email"])  # the other workspace was reconciled all the same
