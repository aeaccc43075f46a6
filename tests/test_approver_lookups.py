"""Approvers named by user group: one Slack lookup per burst of clicks, last known members when Slack fails,
an honest answer when membership cannot be read at all, and group changes used as soon as Slack reports them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.slack.api import gateway
from app.store.models import DecisionLog
from tests.support.cards import buttons, ephemerals_for, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER_GROUP, CHANNEL, GROUP_APPROVER, MANY_APPROVERS, OUTSIDER, TEAM, new_request

CLICKS = 30
NOT_AN_APPROVER = "Only invite approvers"
CANNOT_CHECK = "invitebot could not check your approver rights just now (Slack answered ratelimited)"


def _card(fake, bot, email="ada@example.com"):
    request = new_request(fake, email)
    bot.slack.invite_requested(request)
    return request, wait_for_card(fake, email, buttons)


def _click(bot, card, user, action="invite_approve"):
    reply = bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id=action, as_seen=card)
    assert reply.status == 200
    bot.settle()


def _outcomes(bot):
    with bot.sessions() as session:
        return [(e.actor_id, e.outcome) for e in session.scalars(select(DecisionLog).order_by(DecisionLog.id))]


@both_databases
def test_a_burst_of_group_approver_clicks_under_slacks_limit_reads_the_group_once(fake, bot):
    """30 clicks at once used to make 30 usergroups.users.list calls (Tier 2) and refuse real approvers."""
    request, card = _card(fake, bot)
    fake.enforce_rate_limits(tier2_per_minute=5, messages_per_second=100)
    fake.set_latency("usergroups.users.list", 0.5)  # Slack taking its time: the clicks overlap the first lookup
    clickers = [GROUP_APPROVER, *MANY_APPROVERS, *MANY_APPROVERS][:CLICKS]

    def click(user):
        return bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card)

    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(click, clickers))
    bot.settle()

    assert all(reply.status == 200 for reply in replies)
    assert len(fake.calls("usergroups.users.list")) == 1
    assert fake.invite_request_status(request["id"]) == "approved"
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    answers = [text for user in set(clickers) for text in ephemerals_for(fake, user)]
    assert len(answers) == CLICKS
    assert not [a for a in answers if NOT_AN_APPROVER in a or "could not check" in a]
    assert not [o for o in _outcomes(bot) if o[1] in ("not_allowed", "approvers_unreadable")]


def test_when_slack_will_not_say_who_is_in_the_group_the_approver_is_told_so_not_refused(fake, bot):
    request, card = _card(fake, bot)
    fake.fail_next("usergroups.users.list", "ratelimited", times=50, retry_after=0)

    _click(bot, card, GROUP_APPROVER)

    [answer] = ephemerals_for(fake, GROUP_APPROVER)
    assert answer.startswith(CANNOT_CHECK) and "nothing was changed" in answer and "try again in a minute" in answer
    assert NOT_AN_APPROVER not in answer
    assert fake.calls("admin.inviteRequests.approve") == []
    assert _outcomes(bot) == [(GROUP_APPROVER, "approvers_unreadable")]

    fake.clear_faults("usergroups.users.list")
    _click(bot, card, GROUP_APPROVER)

    assert fake.invite_request_status(request["id"]) == "approved"


def test_when_slack_fails_after_a_good_read_the_members_last_read_are_used(fake, bot, monkeypatch):
    """Every check asks Slack here (no cache), so the second click meets the failure."""
    monkeypatch.setattr(gateway, "USERGROUP_CACHE_SECONDS", 0.0)
    monkeypatch.setattr(bot.runtime.approvers.members, "ttl", 0.0)
    first, first_card = _card(fake, bot)
    second, second_card = _card(fake, bot, "bob@example.com")
    _click(bot, first_card, GROUP_APPROVER)
    fake.fail_next("usergroups.users.list", "ratelimited", times=50, retry_after=0)

    _click(bot, second_card, GROUP_APPROVER)
    _click(bot, second_card, OUTSIDER, action="invite_deny")

    assert fake.invite_request_status(first["id"]) == fake.invite_request_status(second["id"]) == "approved"
    assert len(fake.calls("usergroups.users.list")) > 1  # Slack was asked, and failed
    assert [o for o in _outcomes(bot) if o[1] != "ok"] == [(OUTSIDER, "not_allowed")]  # still not an approver


def test_a_member_removed_from_the_group_is_refused_at_once_and_one_added_may_decide(fake, bot):
    """subteam_members_changed updates the group without waiting for the cache (and without a lookup)."""
    _, first_card = _card(fake, bot)
    _, second_card = _card(fake, bot, "bob@example.com")
    third, third_card = _card(fake, bot, "cy@example.com")
    _click(bot, first_card, GROUP_APPROVER)
    assert len(fake.calls("usergroups.users.list")) == 1
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=[*MANY_APPROVERS, OUTSIDER])

    bot.slack.event(
        {
            "type": "subteam_members_changed",
            "subteam_id": APPROVER_GROUP,
            "team_id": TEAM,
            "date_previous_update": 1446670362,
            "date_update": 1492906952,
            "added_users": [OUTSIDER],
            "added_users_count": "1",
            "removed_users": [GROUP_APPROVER],
            "removed_users_count": "1",
        },
        team_id=TEAM,
    )
    bot.settle()
    _click(bot, second_card, GROUP_APPROVER)
    _click(bot, third_card, OUTSIDER)

    assert NOT_AN_APPROVER in ephemerals_for(fake, GROUP_APPROVER)[-1]
    assert fake.invite_request_status(third["id"]) == "approved"
    assert len(fake.calls("admin.inviteRequests.approve")) == 2
    assert (GROUP_APPROVER, "not_allowed") in _outcomes(bot)
    assert len(fake.calls("usergroups.users.list")) == 1
