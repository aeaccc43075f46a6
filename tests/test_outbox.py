"""The outbox keeps Slack work durable: queued decisions survive a restart or a killed process, a job that can never
succeed ends visibly, a passing failure is tried again, and sync never takes a queued claim for an abandoned one."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.core import outbox
from app.core.audit import now
from app.sandbox import SlackSender
from app.store.db import make_engine, make_session_factory
from app.store.models import DecisionLog, InviteRequest, OutboxJob
from tests.support.bots import SIGNING_SECRET, kill_hard
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, TEAM, new_request

APPROVE = "admin.inviteRequests.approve"



def _approvers(fake, count):
    users = [f"W0OUTBX{n:03d}" for n in range(count)]
    for user in users:
        fake.add_user(user, name=user.lower(), team_id=TEAM)
    return users


def _cards(fake, slack, count, prefix="box"):
    requests = [new_request(fake, f"{prefix}{n:02d}@example.com") for n in range(count)]
    for request in requests:
        slack.invite_requested(request)
    return requests, [wait_for_card(fake, request["email"], timeout=30) for request in requests]


def _click(slack, card, user):
    reply = slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    assert reply.status == 200


def _approved_by_slack(fake, request_id):
    return [c for c in fake.calls(APPROVE) if c.status == 200 and not c.error and c.params["invite_request_id"] == request_id]


def _rows(sessions, requests):
    with sessions() as session:
        return {r["id"]: session.get(InviteRequest, r["id"]) for r in requests}


def _jobs(sessions, kind=None, state=None):
    with sessions() as session:
        query = select(OutboxJob)
        if kind:
            query = query.where(OutboxJob.kind == kind)
        if state:
            query = query.where(OutboxJob.state == state)
        return session.scalars(query.order_by(OutboxJob.id)).all()


def _told_approved(fake, user, email):
    return [t for t in ephemerals_for(fake, user) if f"You approved the invite request for {email}" in t]


def _get(bot_url, path):
    try:
        with urllib.request.urlopen(bot_url.replace("/slack/events", path), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _failed_total(bot, kind):
    _, body = _get(bot.url, "/metrics")
    found = re.search(rf'^invitebot_outbox_jobs_failed_total\{{kind="{kind}"\}} ([0-9.]+)$', body, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def database(database_url):
    """Sessions on the test's database, independent of any bot (which may be killed or closed)."""
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


# -- a restart -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
@both_databases
def test_decisions_queued_when_the_bot_stops_are_made_by_the_next_one(fake, start_bot, database):
    users = _approvers(fake, 10)
    settings = {
        "INVITES_APPROVERS": ",".join(users),
        "INVITES_ADMIN_CALLS_PER_MINUTE": "20",
        "INVITES_NOTIFY_REQUESTERS": "false",
    }
    before = start_bot(**settings)
    requests, cards = _cards(fake, before.slack, 10)

    for card, user in zip(cards, users):
        _click(before.slack, card, user)
    claimed = lambda: all(row.status in ("deciding", "approved") for row in _rows(database, requests).values())  # noqa: E731
    poll_until(claimed, message="not all 10 clicks were claimed")
    before.runtime.close()  # queued decisions stay in the database

    waiting = _jobs(database, "decide", outbox.QUEUED)
    rows = _rows(database, requests)
    made = len(fake.calls(APPROVE))
    assert len(waiting) >= 8 and made <= 2, f"{len(waiting)} decisions left queued, {made} made before the stop"
    assert {rows[job.request_id].status for job in waiting} == {"deciding"}

    after = start_bot(**settings)

    fake.wait_for(
        lambda: all(fake.invite_request_status(r["id"]) == "approved" for r in requests),
        timeout=60,
        message="not every queued decision was made after the restart",
    )
    assert Counter(c.params["invite_request_id"] for c in fake.calls(APPROVE) if c.status == 200 and not c.error) == {
        r["id"]: 1 for r in requests
    }
    for request, user in zip(requests, users):
        fake.wait_for(lambda: _told_approved(fake, user, request["email"]), timeout=15, message=f"{user} was never told")
    rows = poll_until(lambda: (lambda r: r if {x.status for x in r.values()} == {"approved"} else None)(_rows(database, requests)))
    assert all((rows[r["id"]].decided_by, rows[r["id"]].decision_source) == (user, "button") for r, user in zip(requests, users))
    after.settle()
    assert _jobs(database, "decide") == []


