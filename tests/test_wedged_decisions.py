"""Whatever goes wrong between the claim and Slack's answer, the request never stays stuck and the credit stays true."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core.audit import now
from app.core.outbox import GiveUp
from app.sandbox import SlackSender
from app.store.models import DecisionLog, InviteRequest
from tests.support.bots import SIGNING_SECRET, kill_hard
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, TEAM, new_request

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


def _age_claim(bot, request, minutes=10):
    """Make the claim look as old as a dead process's, so sync takes it over."""
    with bot.runtime.sessions.begin() as session:
        session.execute(
            update(InviteRequest).where(InviteRequest.id == request["id"]).values(claimed_at=now() - timedelta(minutes=minutes))
        )


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
    assert "Slack answered with a server error" in answer and "click Approve again to retry" in answer
    bot.settle()
    assert buttons(fake.message(CHANNEL, card["ts"]))
    assert _row(bot, request).status == "pending"
    assert _outcomes(bot) == ["http_error"]
    assert fake.invite_request_status(request["id"]) == "pending"

    _click(bot, card, user=GROUP_APPROVER)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{GROUP_APPROVER}>" in card_text(closed)


@both_databases
def test_a_cut_short_answer_to_an_approval_slack_carried_out_is_credited_to_the_clicker(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next(APPROVE, wire="truncated")

    _click(bot, card)

    assert f"You approved the invite request for {request['email']}" in _answer(fake)
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")
    assert len(fake.calls(APPROVE)) == 1


@both_databases
def test_an_approval_whose_every_answer_was_lost_is_the_clickers(fake, bot):
    request, card = _card_for(fake, bot)
    fake.drop_answer(APPROVE, times=3)  # the first call approves; it and both retries lose their answers

    _click(bot, card)

    assert f"You approved the invite request for {request['email']}" in _answer(fake)
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    assert fake.invite_request_status(request["id"]) == "approved"

    bot.slack.click(user_id=GROUP_APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card)

    assert f"Approved by <@{APPROVER}>" in _answer(fake, GROUP_APPROVER)
    row = _row(bot, request)
    assert (row.status, row.decided_by) == ("approved", APPROVER)


def test_a_lost_answer_slacks_lists_show_undecided_lets_the_next_click_through(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next(APPROVE, wire="html_502", times=3)
    _click(bot, card)
    assert "click Approve again" in _answer(fake)

    _click(bot, card, user=GROUP_APPROVER)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{GROUP_APPROVER}>" in card_text(closed)


def test_a_long_retry_after_keeps_the_claim_queued_and_says_so_instead_of_asking_for_a_retry(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next(APPROVE, "ratelimited", retry_after=120)

    _click(bot, card)

    answer = _answer(fake)
    assert "queued: Slack asked us to wait (about 2 min); invitebot asks again in about 60 s" in answer
    assert "click" not in answer.lower() and "retry" not in answer.lower()
    queued = wait_for_card(fake, request["email"], lambda m: "queued: Slack asked us to wait" in card_text(m))
    assert not buttons(queued) and f"Approving… <@{APPROVER}>" in card_text(queued)
    _age_claim(bot, request)
    bot.runtime.sync()  # a claim waiting for Slack is never taken as stale, however old
    row = _row(bot, request)
    assert row.status == "deciding" and row.call_at is not None
    assert [c.status for c in fake.calls(APPROVE)] == [429]


@both_databases
def test_an_approval_that_lands_after_sync_reopened_the_request_closes_it(fake, bot):
    request, card = _card_for(fake, bot)
    fake.set_latency(APPROVE, 3)

    _click(bot, card)
    fake.wait_for(lambda: fake.calls_in_progress(APPROVE), message="the approval never reached Slack")
    _age_claim(bot, request)
    bot.runtime.sync()  # Slack still lists the request as pending: sync reopens it
    bot.settle()

    assert f"You approved the invite request for {request['email']}" in _answer(fake)
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")


@both_databases
def test_an_approval_that_lands_after_its_process_died_is_credited_to_the_clicker(fake, database_url, start_bot, serve_process):
    url = serve_process()
    slack = SlackSender(url, SIGNING_SECRET, fake)
    request = new_request(fake)
    slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    fake.set_latency(APPROVE, 5)

    slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    fake.wait_for(lambda: fake.calls_in_progress(APPROVE), message="the approval never reached Slack")
    [process] = serve_process.processes
    kill_hard(process.pid)  # SIGKILL, its web and worker processes too: nothing of the decision after the claim is recorded
    process.wait()
    syncer = start_bot()  # another replica, started once the job is the dead worker's (else its outbox might take it first)
    fake.wait_for(lambda: fake.invite_request_status(request["id"]) == "approved", message="Slack never approved")
    fake.set_latency(APPROVE, 0)
    _age_claim(syncer, request)
    syncer.runtime.sync()  # the dead process's job is still owed: sync leaves its claim alone
    assert _row(syncer, request).status == "deciding"

    # Once the dead process's lease runs out, the other replica's outbox takes its job: Slack says it is done already,
    # its lists name our admin token, and the log of attempts credits the clicker.
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m), timeout=40)
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    assert "outside" not in card_text(closed)
    assert [c.error for c in fake.calls(APPROVE)] == [None, "already_processed"]  # one approval, one question after it
    row = _row(syncer, request)
    assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")


def _held_past_our_timeout(fake, start_bot):
    """A bot that waits 1 s for Slack's answer, and a click whose approval Slack holds for 6 s before carrying it out:
    long enough that the bot's look at Slack's lists after its timeout finds it not yet done, on a busy machine too."""
    bot = start_bot(SLACK_API_TIMEOUT="1")
    request, card = _card_for(fake, bot)
    fake.set_latency(APPROVE, 6)
    _click(bot, card)
    answer = _answer(fake)
    fake.wait_for(lambda: fake.invite_request_status(request["id"]) == "approved", message="Slack never approved")
    fake.set_latency(APPROVE, 0)
    return bot, request, card, answer


def _entries(bot, request):
    with bot.sessions() as session:
        return list(session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]).order_by(DecisionLog.id)))


