"""The reconcile pass: pages through Slack's pending list, closes what was decided elsewhere, heals crashed claims."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import update

from app.core import audit
from app.core.audit import now
from app.store.models import InviteRequest
from tests.support.bots import settings_env
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, SLACK_ADMIN, TEAM, new_request


def _sync(bot):
    return bot.sync(timeout=60)


def test_sync_pages_through_every_pending_request(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER="1501")  # a card each, not one digest for the backlog
    for n in range(1500):
        new_request(fake, f"person{n}@example.com")
    new_request(fake, "beta@example.com", team_id=OTHER_TEAM, channel_ids=[])

    summary = _sync(bot)

    assert (summary.new, summary.closed, summary.errors) == (1501, 0, 0)
    assert len(fake.messages(CHANNEL)) == 1501
    lists = fake.calls("admin.inviteRequests.list")
    assert [c.params.get("limit") for c in lists] == ["1000", "1000", "1000"]
    assert "cursor" in lists[1].params
    # list items carry no team; the name comes from admin.teams.list
    assert "Beta Labs" in card_text(wait_for_card(fake, "beta@example.com"))

    again = _sync(bot)
    assert (again.new, again.unchanged, again.closed) == (0, 1501, 0)
    assert len(fake.calls("chat.postMessage")) == 1501


def test_sync_closes_cards_decided_in_slacks_admin_pages(fake, bot, database_url):
    approved, denied = new_request(fake, "yes@example.com"), new_request(fake, "no@example.com")
    kept = new_request(fake, "wait@example.com")
    for request in (approved, denied, kept):
        bot.slack.invite_requested(request)
    bot.settle()
    fake.decide_outside(approved["id"], "approve", SLACK_ADMIN)
    fake.decide_outside(denied["id"], "deny", SLACK_ADMIN)

    result = subprocess.run(
        [sys.executable, "-m", "app", "sync"],
        env={"PATH": "/usr/bin:/bin", **settings_env(fake, database_url)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sync: 0 new, 2 closed elsewhere, 1 unchanged, 0 errors"
    assert f"Already approved by <@{SLACK_ADMIN}> outside invitebot" in card_text(
        wait_for_card(fake, "yes@example.com", lambda m: not buttons(m))
    )
    assert f"Already denied by <@{SLACK_ADMIN}> outside invitebot" in card_text(
        wait_for_card(fake, "no@example.com", lambda m: not buttons(m))
    )
    assert buttons(wait_for_card(fake, "wait@example.com"))


def test_sync_reports_slack_errors_in_its_summary(fake, bot):
    fake.fail_next("admin.inviteRequests.list", "not_an_admin")

    summary = _sync(bot)

    assert summary.errors == 1
    assert "not_an_admin" in summary.line()


def _crash_mid_decision(bot, request_id, minutes_ago=10):
    """What a process that died between its claim and Slack's answer leaves behind."""
    with bot.runtime.sessions.begin() as session:
        session.execute(
            update(InviteRequest)
            .where(InviteRequest.id == request_id)
            .values(
                status="deciding",
                claim_owner="dead-replica:1",
                claim_action="approve",
                claim_actor=APPROVER,
                claim_source="button",
                claimed_at=now() - timedelta(minutes=minutes_ago),
            )
        )


@both_databases
def test_a_crash_after_slack_approved_is_resolved_to_the_clicker(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    bot.settle()
    with bot.runtime.sessions.begin() as session:
        audit.record(session, request_id=request["id"], actor_id=APPROVER, action="approve", source="button", outcome="network_error")
    _crash_mid_decision(bot, request["id"])
    fake.decide_outside(request["id"], "approve", fake.admin_user_id)  # our call had reached Slack

    summary = _sync(bot)

    assert summary.closed == 1
    card = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(card)
    assert "outside" not in card_text(card)


@both_databases
def test_a_crash_that_left_only_its_claim_is_credited_to_the_claimer_not_the_admin_token(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    bot.settle()
    _crash_mid_decision(bot, request["id"])  # the claim names the clicker; no attempt of theirs was logged
    fake.decide_outside(request["id"], "approve", fake.admin_user_id)  # our call had reached Slack

    summary = _sync(bot)

    assert summary.closed == 1
    card = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(card)
    assert "outside" not in card_text(card)
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")


@both_databases
def test_a_crash_before_slack_acted_reopens_the_request(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    bot.settle()
    _crash_mid_decision(bot, request["id"])

    _sync(bot)

    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.claim_owner) == ("pending", None)
    card = wait_for_card(fake, "ada@example.com")
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert len(fake.calls("admin.inviteRequests.approve")) == 1


def test_a_fresh_claim_is_left_to_its_decision(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    bot.settle()
    _crash_mid_decision(bot, request["id"], minutes_ago=0)
    fake.decide_outside(request["id"], "approve", fake.admin_user_id)

    summary = _sync(bot)

    assert summary.closed == 0
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).status == "deciding"


@both_databases
def test_only_one_replica_runs_the_periodic_sync(fake, start_bot):
    from app.main.sync_loop import SyncLoop

    new_request(fake)
    loops = [SyncLoop(start_bot().runtime) for _ in range(3)]

    with ThreadPoolExecutor(3) as pool:
        ran = list(pool.map(lambda loop: loop.tick(), loops))

    assert ran.count(True) == 1
    assert [c.params["team_id"] for c in fake.calls("admin.inviteRequests.list")] == [TEAM, OTHER_TEAM]
    leader = loops[ran.index(True)]
    leader.stop()  # hands the lease back
    follower = loops[(ran.index(True) + 1) % 3]
    assert follower.tick()


def test_serve_syncs_at_start_without_any_event(fake, serve_process):
    new_request(fake, "waiting@example.com")

    serve_process()

    card = wait_for_card(fake, "waiting@example.com")
    assert buttons(card)


def test_sync_repairs_a_card_whose_update_failed(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    fake.fail_next("chat.update", "internal_error", times=3)  # the card job's first try, and slack_sdk's two retries
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    fake.wait_for(lambda: len(fake.calls("chat.update")) == 3, message="the card's update was never tried")
    assert buttons(fake.message(CHANNEL, card["ts"]))  # Slack refused every update attempt; the job waits to try again

    _sync(bot)  # the card lags behind its request: sync asks for it again, and the job waiting to try again is that ask

    assert f"Approved by <@{APPROVER}>" in card_text(wait_for_card(fake, "ada@example.com", lambda m: not buttons(m)))
    updates = len(fake.calls("chat.update"))
    _sync(bot)
    assert len(fake.calls("chat.update")) == updates  # a card that tells the truth is left alone