# -- a process killed between the claim and the call ----------------------------------------------------------------


@pytest.mark.slow
@both_databases
def test_a_claim_queued_in_a_killed_process_is_decided_by_the_next_one_for_its_clicker(fake, start_bot, serve_process, database):
    url = serve_process(INVITES_ADMIN_CALLS_PER_MINUTE="2")
    process = serve_process.processes[-1]
    slack = SlackSender(url, SIGNING_SECRET, fake)
    (first, second), (first_card, second_card) = _cards(fake, slack, 2)

    _click(slack, first_card, APPROVER)
    fake.wait_for(lambda: _approved_by_slack(fake, first["id"]), message="the first approval never reached Slack")
    _click(slack, second_card, GROUP_APPROVER)  # the next call may go out only 30 s after the first

    def queued():
        row = _rows(database, [second])[second["id"]]
        jobs = [j for j in _jobs(database, "decide", outbox.QUEUED) if j.request_id == second["id"]]
        return row.status == "deciding" and row.call_at is not None and row.call_at > now() + timedelta(seconds=5) and jobs

    poll_until(queued, message="the second click was never queued behind the pace")
    assert not _approved_by_slack(fake, second["id"])
    kill_hard(process.pid)
    process.wait(timeout=30)
    assert not _approved_by_slack(fake, second["id"])

    start_bot(INVITES_ADMIN_CALLS_PER_MINUTE="2")

    fake.wait_for(lambda: _approved_by_slack(fake, second["id"]), timeout=60, message="nobody made the queued call")
    fake.wait_for(lambda: _told_approved(fake, GROUP_APPROVER, second["email"]), message="the clicker was never told")
    closed = wait_for_card(fake, second["email"], lambda m: f"Approved by <@{GROUP_APPROVER}>" in card_text(m))
    assert not buttons(closed) and "queued" not in card_text(closed)
    row = poll_until(lambda: (lambda r: r if r.status == "approved" else None)(_rows(database, [second])[second["id"]]))
    assert (row.decided_by, row.decision_source) == (GROUP_APPROVER, "button")
    assert len(_approved_by_slack(fake, second["id"])) == 1
    assert len(_approved_by_slack(fake, first["id"])) == 1


# -- a job that can never succeed -------------------------------------------------------------------------------------


