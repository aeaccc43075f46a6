"""Cards reach the approvals channel once, and a card Slack will not take shows up as a failed outbox job: in what
`invitebot sync` and `invitebot outbox` print, and in /readyz (its approvals channel check when the channel is the cause)."""

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
from tests.support.bots import outbox_cli, settings_env
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request


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



def _readyz(bot):
    """/readyz's body: `checks` decide readiness, `background` (sync, outbox) is shown only."""
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", "/readyz"), timeout=10) as answer:
            body = answer.read().decode()
    except urllib.error.HTTPError as error:
        body = error.read().decode()
    return json.loads(body)


def _failed_jobs(stdout):
    """The lines naming one job each that failed for good."""
    return [line for line in stdout.splitlines() if line.startswith("  job ")]


@both_databases
def test_a_card_whose_answer_was_lost_is_not_posted_twice(fake, bot):
    request = new_request(fake)
    fake.drop_answer("chat.postMessage")  # Slack posts the card, then the connection drops before its answer

    bot.slack.invite_requested(request)
    bot.settle()
    bot.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")  # Slack's retry of the event
    bot.settle()
    bot.sync()

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
    bot.sync()
    assert fake.messages(CHANNEL) == []  # too soon to tell a lost answer from a lost post: nothing is posted blindly

    with bot.runtime.sessions.begin() as session:
        session.execute(update(RequestCard).values(reserved_at=now() - timedelta(minutes=10)))
    bot.sync()

    [card] = _cards_of(fake, request)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    decided = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert decided["ts"] == card["ts"] and f"Approved by <@{APPROVER}>" in card_text(decided)
    with bot.sessions() as session:
        assert session.scalars(select(RequestCard.ts)).all() == [card["ts"]]


def test_the_sync_command_posts_every_card_it_owes_at_the_channels_pace_before_it_exits(fake, database_url):
    """No server runs: the command itself posts its cards, each in its own slot, and waits for the last one."""
    fake.enforce_rate_limits(messages_per_second=1.0)
    for n in range(4):
        new_request(fake, f"paced{n}@example.com")

    result = _run_sync(fake, database_url, INVITES_CARD_POSTS_PER_MINUTE="30")  # a post every 2 s

    assert (result.returncode, result.stdout) == (0, "sync: 4 new, 0 closed elsewhere, 0 unchanged, 0 errors\n"), result.stderr
    posts = [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]
    # Slack never had to say 429, but once on a starved machine: a post that starts a second late meets the next on time,
    # and is posted again at the channel's next free slot
    assert [c.status for c in posts].count(200) == 4 and [c.status for c in posts].count(429) <= 1, [c.status for c in posts]
    assert len(fake.messages(CHANNEL)) == 4
    times = sorted(c.at for c in posts if c.status == 200)
    assert times[-1] - times[0] > 4.5  # four 2 s slots, not one burst (a late post may bunch with the next one)


ARCHIVED_FIX = f"is_archived — The channel is archived: unarchive it or choose another in INVITES_CHANNEL={CHANNEL}."


def test_a_card_the_archived_approvals_channel_refuses_is_a_failed_job_with_its_fix_and_holds_the_others(
    fake, start_bot, database_url
):
    fake.archive_channel(CHANNEL)
    one, two = new_request(fake, "one@example.com"), new_request(fake, "two@example.com")

    result = _run_sync(fake, database_url, INVITES_CARD_POSTS_PER_MINUTE="300")  # the refusal is known before the next post

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == [
        "sync: 2 new, 0 closed elsewhere, 0 unchanged, 0 errors",
        "outbox: 1 failed for good, 1 post held until their channel takes posts",
    ]
    [failed] = _failed_jobs(result.stdout)
    assert failed.split(": ", 1)[1].split(" failed at ")[0] in {f"post_card for {request['id']}" for request in (one, two)}
    assert failed.endswith(f"after 1 attempts: {ARCHIVED_FIX}"), failed
    assert len(fake.calls("chat.postMessage")) == 1
    listed = outbox_cli(database_url)
    assert "1 queued, 0 running, 1 failed for good" in listed.stdout  # the other card waits for the channel
    assert _failed_jobs(listed.stdout) == [failed.replace(f"INVITES_CHANNEL={CHANNEL}", CHANNEL)]  # given DATABASE_URL only
    bot = start_bot()  # only now: a server running beside the sync would be a second replica posting the same cards
    check = _readyz(bot)["checks"]["approvals_channel"]  # the channel, not one card: invitebot cannot serve approvers
    assert not check["ok"] and check["detail"].startswith(f"{CHANNEL}: post_card for ") and check["detail"].endswith(ARCHIVED_FIX)


