"""Several `serve` processes on one database: one sync leader, taken over when it dies; SIGTERM finishes work first."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from app.config import DatabaseSettings
from app.sandbox import SlackSender
from tests.support.bots import SIGNING_SECRET
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, MANY_APPROVERS, new_request


def _parent(pid):
    """The gunicorn master of a worker process."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def _leading_replica(database_url):
    """The `serve` process (gunicorn master) whose worker holds the sync lease."""
    worker = _lease_holder_pid(database_url)
    try:
        return (_parent(worker), worker) if worker else None
    except FileNotFoundError:
        return None


def _lease_holder_pid(database_url):
    engine = create_engine(DatabaseSettings(DATABASE_URL=database_url).DATABASE_URL)
    try:
        with engine.connect() as connection:
            holder = connection.execute(text("SELECT holder FROM leases WHERE name = 'sync'")).scalar()
    finally:
        engine.dispose()
    return int(holder.split(":")[1]) if holder else None


@both_databases
def test_a_dead_leader_is_replaced_and_nothing_is_lost_or_decided_twice(fake, serve_process, database_url):
    urls = [serve_process(INVITES_SYNC_INTERVAL="10") for _ in range(3)]
    by_pid = {process.pid: url for process, url in zip(serve_process.processes, urls)}
    found = fake.wait_for(lambda: (_leading_replica(database_url) or (None,))[0] in by_pid and _leading_replica(database_url))
    leader, leader_worker = found

    os.kill(leader, signal.SIGKILL)  # the replica dies without a chance to hand the lease back
    os.kill(leader_worker, signal.SIGKILL)
    next(p for p in serve_process.processes if p.pid == leader).wait(timeout=30)
    late = new_request(fake, "late@example.com")  # created while nobody leads: only a sync can find it

    card = wait_for_card(fake, "late@example.com", timeout=30)  # the next leader's sync posts it
    new_leader, _ = _leading_replica(database_url)
    assert new_leader in by_pid and new_leader != leader
    survivors = [SlackSender(url, SIGNING_SECRET, fake) for pid, url in by_pid.items() if pid != leader]
    with ThreadPoolExecutor(10) as pool:
        list(
            pool.map(
                lambda n: survivors[n % 2].click(
                    user_id=MANY_APPROVERS[n], channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
                ),
                range(10),
            )
        )
    wait_for_card(fake, "late@example.com", lambda m: not buttons(m))
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    assert len(fake.messages(CHANNEL)) == 1
    assert late["id"] in card_text(fake.message(CHANNEL, card["ts"]))


def test_sigterm_finishes_the_decision_in_flight_then_exits(fake, serve_process):
    url = serve_process()
    slack = SlackSender(url, SIGNING_SECRET, fake)
    slack.invite_requested(new_request(fake))
    card = wait_for_card(fake, "ada@example.com")
    fake.set_latency("admin.inviteRequests.approve", 2)

    reply = slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    assert reply.status == 200
    fake.wait_for(lambda: fake.calls("admin.inviteRequests.approve") or None, message="approve never started")
    [process] = serve_process.processes
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 0
    assert f"Approved by <@{APPROVER}>" in card_text(fake.message(CHANNEL, card["ts"]))