def test_a_card_update_slack_refuses_for_good_ends_visibly(fake, bot, caplog):
    caplog.set_level(logging.INFO, logger="app.core.outbox")
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded before the click
    failed_before = _failed_total(bot, "card")
    fake.fail_next("chat.update", "cant_update_message", times=5)

    _click(bot.slack, card, APPROVER)

    dead = poll_until(lambda: _jobs(bot.runtime.sessions, "card", outbox.DEAD), message="the card job never ended")
    assert [(j.request_id, j.last_error) for j in dead] == [(request["id"], "cant_update_message")]
    assert fake.invite_request_status(request["id"]) == "approved"
    assert [c.error for c in fake.calls("chat.update")] == ["cant_update_message"]  # given up at once, not retried
    bot.runtime.token_check.run(bot.runtime.gateway)  # both tokens checked: nothing else keeps /readyz from 200
    status, body = _get(bot.url, "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["checks"]["approvals_channel"]["ok"]  # one card's trouble, not the channel's
    check = ready["background"]["outbox"]
    assert check["ok"] is False
    assert f"card for {request['id']}" in check["detail"] and "cant_update_message" in check["detail"]
    assert _failed_total(bot, "card") >= failed_before + 1
    lines = [r.getMessage() for r in caplog.records if r.name == "app.core.outbox" and r.levelno >= logging.ERROR]
    assert any("failed for good" in line and "cant_update_message" in line and request["id"] in line for line in lines), lines


def test_a_card_in_an_archived_channel_ends_visibly(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded before the click
    fake.archive_channel(CHANNEL)

    _click(bot.slack, card, APPROVER)

    dead = poll_until(lambda: _jobs(bot.runtime.sessions, "card", outbox.DEAD), message="the card job never ended")
    assert [j.request_id for j in dead] == [request["id"]]
    assert len([c for c in fake.calls("chat.update") if c.params.get("ts") == card["ts"]]) == 1
    status, body = _get(bot.url, "/readyz")
    check = json.loads(body)["checks"]["approvals_channel"]
    assert status == 503 and check["ok"] is False
    assert check["detail"].startswith(f"{CHANNEL}: card for {request['id']}") and "is_inactive — The channel is archived" in check["detail"]


# -- a passing failure --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [{"error": "internal_error"}, {"error": "service_unavailable", "status": 503}], ids=["internal_error", "http-503"]
)
def test_a_failed_answer_to_the_clicker_is_tried_again_and_arrives(fake, bot, fault):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded before the click
    fake.fail_next("chat.postEphemeral", times=3, **fault)  # the first try and both of slack_sdk's quick retries

    _click(bot.slack, card, APPROVER)

    [answer] = fake.wait_for(lambda: _told_approved(fake, APPROVER, request["email"]), timeout=30, message="never answered")
    calls = fake.calls("chat.postEphemeral")
    failed = [c for c in calls if c.error]
    assert len(failed) == 3 and [c.error for c in calls].count(None) == 1
    waited = calls[-1].at - failed[-1].at
    assert waited >= 1.5, f"tried again {waited:.2f} s after the failure; the outbox backs off"
    bot.settle()
    assert ephemerals_for(fake, APPROVER) == [answer]
    assert _jobs(bot.runtime.sessions, state=outbox.DEAD) == []


# -- sync and a queued claim ---------------------------------------------------------------------------------------


def _age_claim(sessions, request_id, minutes=10):
    with sessions.begin() as session:
        session.execute(
            update(InviteRequest).where(InviteRequest.id == request_id).values(claimed_at=now() - timedelta(minutes=minutes))
        )


@pytest.mark.slow
@both_databases
def test_sync_never_takes_a_claim_queued_behind_the_pace_for_a_stale_one(fake, start_bot):
    bot = start_bot(INVITES_ADMIN_CALLS_PER_MINUTE="3")
    (first, second), (first_card, second_card) = _cards(fake, bot.slack, 2)
    _click(bot.slack, first_card, APPROVER)
    fake.wait_for(lambda: _approved_by_slack(fake, first["id"]), message="the first approval never reached Slack")
    _click(bot.slack, second_card, GROUP_APPROVER)  # 20 s behind the first
    fake.wait_for(lambda: [t for t in ephemerals_for(fake, GROUP_APPROVER) if "queued" in t], message="not told queued")
    wait_for_card(fake, second["email"], lambda m: f"Approving… <@{GROUP_APPROVER}>, queued" in card_text(m))
    queued = _rows(bot.runtime.sessions, [second])[second["id"]]
    assert queued.status == "deciding" and queued.call_at > now()

    _age_claim(bot.runtime.sessions, second["id"])
    summary = bot.runtime.sync()

    assert summary.errors == 0
    row = _rows(bot.runtime.sessions, [second])[second["id"]]
    assert (row.status, row.claim_owner, row.claim_actor, row.call_at) == (
        "deciding",
        queued.claim_owner,
        GROUP_APPROVER,
        queued.call_at,
    )
    assert [j.request_id for j in _jobs(bot.runtime.sessions, "decide", outbox.QUEUED)] == [second["id"]]
    with bot.sessions() as session:
        outcomes = [e.outcome for e in session.scalars(select(DecisionLog).where(DecisionLog.request_id == second["id"]))]
    assert "released_stale" not in outcomes
    assert fake.invite_request_status(second["id"]) == "pending" and not _approved_by_slack(fake, second["id"])
    bot.settle()
    shown = fake.message(CHANNEL, second_card["ts"])
    assert buttons(shown) == [] and f"Approving… <@{GROUP_APPROVER}>, queued" in card_text(shown)  # not open again

    fake.wait_for(lambda: _told_approved(fake, GROUP_APPROVER, second["email"]), timeout=40, message="never decided")
    row = poll_until(lambda: (lambda r: r if r.status == "approved" else None)(_rows(bot.runtime.sessions, [second])[second["id"]]))
    assert (row.decided_by, row.decision_source) == (GROUP_APPROVER, "button")
    assert len(_approved_by_slack(fake, second["id"])) == 1


# -- waiting for the outbox ----------------------------------------------------------------------------------------


def test_waiting_for_the_outbox_counts_a_job_taken_but_not_yet_started(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()
    box = bot.runtime.outbox
    submit, handed_over = box._submit, threading.Event()
    taken: list[int] = []

    def slow_submit(job):  # the moment between the dispatcher's commit and the hand-over to a worker, drawn out
        taken.append(job.id)
        handed_over.wait(10)
        submit(job)

    box._submit = slow_submit
    try:
        _click(bot.slack, card, APPROVER)
        poll_until(lambda: taken, message="the click was never taken")
        assert [j.state for j in _jobs(bot.runtime.sessions, "ask")] == [outbox.RUNNING]
        assert not box.wait_until_idle(timeout=1.0), "the outbox said it was idle with a click taken and not yet decided"
    finally:
        handed_over.set()
        box._submit = submit
    bot.settle()


def test_a_decision_given_up_for_good_gives_the_request_back_and_says_so(fake, bot, monkeypatch):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()

    def broken(services, job):
        raise outbox.GiveUp("OperationalError")  # as when invitebot's own database keeps failing

    monkeypatch.setattr("app.slack.jobs.registry.run_decision", broken)
    _click(bot.slack, card, APPROVER)

    [told] = fake.wait_for(lambda: [t for t in ephemerals_for(fake, APPROVER) if "could not finish deciding" in t])
    assert request["email"] in told and "Click Approve again to retry" in told
    bot.settle()
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        outcomes = [e.outcome for e in session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]))]
    assert (row.status, row.claim_owner) == ("pending", None)
    assert outcomes == ["gave_up"]
    assert buttons(fake.message(CHANNEL, card["ts"]))
    assert fake.calls("admin.inviteRequests.approve") == []


