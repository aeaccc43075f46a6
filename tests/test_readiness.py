"""/readyz means this replica can serve Slack now: the database, both tokens, the approvals channel. One person's DM
that Slack will never deliver (they left, the app's Messages tab is off, invitebot is not in their workspace) is
expected, not an outage: it shows in /metrics, `invitebot outbox` and the App Home, and every replica stays ready."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from app.core import outbox
from app.store.models import OutboxJob
from tests.support.bots import outbox_cli
from tests.support.cards import wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request

LEFT = "W0LEFT0001"  # someone who left the org: Slack has no DM with them (channel_not_found)


def _get(bot, path):
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", path), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _metric(text, name, **labels):
    """One sample's value in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            inside = line[line.find("{") + 1 : line.find("}")] if "{" in line else ""
            found = dict(part.split("=", 1) for part in inside.split(",") if "=" in part)
            if all(found.get(key) == f'"{value}"' for key, value in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0



def _dead(bot):
    with bot.sessions() as session:
        return list(session.scalars(select(OutboxJob).where(OutboxJob.state == outbox.DEAD)).all())


def _approve(fake, bot, request):
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded before the click
    assert bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200


def _ready_at_first(bot):
    bot.runtime.token_check.run(bot.runtime.gateway)  # both tokens accepted
    bot.sync()  # and a clean sync: nothing but what the test does can keep /readyz from 200
    status, body = _get(bot, "/readyz")
    assert status == 200, body


@both_databases
def test_a_dm_to_someone_who_left_leaves_every_replica_ready_and_shows_as_a_failed_job(fake, start_bot, database_url):
    bot, other = start_bot(), start_bot()
    _ready_at_first(bot)
    _ready_at_first(other)
    request = new_request(fake, requester_ids=[LEFT])

    _approve(fake, bot, request)

    [job] = poll_until(lambda: _dead(bot), message="the requester's DM never failed for good")
    assert (job.kind, job.request_id, job.last_error) == ("notify", request["id"], "channel_not_found")
    assert fake.invite_request_status(request["id"]) == "approved"
    for replica in (bot, other):
        status, body = _get(replica, "/readyz")
        ready = json.loads(body)
        assert status == 200 and ready["ready"], body
        shown = ready["background"]["outbox"]
        assert not shown["ok"] and f"notify for {request['id']}" in shown["detail"] and "channel_not_found" in shown["detail"]
    metrics = _get(bot, "/metrics")[1]
    assert _metric(metrics, "invitebot_outbox_jobs", state="dead") == 1
    assert _metric(metrics, "invitebot_outbox_jobs_dead", kind="notify", error="channel_not_found") == 1
    assert _metric(metrics, "invitebot_outbox_jobs_failed_total", kind="notify") >= 1
    listed = outbox_cli(database_url)
    assert listed.returncode == 0, listed.stderr
    assert "1 failed for good" in listed.stdout
    assert f"job {job.id}: notify for {request['id']} failed at " in listed.stdout and "channel_not_found" in listed.stdout


@pytest.mark.parametrize("code", ["user_not_found", "messages_tab_disabled", "team_access_not_granted"])
def test_a_dm_slack_will_never_deliver_is_given_up_at_once_and_readyz_stays_ready(fake, bot, code):
    _ready_at_first(bot)
    request = new_request(fake)
    bot.slack.invite_requested(request)
    wait_for_card(fake, request["email"])
    bot.settle()
    fake.fail_next("chat.postMessage", code)  # the next post is the requester's DM

    _approve(fake, bot, request)

    [job] = poll_until(lambda: _dead(bot), message=f"the DM Slack answered {code} to was not given up")
    assert (job.kind, job.last_error, job.attempts) == ("notify", code, 1)
    status, body = _get(bot, "/readyz")
    assert status == 200, body
    assert _metric(_get(bot, "/metrics")[1], "invitebot_outbox_jobs_dead", kind="notify", error=code) == 1


def test_an_approver_sees_the_undelivered_dm_on_the_app_home(fake, bot):
    request = new_request(fake, requester_ids=[LEFT])
    _approve(fake, bot, request)
    poll_until(lambda: _dead(bot), message="the requester's DM never failed for good")
    before = fake.home_view(APPROVER)

    bot.slack.app_home_opened(APPROVER, team_id=TEAM)

    view = fake.wait_for(lambda: (v := fake.home_view(APPROVER)) is not None and v != before and v, message="no new Home")
    text = json.dumps(view)
    assert "Slack refused 1 message for good" in text
    assert f"the DM to <@{LEFT}> about ada@example.com: `channel_not_found`" in text
    assert "`invitebot outbox` lists them" in text


def test_the_app_home_counts_undelivered_messages_beyond_those_it_names(fake, bot):
    for n in range(4):
        _approve(fake, bot, new_request(fake, f"left{n}@example.com", requester_ids=[LEFT]))
    poll_until(lambda: len(_dead(bot)) == 4, message="not every DM failed for good")
    before = fake.home_view(APPROVER)

    bot.slack.app_home_opened(APPROVER, team_id=TEAM)

    view = fake.wait_for(lambda: (v := fake.home_view(APPROVER)) is not None and v != before and v, message="no new Home")
    text = json.dumps(view)
    assert "Slack refused 4 messages for good" in text
    assert "and 1 more" in text
