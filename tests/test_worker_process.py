"""The web role and the worker role in processes of their own: `serve` runs a worker beside it (restarted when it dies,
gone when serve is), `serve --no-worker` only acks and queues, `invitebot work` carries out what was queued, and a worker
hears of a new job at once rather than on its poll."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select

from app.config import DatabaseSettings
from app.sandbox import SlackSender
from app.store.models import OutboxJob
from tests.support.bots import SIGNING_SECRET, kill_hard, settings_env
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, new_request

APPROVE = "admin.inviteRequests.approve"


def _get(url, path):
    try:
        with urllib.request.urlopen(url.replace("/slack/events", path), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _queued(database_url, kind):
    engine = create_engine(DatabaseSettings(DATABASE_URL=database_url).DATABASE_URL)
    try:
        with engine.connect() as connection:
            where = (OutboxJob.kind == kind) & (OutboxJob.state == "queued")
            return connection.execute(select(func.count()).select_from(OutboxJob).where(where)).scalar()
    finally:
        engine.dispose()


def _worker_pids(output):
    """Every worker process serve started, in order, from its log lines."""
    started = "started the worker process (pid "
    return [int(line.split(started, 1)[1].split(")", 1)[0]) for line in output.lines if started in line]


def _alive(pid):
    """Running (a zombie waiting to be reaped by whoever inherited it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _approved(fake, request):
    """The request's card once it says who approved it (a card queued for Slack's pace shows no buttons either)."""
    card = wait_for_card(fake, request["email"], lambda m: f"Approved by <@{APPROVER}>" in card_text(m), timeout=60)
    assert not buttons(card)
    return card


def _approvals_slack_made(fake):
    """Per request, the approve calls Slack carried out (one answered already_processed repeats none)."""
    return Counter(call.params["invite_request_id"] for call in fake.calls(APPROVE) if call.error is None)


def _doctor(fake, database_url):
    env = {"PATH": "/usr/bin:/bin", **settings_env(fake, database_url)}
    result = subprocess.run([sys.executable, "-m", "app", "doctor"], env=env, capture_output=True, text=True, timeout=120)
    [row] = [line for line in result.stdout.splitlines() if line.startswith("processes  ")]
    outcome, _, detail = row.removeprefix("processes").strip().partition("  ")
    return outcome.strip(), detail.strip()


def test_serve_without_a_worker_acks_clicks_and_invitebot_work_decides_each_once(fake, serve_process, work_process, database_url):
    url = serve_process("--no-worker")
    status, body = _get(url, "/readyz")
    worker = json.loads(body)["background"]["worker"]
    assert status == 503 and not worker["ok"], body
    assert worker["detail"].startswith("no worker process has been seen for 30 s: clicks are acked but nothing is done")
    slack = SlackSender(url, SIGNING_SECRET, fake)
    requests = [new_request(fake, f"person{n}@example.com") for n in range(3)]
    for request in requests:
        assert slack.invite_requested(request).status == 200

    first = work_process()  # posts the cards
    cards = [wait_for_card(fake, request["email"], buttons) for request in requests]
    poll_until(lambda: _get(url, "/readyz")[0] == 200, timeout=30, message="/readyz never saw the worker")
    first.terminate()
    assert first.wait(timeout=60) == 0

    for card in cards:
        assert slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    # Each click was written down before its ack, as an ask a worker decides: the web process decides nothing itself.
    assert _queued(database_url, "ask") == len(requests)
    assert _queued(database_url, "decide") == 0
    assert fake.calls(APPROVE) == []
    assert all(buttons(message) for message in fake.messages(CHANNEL))

    work_process()
    for request in requests:
        _approved(fake, request)
    assert _approvals_slack_made(fake) == {request["id"]: 1 for request in requests}
    assert len(fake.calls(APPROVE)) == len(requests)


def test_doctor_shows_the_roles_running_and_says_when_no_worker_is(fake, serve_process, work_process, database_url):
    serve_process("--no-worker")
    outcome, detail = poll_until(lambda: "web seen" in (found := _doctor(fake, database_url))[1] and found, timeout=60)
    assert (
        outcome == "FAIL"
        and detail == "1 web seen in the last minute, and no worker: clicks are acked but nothing is done in Slack"
    )

    work_process()

    assert _doctor(fake, database_url) == ("ok", "1 web, 1 worker seen in the last minute")


@both_databases
def test_a_worker_killed_with_decisions_queued_is_restarted_and_each_is_decided_once(fake, serve_process):
    url = serve_process(INVITES_ADMIN_CALLS_PER_MINUTE="20")  # a call every 3 s: the later decisions wait their slot
    output = serve_process.output[url]
    slack = SlackSender(url, SIGNING_SECRET, fake)
    requests = [new_request(fake, f"person{n}@example.com") for n in range(3)]
    for request in requests:
        slack.invite_requested(request)
    cards = [wait_for_card(fake, request["email"], buttons) for request in requests]
    fake.set_latency(APPROVE, 3)
    for card in cards:
        assert slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    fake.wait_for(lambda: fake.calls_in_progress(APPROVE), message="no approve call started")

    [worker] = _worker_pids(output)
    os.kill(worker, signal.SIGKILL)

    output.wait_for_line(f"the worker process (pid {worker}) ended after")
    assert "killed by SIGKILL" in output.wait_for_line(f"the worker process (pid {worker}) ended after")
    fake.set_latency(APPROVE, 0)
    for request in requests:
        _approved(fake, request)  # the running decision's lease runs out (15 s), then the new worker takes it over
    assert len(_worker_pids(output)) == 2
    assert _approvals_slack_made(fake) == {request["id"]: 1 for request in requests}
    assert all(fake.invite_request_status(request["id"]) == "approved" for request in requests)


@both_databases
def test_a_worker_takes_a_new_job_at_once_not_on_its_poll(fake, serve_process, work_process):
    url = serve_process("--no-worker")
    worker = work_process(INVITES_OUTBOX_POLL_SECONDS="300")
    worker.output.wait_for_line("sync: 0 new")  # its start-up pass is over: its outbox waits for the next poll or a wake-up
    request = new_request(fake)

    SlackSender(url, SIGNING_SECRET, fake).invite_requested(request)  # the web process writes the card's job

    wait_for_card(fake, request["email"], timeout=15)  # posted by the worker long before its poll would have looked


def test_the_worker_never_outlives_serve(fake, serve_process):
    url = serve_process()
    [worker] = _worker_pids(serve_process.output[url])
    [serve] = serve_process.processes
    assert _alive(worker)

    serve.kill()  # SIGKILL: serve cannot stop it itself
    serve.wait()

    poll_until(lambda: not _alive(worker), timeout=30, message=f"the worker {worker} outlived serve")


@pytest.mark.parametrize("how", ["--no-worker", "INVITES_SERVE_WORKER=false"])
def test_serve_without_a_worker_starts_none(fake, serve_process, how):
    args, env = ((how,), {}) if how.startswith("--") else ((), dict([how.split("=")]))
    url = serve_process(*args, **env)
    slack = SlackSender(url, SIGNING_SECRET, fake)

    assert slack.invite_requested(new_request(fake)).status == 200

    assert _worker_pids(serve_process.output[url]) == []
    [serve] = serve_process.processes
    with open(f"/proc/{serve.pid}/task/{serve.pid}/children") as listing:
        assert len(listing.read().split()) == 1  # gunicorn's web process only


@both_databases
def test_a_click_acked_by_a_web_process_killed_at_once_is_still_decided(fake, serve_process, work_process):
    url = serve_process("--no-worker")
    slack = SlackSender(url, SIGNING_SECRET, fake)
    request = new_request(fake)
    slack.invite_requested(request)
    worker = work_process()
    card = wait_for_card(fake, request["email"], buttons)
    worker.terminate()
    assert worker.wait(timeout=60) == 0

    assert slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    [serve] = serve_process.processes
    kill_hard(serve.pid)  # web and master, the moment after the ack: nothing after it ran
    serve.wait()

    work_process()
    _approved(fake, request)
    assert _approvals_slack_made(fake) == {request["id"]: 1}
    told = f"You approved the invite request for {request['email']}"
    fake.wait_for(lambda: [e for e in fake.ephemerals(channel=CHANNEL, user=APPROVER) if told in e["text"]], message="not told")