def test_a_job_that_puts_itself_back_and_is_taken_again_at_once_is_not_lost(bot, monkeypatch):
    """A job postponing itself to now can be this process's next claim before its first run has ended; that run ending
    must not delete the row the second run holds (a bulk decision's feeder does this every few items)."""
    box, runs = bot.runtime.outbox, []
    retaken, first_ended = threading.Event(), threading.Event()
    run = box._run

    def run_and_tell(job, lane):
        run(job, lane)
        if job.attempts == 1:
            first_ended.set()

    def handler(job):
        runs.append(job.attempts)
        later = now() if len(runs) == 1 else now() + timedelta(hours=1)
        if len(runs) == 1:
            with bot.runtime.sessions.begin() as session:
                job.postpone(session, later, "again")
            assert retaken.wait(10), "the postponed job was not taken again"
        else:
            retaken.set()
            assert first_ended.wait(10), "the first run never ended"
            with bot.runtime.sessions.begin() as session:
                job.postpone(session, later, "again")

    monkeypatch.setattr(box, "_run", run_and_tell)
    box.handle("batch", handler)
    with bot.runtime.sessions.begin() as session:
        box.add(session, "batch", {"batch": 0})

    poll_until(lambda: len(runs) == 2, message="the postponed job never ran again")
    [job] = poll_until(lambda: [j for j in _jobs(bot.runtime.sessions, "batch") if j.state == outbox.QUEUED], timeout=15,
                       message="the job was lost")
    assert job.not_before.replace(tzinfo=None) > (now() + timedelta(minutes=50)).replace(tzinfo=None)