@both_databases
def test_an_approval_slack_carries_out_after_invitebot_stopped_waiting_is_credited_to_its_clicker(fake, start_bot):
    bot, request, card, answer = _held_past_our_timeout(fake, start_bot)
    assert "Slack may still approve it" in answer and "Nothing was decided" not in answer

    bot.sync()  # the request left Slack's pending list; Slack names invitebot's admin token as the approver

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed) and "outside" not in card_text(closed)
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")
    attempt, closing = _entries(bot, request)
    assert (attempt.actor_id, attempt.outcome) == (APPROVER, "network_error")
    assert (closing.actor_id, closing.source, closing.outcome) == (APPROVER, "sync", "our_call_landed")
    assert fake.admin_user_id in closing.detail and f"{APPROVER}'s approve from button" in closing.detail
    assert len(fake.calls(APPROVE)) == 1


@both_databases
def test_a_click_after_slack_carried_out_a_held_approval_credits_the_approval_slack_held(fake, start_bot):
    bot, request, card, _ = _held_past_our_timeout(fake, start_bot)

    _click(bot, card, user=GROUP_APPROVER)  # no sync yet: the card still has its buttons

    told = _answer(fake, GROUP_APPROVER)
    assert f"already approved by <@{APPROVER}>." in told and "outside" not in told
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")
    second = _entries(bot, request)[-1]
    assert (second.actor_id, second.outcome) == (GROUP_APPROVER, "already_processed")
    assert f"credited to the latest attempt of ours: {APPROVER}'s approve" in second.detail


def test_an_approval_slack_carried_out_before_its_job_gave_up_is_credited_to_the_clicker(fake, bot, monkeypatch):
    request, card = _card_for(fake, bot)

    def decided_then_failed(runtime, job):
        runtime.gateway.decide("approve", request["id"], TEAM)  # Slack carries it out ...
        raise GiveUp("OperationalError")  # ... and invitebot's own database fails before it is recorded, for good

    monkeypatch.setattr("app.slack.jobs.registry.run_decision", decided_then_failed)
    _click(bot, card)
    fake.wait_for(lambda: [t for t in ephemerals_for(fake, APPROVER) if "could not finish deciding" in t])
    bot.settle()

    bot.sync()

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed) and "outside" not in card_text(closed)
    assert _outcomes(bot) == ["gave_up", "our_call_landed"]


def test_while_auth_test_fails_sync_leaves_a_decision_it_cannot_attribute_for_a_later_pass(fake, start_bot):
    bot, request, card, _ = _held_past_our_timeout(fake, start_bot)
    fake.fail_next("auth.test", "fatal_error", times=3)  # the first try and both retries: whose token is it, Slack won't say

    summary = bot.sync()

    assert summary.errors == 1 and "auth.test failed" in summary.line()
    assert buttons(fake.message(CHANNEL, card["ts"])) and _row(bot, request).status == "pending"
    bot.sync()
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed) and "outside" not in card_text(closed)
