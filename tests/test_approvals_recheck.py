"""Two-person approval counts only approvals that still hold: each new approval checks the earlier approvers again, by
the rule every click meets, so one removed from INVITES_APPROVERS, gone from an approver group or found to be a
requester no longer counts; the card and the audit log say so, and the request waits for another approver."""

from __future__ import annotations

from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.bots import all_at_once
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.policies import write_policy
from tests.support.stand_in import (
    APPROVER,
    APPROVER_GROUP,
    CHANNEL,
    GROUP_APPROVER,
    MANY_APPROVERS,
    TEAM,
    new_request,
)

APPROVE = "admin.inviteRequests.approve"
THIRD = MANY_APPROVERS[0]  # another member of the approver group
REMOVED = "no longer an approver of this request"


def _delivered(fake, bot, email="eve@partner.org", **kw):
    request = new_request(fake, email, invite_type="restricted", **kw)  # the policy's guests rule: 2 approvals
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, email)
    bot.settle()
    return request, card


def _click(bot, card, user):
    reply = bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", team_id=TEAM)
    assert reply.status == 200
    bot.settle()


def _log(bot, request):
    with bot.sessions() as session:
        entries = session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]).order_by(DecisionLog.id))
        return [(e.actor_id, e.outcome) for e in entries]


def _calls_for(fake, request):
    return [c for c in fake.calls(APPROVE) if c.params.get("invite_request_id") == request["id"]]


def _status(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"]).status


def _card_saying(fake, card, needle):
    return poll_until(
        lambda: (lambda m: m if needle in card_text(m) else None)(fake.message(CHANNEL, card["ts"])),
        message=f"the card never said {needle!r}: {card_text(fake.message(CHANNEL, card['ts']))}",
    )


def test_an_approver_removed_from_the_approvers_since_their_approval_no_longer_counts(fake, start_bot, tmp_path):
    policy = write_policy(tmp_path, "enforce")
    before = start_bot(INVITES_POLICY=policy)
    request, card = _delivered(fake, before)
    _click(before, card, APPROVER)

    after = start_bot(INVITES_POLICY=policy, INVITES_APPROVERS=APPROVER_GROUP)  # restarted without grace
    _click(after, card, GROUP_APPROVER)

    assert not _calls_for(fake, request)
    waiting = _card_saying(fake, card, f"1 of 2 approvals: <@{GROUP_APPROVER}>")
    assert f"<@{APPROVER}>'s approval no longer counts: {REMOVED}." in card_text(waiting) and buttons(waiting)
    [answer] = ephemerals_for(fake, GROUP_APPROVER)
    assert f"is recorded (1 of 2 approvals: <@{GROUP_APPROVER}>)" in answer
    assert f"<@{APPROVER}>'s approval no longer counts" in answer and "asks for one more approver" in answer
    assert _log(after, request) == [
        (APPROVER, "approval_recorded"),
        (APPROVER, "approval_lapsed"),
        (GROUP_APPROVER, "approval_recorded"),
    ]

    _click(after, card, THIRD)

    assert len(_calls_for(fake, request)) == 1
    decided = _card_saying(fake, card, f"Approved by <@{THIRD}>")
    assert f"2 of 2 approvals: <@{GROUP_APPROVER}>, <@{THIRD}>" in card_text(decided)


def test_an_approver_who_left_the_approver_group_no_longer_counts(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "enforce"))
    request, card = _delivered(fake, bot)
    _click(bot, card, GROUP_APPROVER)
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=MANY_APPROVERS)
    bot.slack.event(
        {
            "type": "subteam_members_changed",
            "subteam_id": APPROVER_GROUP,
            "team_id": TEAM,
            "date_previous_update": 1446670362,
            "date_update": 1492906952,
            "added_users": [],
            "added_users_count": "0",
            "removed_users": [GROUP_APPROVER],
            "removed_users_count": "1",
        },
        team_id=TEAM,
    )
    bot.settle()

    _click(bot, card, APPROVER)

    assert not _calls_for(fake, request) and _status(bot, request) == "pending"
    waiting = _card_saying(fake, card, f"1 of 2 approvals: <@{APPROVER}>")
    assert f"<@{GROUP_APPROVER}>'s approval no longer counts: {REMOVED}." in card_text(waiting)
    assert (GROUP_APPROVER, "approval_lapsed") in _log(bot, request)