def test_cards_for_a_missing_approvals_channel_are_failed_jobs_saying_to_invite_the_bot(fake, bot, database_url):
    request = new_request(fake)

    result = _run_sync(fake, database_url, INVITES_CHANNEL="C0GONE0001")

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("sync: 1 new, 0 closed elsewhere, 0 unchanged, 0 errors\noutbox: 1 failed for good\n")
    [failed] = _failed_jobs(result.stdout)
    assert f"post_card for {request['id']} failed at " in failed
    fix = "C0GONE0001 names no channel the bot can see: check the id (C…) and invite the bot."
    assert failed.endswith(f"channel_not_found — INVITES_CHANNEL={fix}"), failed
    check = _readyz(bot)["checks"]["approvals_channel"]  # a server whose INVITES_CHANNEL is another channel names the id only
    assert not check["ok"] and check["detail"].endswith(f"channel_not_found — {fix}")


def test_a_card_slack_refuses_to_update_is_a_failed_job_until_a_sync_repairs_it(fake, bot, database_url):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    bot.settle()  # the card's ts is recorded before the click
    fake.fail_next("chat.update", "cant_update_message", times=1000)  # however many updates the bot tries
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()
    assert buttons(fake.message(CHANNEL, card["ts"]))  # the card still offers a decision that was made

    result = _run_sync(fake, database_url)

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[:2] == ["sync: 0 new, 0 closed elsewhere, 0 unchanged, 0 errors", "outbox: 1 failed for good"]
    [failed] = _failed_jobs(result.stdout)
    assert f"card for {request['id']} failed at " in failed and failed.endswith(": cant_update_message")
    assert _failed_jobs(outbox_cli(database_url).stdout) == [failed]  # the sync's try replaced the click's, not added to it
    ready = _readyz(bot)  # one card Slack will not update is that card's trouble, not the approvals channel's
    assert ready["checks"]["approvals_channel"]["ok"]
    check = ready["background"]["outbox"]
    assert not check["ok"] and "cant_update_message" in check["detail"]

    fake.clear_faults("chat.update")
    assert _run_sync(fake, database_url).returncode == 0  # Slack takes the update again: the card is repaired
    assert not buttons(fake.message(CHANNEL, card["ts"]))
    assert "0 failed for good" in outbox_cli(database_url).stdout
    assert _readyz(bot)["background"]["outbox"]["ok"]


def test_a_card_deleted_in_slack_fails_one_sync_at_most(fake, bot):
    """Someone deleted the card: its update can never succeed, so it is forgotten instead of failing every pass."""
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com", buttons)
    WebClient(base_url=fake.api_url, token=fake.bot_token).chat_delete(channel=CHANNEL, ts=card["ts"])
    fake.decide_outside(request["id"], "approve", APPROVER)

    first = bot.sync()
    second = bot.sync()

    assert first.closed == 1 and first.errors == 0 and second.errors == 0
    assert len(fake.calls("chat.update")) == 1  # tried once, then left alone
    assert fake.messages(CHANNEL) == []


def test_a_card_whose_answer_came_back_cut_short_is_not_posted_again(fake, bot, caplog):
    """A 200 whose JSON is cut short: Slack posted the card, so it is neither posted twice nor a traceback."""
    caplog.set_level(logging.ERROR, logger="app")
    request = new_request(fake)
    fake.fail_next("chat.postMessage", "ok", wire="truncated")

    bot.slack.invite_requested(request)
    bot.settle()
    bot.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")
    bot.settle()

    assert len(fake.calls("chat.postMessage")) == 1 and len(fake.messages(CHANNEL)) == 1
    failed = [r.getMessage() for r in caplog.records if r.name in ("app.slack.listeners.after_ack", "app.core.outbox")]
    assert failed == []  # no unexpected failure after the ack, no "outbox job failed"


@both_databases
def test_a_card_whose_answer_was_lost_is_adopted_by_the_takeover_and_closed_by_the_decision(fake, bot):
    """Slack posted the card but its answer was lost: the sync taking the post over finds it by its metadata instead of
    posting a second card, records it, and a decision made elsewhere (/invites) closes it."""
    request = new_request(fake)
    fake.drop_answer("chat.postMessage")
    bot.slack.invite_requested(request)
    bot.settle()
    [card] = _cards_of(fake, request)
    with bot.runtime.sessions.begin() as session:
        session.execute(update(RequestCard).values(reserved_at=now() - timedelta(minutes=10)))

    bot.sync()

    assert [m["ts"] for m in fake.messages(CHANNEL)] == [card["ts"]]  # taken over, not posted again
    history = fake.calls("conversations.history")
    assert [(c.params.get("channel"), c.params.get("include_all_metadata")) for c in history] == [(CHANNEL, "1")]
    with bot.sessions() as session:
        assert session.scalars(select(RequestCard.ts)).all() == [card["ts"]]
    bot.slack.slash(text=f"approve {request['id']}", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()

    [closed] = fake.messages(CHANNEL)
    assert closed["ts"] == card["ts"] and not buttons(closed)
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
