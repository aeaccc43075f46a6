"""Nobody approves an invite they asked for themselves: not from a card, /invites, the App Home, a bulk decision or a
backlog digest, and not as one of a two-person rule's approvals; they may still deny (withdraw) it, and
INVITES_ALLOW_SELF_APPROVAL=true lets a small org approve its own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.slack.ids import ButtonValue
from app.store.models import DecisionLog, InviteRequest
from tests.support.bots import all_at_once
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.policies import write_policy
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, TEAM, new_request

APPROVE, DENY = "admin.inviteRequests.approve", "admin.inviteRequests.deny"
SELF_APPROVAL = (
    "You asked for this invite yourself, so another approver must approve it. Nothing was changed. "
    "You can still deny it, which withdraws your request."
)


def _delivered(fake, bot, email="ada@example.com", **kw):
    request = new_request(fake, email, **kw)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, email)
    bot.settle()
    return request, card


def _click(bot, card, user, action="invite_approve", **kw):
    reply = bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id=action, team_id=TEAM, **kw)
    assert reply.status == 200
    bot.settle()
    return reply


def _log(bot, request):
    with bot.sessions() as session:
        entries = session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]).order_by(DecisionLog.id))
        return [(e.actor_id, e.source, e.outcome) for e in entries]


def _calls_for(fake, method, request):
    return [c for c in fake.calls(method) if c.params.get("invite_request_id") == request["id"]]


def _status(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"]).status


def test_an_approver_who_asked_for_an_invite_cannot_approve_it_and_is_told_why(fake, bot):
    request, card = _delivered(fake, bot, requester_ids=[APPROVER])

    _click(bot, card, APPROVER)

    assert not _calls_for(fake, APPROVE, request)
    assert ephemerals_for(fake, APPROVER) == [SELF_APPROVAL]
    assert _log(bot, request) == [(APPROVER, "button", "self_approval_refused")]
    assert buttons(fake.message(CHANNEL, card["ts"]))  # still waiting for someone else

    _click(bot, card, GROUP_APPROVER)
    assert len(_calls_for(fake, APPROVE, request)) == 1
    assert _status(bot, request) == "approved"


def test_self_approval_is_refused_from_slash_commands_and_the_app_home(fake, bot):
    request, _ = _delivered(fake, bot, requester_ids=[APPROVER])

    bot.slack.slash(text=f"approve {request['id']}", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.slack.app_home_opened(APPROVER, team_id=TEAM)
    before = fake.wait_for(lambda: fake.home_view(APPROVER), message="the Home was never published")
    bot.settle()
    value = ButtonValue(request["id"], TEAM).encode()
    bot.slack.click_in_home(user_id=APPROVER, action_id="invite_approve", value=value, team_id=TEAM)
    home = fake.wait_for(
        lambda: (lambda v: v if v["hash"] != before["hash"] else None)(fake.home_view(APPROVER)),
        message="the Home was never republished",
    )
    bot.settle()

    assert not _calls_for(fake, APPROVE, request)
    assert fake.response_posts()[-1]["text"] == SELF_APPROVAL
    assert SELF_APPROVAL in card_text(home)
    assert _log(bot, request) == [(APPROVER, "slash", "self_approval_refused"), (APPROVER, "home", "self_approval_refused")]


def test_a_requester_may_still_deny_their_own_request(fake, bot):
    request, _ = _delivered(fake, bot, requester_ids=[APPROVER])

    bot.slack.slash(text=f"deny {request['id']} not needed any more", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()
    bot.slack.slash(text=f"approve {request['id']}", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    bot.settle()

    assert len(_calls_for(fake, DENY, request)) == 1 and not _calls_for(fake, APPROVE, request)
    assert _status(bot, request) == "denied"
    assert [outcome for _, _, outcome in _log(bot, request)] == ["ok", "self_approval_refused"]


@pytest.mark.parametrize(
    ("requester", "clicker"),
    [("U0GRACE001", APPROVER), (APPROVER, "U0GRACE001")],
    ids=["requester-local-id", "clicker-local-id"],
)
def test_the_requester_is_recognised_under_either_form_of_their_id(fake, bot, requester, clicker):
    """Grid: the request names the requester by one form of id (U… local, W… org-wide), the click carries the other."""
    fake.add_user("U0GRACE001", name="grace", team_id=TEAM)  # so the stand-in can send a click with that id
    fake.add_local_id(APPROVER, "U0GRACE001", team_id=TEAM)
    request, card = _delivered(fake, bot, requester_ids=[requester])

    _click(bot, card, clicker)

    assert not _calls_for(fake, APPROVE, request)
    assert ephemerals_for(fake, clicker) == [SELF_APPROVAL]
    assert _log(bot, request) == [(clicker, "button", "self_approval_refused")]


@pytest.mark.parametrize(("allow", "approved"), [(None, False), ("true", True)], ids=["default", "allowed"])
def test_self_approval_is_allowed_only_when_the_org_says_so(fake, start_bot, allow, approved):
    bot = start_bot(**({"INVITES_ALLOW_SELF_APPROVAL": allow} if allow else {}))
    request, card = _delivered(fake, bot, requester_ids=[APPROVER])

    _click(bot, card, APPROVER)

    assert len(_calls_for(fake, APPROVE, request)) == (1 if approved else 0)
    assert _status(bot, request) == ("approved" if approved else "pending")


def test_a_requesters_approval_does_not_count_towards_two_person_approval(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=write_policy(tmp_path, "enforce"))
    request, card = _delivered(fake, bot, "eve@partner.org", invite_type="restricted", requester_ids=[APPROVER])

    _click(bot, card, APPROVER)
    _click(bot, card, GROUP_APPROVER)

    assert not _calls_for(fake, APPROVE, request)
    halfway = wait_for_card(fake, "eve@partner.org", lambda m: "1 of 2 approvals" in card_text(m))
    assert f"1 of 2 approvals: <@{GROUP_APPROVER}>" in card_text(halfway) and buttons(halfway)
    assert [(actor, outcome) for actor, _, outcome in _log(bot, request)] == [
        (APPROVER, "self_approval_refused"),
        (GROUP_APPROVER, "approval_recorded"),
    ]


@both_databases
def test_a_requester_and_another_approver_approving_at_once_make_no_call(fake, start_bot, tmp_path):
    """On two replicas, each two-person request gets its requester's and another approver's approval at the same moment:
    only the other approver's counts, so every request still waits for a second approver."""
    path = write_policy(tmp_path, "enforce")
    first, second = start_bot(INVITES_POLICY=path), start_bot(INVITES_POLICY=path)
    delivered = [
        _delivered(fake, first, f"guest{n}@partner.org", invite_type="restricted", requester_ids=[APPROVER]) for n in range(4)
    ]
    all_at_once(_click, [(bot, card, user) for _, card in delivered for bot, user in ((first, APPROVER), (second, GROUP_APPROVER))])

    assert fake.calls(APPROVE) == []
    for request, card in delivered:
        assert _status(first, request) == "pending"
        assert sorted(outcome for _, _, outcome in _log(first, request)) == ["approval_recorded", "self_approval_refused"]
        poll_until(
            lambda: f"1 of 2 approvals: <@{GROUP_APPROVER}>" in card_text(fake.message(CHANNEL, card["ts"])),
            message=f"the card of {request['id']} never showed the one approval that counts",
        )
