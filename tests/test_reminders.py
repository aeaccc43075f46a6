"""Requests left open are reminded and escalated once; approved guests hear before their account ends, once each."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from app.core.outbox import Job
from app.core.reminders import scan
from app.slack.jobs import notices
from app.slack.ui.blocks import escape
from tests.support.cards import wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, APPROVER_GROUP, CHANNEL, REQUESTER, TEAM, new_request

LEADS = "C0LEADS001"
LEAD_GROUP = "S0LEADS001"
NUDGES = {"INVITES_REMIND_AFTER": "4h", "INVITES_ESCALATE_AFTER": "1d", "INVITES_ESCALATE_TO": LEADS}


def _asked(fake, bot, email="ada@example.com", **kw):
    """A request made a minute ago, its card posted; returns (the moment it was made, the card)."""
    created = int(time.time()) - 60
    bot.slack.invite_requested(new_request(fake, email, date_created=created, **kw))
    bot.settle()
    return datetime.fromtimestamp(created, timezone.utc), wait_for_card(fake, escape(email))


def _scan(bot, at):
    summary = scan(bot.runtime.services, bot.runtime.settings, at)
    bot.settle()
    return summary


def _thread(fake, card):
    """Replies on the card's thread, oldest first."""
    return [m["text"] for m in fake.messages(CHANNEL) if m.get("thread_ts") == card["ts"]]


def _approve(fake, bot, card):
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()
    assert fake.invite_request_status(card["metadata"]["event_payload"]["request_id"]) == "approved"


def _guest_warnings(fake):
    return [m["text"] for m in fake.direct_messages(REQUESTER) if "guest account" in m["text"]]


# -- reminders ------------------------------------------------------------------------------------------------------


def test_an_open_request_is_reminded_once_on_its_card_naming_the_approvers(fake, start_bot):
    bot = start_bot(INVITES_REMIND_AFTER="4h")
    created, card = _asked(fake, bot)

    _scan(bot, created + timedelta(hours=3, minutes=59))
    assert _thread(fake, card) == []

    _scan(bot, created + timedelta(hours=4))
    _scan(bot, created + timedelta(hours=9))

    assert _thread(fake, card) == [
        f"Still waiting after 4 hours: <@{APPROVER}> <!subteam^{APPROVER_GROUP}>, please approve or deny."
    ]


def test_a_group_named_with_its_workspace_is_mentioned_by_its_id(fake, start_bot):
    bot = start_bot(INVITES_REMIND_AFTER="30m", INVITES_APPROVERS=f"{APPROVER},{APPROVER_GROUP}@{TEAM}")
    created, card = _asked(fake, bot)

    _scan(bot, created + timedelta(minutes=45))

    [reminder] = _thread(fake, card)
    assert f"after 45 minutes: <@{APPROVER}> <!subteam^{APPROVER_GROUP}>," in reminder
    assert "@T" not in reminder


def test_a_decided_request_is_never_reminded_or_escalated(fake, start_bot):
    bot = start_bot(**NUDGES)
    created, card = _asked(fake, bot)
    _approve(fake, bot, card)

    _scan(bot, created + timedelta(days=3))

    assert _thread(fake, card) == []
    assert fake.messages(LEADS) == []


def test_a_reminder_queued_before_the_decision_says_nothing_after_it(fake, start_bot):
    bot = start_bot(INVITES_REMIND_AFTER="4h")
    _, card = _asked(fake, bot)
    request_id = card["metadata"]["event_payload"]["request_id"]
    _approve(fake, bot, card)

    notices.remind(bot.runtime, Job(0, "remind", request_id, {"channel": CHANNEL, "ts": card["ts"], "age": 4 * 3600}, 1, "test"))

    assert _thread(fake, card) == []


def test_a_request_whose_card_is_not_posted_yet_is_reminded_once_it_is(fake, start_bot):
    bot = start_bot(INVITES_REMIND_AFTER="4h")
    fake.fail_next("chat.postMessage", "channel_not_found")
    created = int(time.time()) - 60
    bot.slack.invite_requested(new_request(fake, date_created=created))
    bot.settle()
    later = datetime.fromtimestamp(created, timezone.utc) + timedelta(hours=5)

    assert _scan(bot, later).reminded == 0

    bot.sync()  # posts the card that failed
    card = wait_for_card(fake, "ada@example.com")
    assert _scan(bot, later).reminded == 1
    assert len(_thread(fake, card)) == 1


def test_nothing_is_reminded_when_it_is_not_set(fake, bot):
    created, card = _asked(fake, bot)

    assert _scan(bot, created + timedelta(days=30)).reminded == 0
    assert _thread(fake, card) == []


# -- escalation -----------------------------------------------------------------------------------------------------


def test_escalation_posts_once_in_its_channel_with_a_link_to_the_card(fake, start_bot):
    fake.add_channel(LEADS, name="invite-leads", team_id=TEAM)
    bot = start_bot(**NUDGES)
    created, card = _asked(fake, bot, email="ada&<!here>@example.com")

    _scan(bot, created + timedelta(hours=23))
    assert fake.messages(LEADS) == []

    _scan(bot, created + timedelta(days=1, hours=12))
    _scan(bot, created + timedelta(days=2))

    [post] = fake.messages(LEADS)
    link = f"https://alpha.slack.com/archives/{CHANNEL}/p{card['ts'].replace('.', '')}"
    assert post["text"] == (
        ":rotating_light: The invite request for *ada&amp;&lt;!here&gt;@example.com* to Alpha Corp is still waiting "
        f"after 1 day 12 hours. <{link}|Open its card> to approve or deny it."
    )
    assert "thread_ts" not in post
    assert len(_thread(fake, card)) == 1  # the reminder, once


