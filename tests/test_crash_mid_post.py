"""A replica killed while Slack is posting a reminder or a requester's DM: the replica that takes its job over finds the
message Slack posted (by its metadata) and posts nothing more, so each is said once."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from app.core.audit import now
from app.core.reminders import scan
from app.main.container import build_runtime
from app.sandbox import SlackSender
from app.store.migrate import upgrade_to_head
from app.store.models import OutboxJob, RequestCard
from tests.support.bots import SIGNING_SECRET, kill_hard, make_settings
from tests.support.cards import buttons, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, REQUESTER, new_request

POST = "chat.postMessage"


@pytest.fixture
def database(fake, database_url):
    """The shared database, migrated, and a runtime of this process that reads and writes it but runs no jobs."""
    runtime = build_runtime(make_settings(fake, database_url, INVITES_REMIND_AFTER="4h"))
    upgrade_to_head(runtime.engine)
    yield runtime
    runtime.close()


def _replica_with_a_card(fake, serve_process, database, request):
    """A serving replica (a real process) that has posted the request's card and recorded its ts."""
    url = serve_process()
    SlackSender(url, SIGNING_SECRET, fake).invite_requested(request)
    card = wait_for_card(fake, request["email"], buttons)
    poll_until(lambda: _recorded(database), message="the card's ts was never recorded")
    return url, card


def _recorded(runtime):
    with runtime.sessions() as session:
        return session.scalar(select(RequestCard.ts).where(RequestCard.ts.is_not(None)))


def _die_while_slack_posts(fake, serve_process, posted):
    """Kill the replica (SIGKILL, workers included) while its post is held at Slack, then let Slack finish the post."""
    fake.wait_for(lambda: fake.calls_in_progress(POST), timeout=30, message="the post never reached Slack")
    [process] = serve_process.processes
    kill_hard(process.pid)
    process.wait()
    fake.wait_for(posted, timeout=30, message="Slack never finished the post")
    fake.set_latency(POST, 0)


def _leases_run_out(runtime):
    """Make the dead replica's running jobs look as old as a dead replica's, so another takes them over now."""
    with runtime.sessions.begin() as session:
        session.execute(update(OutboxJob).where(OutboxJob.state == "running").values(locked_until=now() - timedelta(seconds=1)))


def _jobs_left(runtime):
    with runtime.sessions() as session:
        return session.scalars(select(OutboxJob.kind).where(OutboxJob.state != "dead")).all()


@both_databases
def test_a_reminder_slack_posted_as_its_replica_died_is_not_posted_again(fake, serve_process, start_bot, database):
    created = int(time.time()) - 60
    request = new_request(fake, date_created=created)
    _, card = _replica_with_a_card(fake, serve_process, database, request)

    def reminders():
        return [m for m in fake.messages(CHANNEL) if m.get("thread_ts") == card["ts"]]

    fake.set_latency(POST, 3)
    assert scan(database.services, database.settings, datetime.fromtimestamp(created, timezone.utc) + timedelta(hours=5)).reminded == 1
    _die_while_slack_posts(fake, serve_process, reminders)
    _leases_run_out(database)

    survivor = start_bot()
    survivor.settle()

    assert len(reminders()) == 1
    assert [c.params["ts"] for c in fake.calls("conversations.replies")] == [card["ts"]]  # looked in the card's thread
    assert _jobs_left(database) == []


@both_databases
def test_a_requesters_dm_slack_posted_as_its_replica_died_is_not_posted_again(fake, serve_process, start_bot, database):
    request = new_request(fake)
    url, card = _replica_with_a_card(fake, serve_process, database, request)

    fake.set_latency(POST, 3)
    SlackSender(url, SIGNING_SECRET, fake).click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    _die_while_slack_posts(fake, serve_process, lambda: fake.direct_messages(REQUESTER))
    _leases_run_out(database)

    survivor = start_bot()
    survivor.settle()

    [dm] = fake.direct_messages(REQUESTER)
    assert "was approved by" in dm["text"]
    assert [c.params["users"] for c in fake.calls("conversations.open")] == [REQUESTER]  # its IM, then its history
    assert len(fake.calls("conversations.history")) == 1
    assert _jobs_left(database) == []
