"""Cards reach the approvals channel once, and a card Slack will not take shows up as a failed sync and a failed /readyz."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta

from slack_sdk import WebClient
from sqlalchemy import select, update

from app.core.audit import now
from app.store.models import RequestCard
from tests.support.bots import settings_env
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, new_request


def _cards_of(fake, request):
    return fake.messages_with_metadata(CHANNEL, "invitebot_card", request_id=request["id"])


def _run_sync(fake, database_url, **overrides):
    return subprocess.run(
        [sys.executable, "-m", "app", "sync"],
        env={"PATH": "/usr/bin:/bin", **settings_env(fake, database_url, **overrides)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _sync_check(bot):
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", "/readyz"), timeout=10) as answer:
            body = answer.read().decode()
    except urllib.error.HTTPError as error:
        body = error.read().decode()
    return json.loads(body)["checks"]["sync"]


@both_databases
def test_a_card_whose_answer_was_lost_is_not_posted_twice(fake, bot):
    request = new_request(fake)
    fake.drop_answer("chat.postMessage")  # Slack posts the card, then the connection drops before its answer

    bot.slack.invite_requested(request)
    bot.settle()
    bot.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")  # Slack's retry of the event
    bot.settle()
    bot.runtime.sync()

    assert len(fake.calls("chat.postMessage")) == 1
    [card] = _cards_of(fake, request)
    assert card["metadata"]["event_payload"] == {"request_id": request["id"], "team_id": request["team"]["id"]}
    assert len(fake.messages(CHANNEL)) == 1


@both_databases
def test_a_post_that_got_no_answer_and_never_landed_is_posted_by_a_later_sync(fake, bot):
    request = new_request(fake)
    fake.fail_next("chat.postMessage", "internal_error")  # Slack did not post it ...
    fake.drop_answer("chat.postMessage")  # ... and the bot never heard even that

    bot.slack.invite_requested(request)
    bot.settle()
    bot.runtime.sync()
    assert fake.messages(CHANNEL) == []  # too soon to tell a lost answer from a lost post: nothing is posted blindly

    with bot.runtime.sessions.begin() as session:
        session.execute(update(RequestCard).values(reserved_at=now() - timedelta(minutes=10)))
    bot.runtime.sync()

    [card] = _cards_of(fake, request)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    decided = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert decided["ts"] == card["ts"] and f"Approved by <@{APPROVER}>" in card_text(decided)
    with bot.sessions() as session:
        assert session.scalars(select(RequestCard.ts)).all() == [card["ts"]]


def test_sync_fails_while_the_approvals_channel_is_archived(fake, bot, database_url):
    fake.archive_channel(CHANNEL)
    new_request(fake, "one@example.com")
    new_request(fake, "two@example.com")

    result = _run_sync(fake, database_url)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.strip() == (
        "sync: 2 new, 0 closed elsewhere, 0 unchanged, 2 errors (C0INVITES1: chat.postMessage is_archived for 2 cards"
        " — the channel is archived: unarchive it, or set INVITES_CHANNEL to a channel that is not)"
    )
    check = _sync_check(bot)
    assert not check["ok"] and "is_archived" in check["detail"] and "unarchive it" in check["detail"]


def test_sync_fails_while_the_approvals_channel_is_missing(fake, bot, database_url):
    new_request(fake)

    result = _run_sync(fake, database_url, INVITES_CHANNEL="C0GONE0001")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 errors (C0GONE0001: chat.postMessage channel_not_found — " in result.stdout
    assert "invite the bot there (/invite @invitebot)" in result.stdout
    check = _sync_check(bot)
    assert not check["ok"] and "channel_not_found" in check["detail"]


def test_sync_fails_while_slack_refuses_to_update_a_decided_card(fake, bot, database_url):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    fake.fail_next("chat.update", "cant_update_message", times=1000)  # however many updates the bot tries
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()
    assert buttons(fake.message(CHANNEL, card["ts"]))  # the card still offers a decision that was made

    result = _run_sync(fake, database_url)
    fake.clear_faults("chat.update")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.strip() == (
        "sync: 0 new, 0 closed elsewhere, 0 unchanged, 1 errors (C0INVITES1: chat.update cant_update_message)"
    )
    assert not _sync_check(bot)["ok"]

    assert _run_sync(fake, database_url).returncode == 0  # Slack takes the update again: the card is repaired
    assert not buttons(fake.message(CHANNEL, card["ts"]))
    assert _sync_check(bot)["ok"]


def test_a_card_deleted_in_slack_fails_one_sync_at_most(fake, bot):
    """Someone deleted the card: its update can never succeed, so it is forgotten instead of failing every pass."""
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)
    WebClient(base_url=fake.api_url, token=fake.bot_token).chat_delete(channel=CHANNEL, ts=card["ts"])
    fake.decide_outside(request["id"], "approve", APPROVER)

    first = bot.runtime.sync()
    second = bot.runtime.sync()

    assert first.closed == 1 and first.errors == 0 and second.errors == 0
    assert len(fake.calls("chat.update")) == 1  # tried once, then left alone
    assert fake.messages(CHANNEL) == []


def test_a_card_whose_answer_came_back_cut_short_is_not_posted_again(fake, bot, caplog):
    """A 200 whose JSON is cut short: Slack posted the card, so it is neither posted twice nor a traceback."""
    caplog.set_level(logging.ERROR, logger="app.slack.listeners.after_ack")
    request = new_request(fake)
    fake.fail_next("chat.postMessage", "ok", wire="truncated")

    bot.slack.invite_requested(request)
    bot.settle()
    bot.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")
    bot.settle()

    assert len(fake.calls("chat.postMessage")) == 1 and len(fake.messages(CHANNEL)) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "app.slack.listeners.after_ack"] == []  # no unexpected failure


def test_a_second_card_posted_after_a_lost_answer_is_brought_up_to_date_by_its_click(fake, bot):
    """Slack posted the card but its answer was lost; sync later posts another. A click on either closes both."""
    request = new_request(fake)
    fake.drop_answer("chat.postMessage")
    bot.slack.invite_requested(request)
    bot.settle()
    with bot.runtime.sessions.begin() as session:
        session.execute(update(RequestCard).values(reserved_at=now() - timedelta(minutes=10)))
    bot.runtime.sync()
    untracked, tracked = fake.messages(CHANNEL)

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=untracked["ts"], action_id="invite_approve")
    bot.settle()

    assert [bool(buttons(m)) for m in fake.messages(CHANNEL)] == [False, False]
    assert all(f"Approved by <@{APPROVER}>" in card_text(m) for m in fake.messages(CHANNEL))