def test_escalation_without_a_link_names_the_approvals_channel(fake, start_bot):
    fake.add_channel(LEADS, name="invite-leads", team_id=TEAM)
    bot = start_bot(**NUDGES)
    created, _ = _asked(fake, bot)
    fake.fail_next("chat.getPermalink", "message_not_found")

    _scan(bot, created + timedelta(days=1))

    [post] = fake.messages(LEADS)
    assert post["text"].endswith(f"after 1 day. Its card is in <#{CHANNEL}>.")


def test_escalation_to_a_user_group_mentions_it_once_on_the_card(fake, start_bot):
    bot = start_bot(INVITES_ESCALATE_AFTER="1d", INVITES_ESCALATE_TO=LEAD_GROUP)
    created, card = _asked(fake, bot)

    _scan(bot, created + timedelta(days=1))
    _scan(bot, created + timedelta(days=5))

    assert _thread(fake, card) == [
        f"<!subteam^{LEAD_GROUP}>: this invite request is still waiting after 1 day. Please approve or deny it here."
    ]


@both_databases
def test_two_replicas_and_a_restart_remind_and_escalate_once(fake, start_bot):
    fake.add_channel(LEADS, name="invite-leads", team_id=TEAM)
    first, second = start_bot(**NUDGES), start_bot(**NUDGES)
    created, card = _asked(fake, first)
    moment = created + timedelta(days=2)

    with ThreadPoolExecutor(2) as pool:
        summaries = list(pool.map(lambda bot: scan(bot.runtime.services, bot.runtime.settings, moment), (first, second)))
    first.settle()
    second.settle()

    assert sum(s.reminded for s in summaries) == 1 and sum(s.escalated for s in summaries) == 1
    assert len(_thread(fake, card)) == 1
    assert len(fake.messages(LEADS)) == 1

    restarted = start_bot(**NUDGES)
    summary = _scan(restarted, moment + timedelta(minutes=1))

    assert (summary.reminded, summary.escalated) == (0, 0)
    assert len(_thread(fake, card)) == 1
    assert len(fake.messages(LEADS)) == 1


# -- guest time limits ----------------------------------------------------------------------------------------------


def _approved_guest(fake, bot, days_left=30):
    expire = int(time.time()) + days_left * 86400
    _, card = _asked(fake, bot, invite_type="restricted", date_expire=expire)
    _approve(fake, bot, card)
    return datetime.fromtimestamp(expire, timezone.utc)


def test_a_guest_requester_hears_7_days_and_1_day_before_the_account_ends_once_each(fake, bot):
    ends = _approved_guest(fake, bot)

    _scan(bot, ends - timedelta(days=7, minutes=1))
    assert _guest_warnings(fake) == []

    _scan(bot, ends - timedelta(days=7))
    _scan(bot, ends - timedelta(days=6))
    [week] = _guest_warnings(fake)

    _scan(bot, ends - timedelta(days=1))
    _scan(bot, ends - timedelta(hours=2))
    warnings = _guest_warnings(fake)

    assert warnings[0] == week and len(warnings) == 2
    ending = f"<!date^{int(ends.timestamp())}^ends {{date_short_pretty}} at {{time}}|ends {ends:%Y-%m-%d %H:%M} UTC>"
    for text in warnings:
        assert text == (
            f":hourglass: The guest account of ada@example.com in Alpha Corp {ending}. "
            f"It was approved by <@{APPROVER}>; a Slack admin can change its time limit."
        )


def test_a_warning_missed_while_invitebot_was_down_is_sent_for_the_time_left(fake, bot):
    ends = _approved_guest(fake, bot)

    _scan(bot, ends - timedelta(days=3))
    _scan(bot, ends - timedelta(hours=20))

    assert len(_guest_warnings(fake)) == 2


def test_nobody_hears_of_an_account_that_has_ended(fake, bot):
    ends = _approved_guest(fake, bot)

    assert _scan(bot, ends + timedelta(minutes=1)).warned == 0
    assert _guest_warnings(fake) == []


def test_no_time_limit_warnings_when_requesters_are_not_told(fake, start_bot):
    bot = start_bot(INVITES_NOTIFY_REQUESTERS="false")
    ends = _approved_guest(fake, bot)

    assert _scan(bot, ends - timedelta(days=1)).warned == 0
    assert fake.direct_messages(REQUESTER) == []


def test_full_members_and_open_guest_requests_get_no_time_limit_warnings(fake, bot):
    expire = int(time.time()) + 5 * 86400
    _, member = _asked(fake, bot, "bob@example.com", date_expire=expire)
    _approve(fake, bot, member)
    _asked(fake, bot, "eve@example.com", invite_type="restricted", date_expire=expire)

    assert _scan(bot, datetime.fromtimestamp(expire, timezone.utc) - timedelta(days=1)).warned == 0


def test_mine_shows_when_an_approved_guest_account_ends(fake, bot):
    ends = _approved_guest(fake, bot)

    before = len(fake.response_posts())
    bot.slack.slash(text="mine", user_id=REQUESTER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()
    [post] = fake.response_posts()[before:]

    shown = json.dumps(post.get("blocks") or [])
    assert f"guest account <!date^{int(ends.timestamp())}^ends " in shown