def test_an_earlier_approval_by_a_requester_no_longer_counts_once_self_approval_is_off(fake, start_bot, tmp_path):
    policy = write_policy(tmp_path, "enforce")
    lenient = start_bot(INVITES_POLICY=policy, INVITES_ALLOW_SELF_APPROVAL="true")
    request, card = _delivered(fake, lenient, requester_ids=[APPROVER])
    _click(lenient, card, APPROVER)

    strict = start_bot(INVITES_POLICY=policy)
    _click(strict, card, GROUP_APPROVER)

    assert not _calls_for(fake, request)
    waiting = _card_saying(fake, card, f"1 of 2 approvals: <@{GROUP_APPROVER}>")
    assert f"<@{APPROVER}>'s approval no longer counts: asked for this invite themselves." in card_text(waiting)
    assert (APPROVER, "approval_lapsed") in _log(strict, request)


def test_an_earlier_approver_whose_rights_cannot_be_read_holds_the_decision_back(fake, start_bot, tmp_path):
    policy = write_policy(tmp_path, "enforce")
    first = start_bot(INVITES_POLICY=policy)
    request, card = _delivered(fake, first)
    _click(first, card, GROUP_APPROVER)

    restarted = start_bot(INVITES_POLICY=policy)  # knows nothing of the group yet
    fake.fail_next("usergroups.users.list", "ratelimited", times=20)
    _click(restarted, card, APPROVER)

    assert not _calls_for(fake, request) and _status(restarted, request) == "pending"
    [answer] = ephemerals_for(fake, APPROVER)
    assert f"could not check again that <@{GROUP_APPROVER}>" in answer and "try again in a minute" in answer
    assert _log(restarted, request)[-1] == (APPROVER, "approvers_unreadable")
    assert "approval_lapsed" not in [outcome for _, outcome in _log(restarted, request)]


@both_databases
def test_last_approvals_arriving_together_after_a_removal_count_only_the_approvals_that_hold(fake, start_bot, tmp_path):
    """grace approved each request, then left INVITES_APPROVERS; two replicas, restarted without her, each get another
    approver's approval at the same moment: the two of them make the one call, and grace's approval lapses once."""
    policy = write_policy(tmp_path, "enforce")
    before = start_bot(INVITES_POLICY=policy)
    delivered = [_delivered(fake, before, f"guest{n}@partner.org") for n in range(4)]
    for _, card in delivered:
        _click(before, card, APPROVER)
    first = start_bot(INVITES_POLICY=policy, INVITES_APPROVERS=APPROVER_GROUP)
    second = start_bot(INVITES_POLICY=policy, INVITES_APPROVERS=APPROVER_GROUP)
    all_at_once(_click, [(bot, card, user) for _, card in delivered for bot, user in ((first, GROUP_APPROVER), (second, THIRD))])

    for request, card in delivered:
        assert len(_calls_for(fake, request)) == 1
        poll_until(lambda: _status(first, request) == "approved", message=f"{request['id']} was never approved")
        outcomes = _log(first, request)
        assert outcomes.count((APPROVER, "approval_lapsed")) == 1
        assert {actor for actor, outcome in outcomes if outcome == "approval_recorded"} == {APPROVER, GROUP_APPROVER, THIRD}
        decided = card_text(_card_saying(fake, card, "2 of 2 approvals"))
        [counted] = [line for line in decided.splitlines() if "2 of 2 approvals" in line]
        assert APPROVER not in counted and f"<@{APPROVER}>'s approval no longer counts" in decided
