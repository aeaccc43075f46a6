"""An org admin removes invitebot from a workspace (team_access_revoked): Slack would refuse the bot's DMs to its
people, so requesters there are not sent one and their card says so; added back (team_access_granted), they are told
again. Every replica reads the same record, and a late retry of an older event does not undo a newer one."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.core import outbox
from app.core.reminders import scan
from app.store.models import OutboxJob, TeamAccess
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.stand_in import APPROVER, CHANNEL, OTHER_TEAM, TEAM, new_request

UNTOLD = "Not told to the requester by DM: invitebot is not added to Beta Labs"
BETA_REQUESTER = "W0BETAREQ1"  # someone in Beta Labs; the approvals channel is in Alpha Corp


def _from_beta(fake, email, **kw):
    fake.add_user(BETA_REQUESTER, name="bea", team_id=OTHER_TEAM)
    return new_request(fake, email, team_id=OTHER_TEAM, requester_ids=[BETA_REQUESTER], **kw)


def _approve(fake, bot, request):
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()  # the card's ts is recorded before the click
    assert bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status == 200
    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    bot.settle()
    return fake.message(CHANNEL, closed["ts"])


def _dms_to(fake, user):
    return [c for c in fake.calls("chat.postMessage") if c.params.get("channel") == user]


def _dead(bot):
    with bot.sessions() as session:
        return list(session.scalars(select(OutboxJob).where(OutboxJob.state == outbox.DEAD)).all())


@both_databases
def test_requesters_of_a_workspace_invitebot_was_removed_from_are_not_dmed_and_the_card_says_so(fake, start_bot):
    bot, other = start_bot(), start_bot()
    assert bot.slack.team_access([OTHER_TEAM], granted=False).status == 200
    first = _from_beta(fake, "ada@example.com")

    card = _approve(fake, other, first)  # the other replica decides: it reads the same record

    assert _dms_to(fake, BETA_REQUESTER) == []
    assert f"Approved by <@{APPROVER}>" in card_text(card) and UNTOLD in card_text(card)
    assert _dead(bot) == []  # nothing was tried, so nothing failed

    assert bot.slack.team_access([OTHER_TEAM], granted=True).status == 200
    second = _from_beta(fake, "grace@example.com")
    card = _approve(fake, other, second)

    [dm] = fake.wait_for(lambda: _dms_to(fake, BETA_REQUESTER), message="the requester was not told once invitebot was back")
    assert dm.error is None and "grace@example.com" in dm.params["text"]
    assert UNTOLD not in card_text(card)


def test_a_late_retry_of_an_older_event_does_not_undo_a_newer_one(fake, bot):
    moment = int(time.time())
    bot.slack.team_access([TEAM, OTHER_TEAM], granted=False, event_time=moment)
    bot.slack.team_access([TEAM], granted=True, event_time=moment - 60, retry_num=1, retry_reason="http_timeout")
    bot.slack.team_access([OTHER_TEAM], granted=True, event_time=moment + 1)

    with bot.sessions() as session:
        access = {row.team_id: row.granted for row in session.scalars(select(TeamAccess))}
    assert access == {TEAM: False, OTHER_TEAM: True}


def test_the_app_home_names_the_workspaces_invitebot_was_removed_from(fake, bot):
    bot.slack.invite_requested(_from_beta(fake, "ada@example.com"))
    bot.settle()  # the workspace's name is known from the event
    bot.slack.team_access([OTHER_TEAM], granted=False)

    bot.slack.app_home_opened(APPROVER, team_id=TEAM)

    view = poll_until(lambda: fake.home_view(APPROVER), message="no Home published")
    assert "*Not added to:* Beta Labs (requesters there are not told by DM" in json.dumps(view)


def test_no_guest_time_limit_dm_goes_to_a_workspace_invitebot_was_removed_from(fake, bot):
    expire = int(time.time()) + 30 * 86400
    _approve(fake, bot, _from_beta(fake, "guest@example.com", invite_type="restricted", date_expire=expire))
    assert fake.wait_for(lambda: _dms_to(fake, BETA_REQUESTER), message="the requester was never told of the approval")
    bot.slack.team_access([OTHER_TEAM], granted=False)

    scan(bot.runtime.services, bot.runtime.settings, datetime.fromtimestamp(expire, timezone.utc) - timedelta(days=7))
    bot.settle()

    assert len(_dms_to(fake, BETA_REQUESTER)) == 1  # the approval's only
    assert _dead(bot) == []
