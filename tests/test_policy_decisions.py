"""Policy rules at work: shadow verdicts on cards and agreement in the audit log, enforced decisions made exactly once,
and rules that need two approvers."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.bots import all_at_once
from tests.support.cards import buttons, card_text, ephemerals_for, wait_for_card
from tests.support.databases import both_databases, poll_until
from tests.support.policies import write_policy
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, OUTSIDER, REQUESTER, SLACK_ADMIN, TEAM, new_request

APPROVE, DENY = "admin.inviteRequests.approve", "admin.inviteRequests.deny"
@pytest.fixture
def policy_file(tmp_path):
    return lambda mode: write_policy(tmp_path, mode)


def _delivered(fake, bot, email, **kw):
    request = new_request(fake, email, **kw)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, email)
    bot.settle()
    return request, card


def _click(bot, card, user, action="invite_approve"):
    reply = bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id=action, team_id=TEAM)
    assert reply.status == 200
    return reply


def _row(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"])


def _log(bot, request):
    with bot.sessions() as session:
        entries = session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]).order_by(DecisionLog.id))
        return [(e.actor_id, e.action, e.source, e.outcome) for e in entries]


def _calls_for(fake, method, request):
    return [c for c in fake.calls(method) if c.params.get("invite_request_id") == request["id"]]


# -- shadow mode ---------------------------------------------------------------------------------------------------


def test_shadow_mode_shows_the_verdict_on_the_card_and_calls_slack_for_nothing(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("shadow"))

    _, employee = _delivered(fake, bot, "ada@example.com", invite_type="full_member")
    _, personal = _delivered(fake, bot, "bob@gmail.com")
    _, guest = _delivered(fake, bot, "eve@partner.org", invite_type="restricted")
    _, nobody = _delivered(fake, bot, "zed@elsewhere.net")

    assert "Policy would approve (rule employees)" in card_text(employee) and buttons(employee)
    assert "Policy would deny (rule personal-mail)" in card_text(personal) and buttons(personal)
    assert "Policy would require 2 approvals (rule guests)" in card_text(guest) and buttons(guest)
    assert "Policy" not in card_text(nobody)
    assert not fake.calls(APPROVE) and not fake.calls(DENY)


def test_shadow_mode_records_whether_the_person_agreed(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("shadow"))
    agreed, agreed_card = _delivered(fake, bot, "ada@example.com")
    overruled, overruled_card = _delivered(fake, bot, "bob@gmail.com")

    _click(bot, agreed_card, APPROVER)
    _click(bot, overruled_card, APPROVER)  # the rule would deny; the approver approves
    bot.settle()

    assert (_row(bot, agreed).policy_agreed, _row(bot, overruled).policy_agreed) == (True, False)
    assert ("employees", "approve", "policy", "policy_agreed") in _log(bot, agreed)
    assert ("personal-mail", "deny", "policy", "policy_disagreed") in _log(bot, overruled)
    closed = wait_for_card(fake, "bob@gmail.com", lambda m: not buttons(m))
    assert "Policy would have denied (rule personal-mail): the decision did not agree" in card_text(closed)
    assert len(fake.calls(APPROVE)) == 2


def test_a_second_approval_is_not_asked_for_in_shadow_mode(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("shadow"))
    request, card = _delivered(fake, bot, "eve@partner.org", invite_type="restricted")

    _click(bot, card, APPROVER)
    bot.settle()

    assert len(_calls_for(fake, APPROVE, request)) == 1
    assert _row(bot, request).status == "approved"


# -- enforce mode ----------------------------------------------------------------------------------------------------


@both_databases
def test_an_enforced_approve_rule_decides_once_across_retries_sync_and_replicas(fake, start_bot, policy_file):
    path = policy_file("enforce")
    first, second = start_bot(INVITES_POLICY=path), start_bot(INVITES_POLICY=path)
    request = new_request(fake, "ada@example.com")

    first.slack.invite_requested(request)
    second.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")
    first.settle()
    second.settle()
    first.runtime.sync()
    second.runtime.sync()
    first.settle()
    second.settle()

    assert len(_calls_for(fake, APPROVE, request)) == 1
    assert fake.invite_request_status(request["id"]) == "approved"
    row = _row(first, request)
    assert (row.status, row.decided_by, row.decision_source, row.policy_agreed) == ("approved", "employees", "policy", None)
    decided = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert "Approved by policy *employees*" in card_text(decided)
    assert ("employees", "approve", "policy", "ok") in _log(first, request)
    [dm] = [m["text"] for m in fake.direct_messages(REQUESTER)]
    assert "was approved by policy *employees*" in dm


def test_an_enforced_deny_rule_tells_the_requester_its_reason(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("enforce"), INVITES_DENY_REASON_REQUIRED="true")
    request = new_request(fake, "bob@gmail.com")

    bot.slack.invite_requested(request)
    bot.settle()

    [call] = _calls_for(fake, DENY, request)
    assert call.params["invite_request_id"] == request["id"]
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.deny_reason) == (
        "denied", "personal-mail", "Personal addresses cannot join; please ask for a work address."
    )
    [dm] = [m["text"] for m in fake.direct_messages(REQUESTER)]
    assert "denied by policy *personal-mail*" in dm and "Personal addresses cannot join" in dm


def test_an_enforced_rule_finds_out_who_decided_first(fake, start_bot, policy_file):
    """already_processed: someone denied it in Slack's admin pages; the card says so, and nothing is called twice."""
    bot = start_bot(INVITES_POLICY=policy_file("enforce"))
    request = new_request(fake, "ada@example.com")
    fake.decide_outside(request["id"], "deny", actor_id=SLACK_ADMIN)

    bot.slack.invite_requested(request)
    bot.settle()

    assert len(_calls_for(fake, APPROVE, request)) == 1
    row = _row(bot, request)
    assert (row.status, row.decided_by, row.decision_source) == ("denied", SLACK_ADMIN, "outside")
    closed = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert f"Already denied by <@{SLACK_ADMIN}> outside invitebot" in card_text(closed)


def test_an_enforced_rule_whose_call_failed_is_tried_again_by_the_next_sync(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("enforce"))
    request = new_request(fake, "ada@example.com")
    fake.fail_next(APPROVE, "no_permission")  # fixed by an admin before the next sync

    bot.slack.invite_requested(request)
    bot.settle()
    assert _row(bot, request).status == "pending" and buttons(wait_for_card(fake, "ada@example.com"))

    bot.runtime.sync()
    bot.settle()

    assert [c.status for c in _calls_for(fake, APPROVE, request)] == [200, 200]
    assert fake.invite_request_status(request["id"]) == "approved"
    assert _row(bot, request).decided_by == "employees"


def test_an_enforced_rule_decides_what_was_waiting_when_the_policy_changed(fake, start_bot, policy_file):
    """A file change takes effect on restart: what a shadow policy only advised, the enforced one decides at the next sync."""
    shadow = start_bot(INVITES_POLICY=policy_file("shadow"))
    request, _ = _delivered(fake, shadow, "ada@example.com")
    assert not fake.calls(APPROVE)

    enforcing = start_bot(INVITES_POLICY=policy_file("enforce"))
    enforcing.runtime.sync()
    enforcing.settle()

    assert len(_calls_for(fake, APPROVE, request)) == 1
    assert (_row(enforcing, request).decided_by, _row(enforcing, request).policy_mode) == ("employees", "enforce")


# -- two-person approval ---------------------------------------------------------------------------------------------


def test_a_guest_needs_two_approvers_and_then_gets_one_approve_call(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("enforce"))
    request, card = _delivered(fake, bot, "eve@partner.org", invite_type="restricted")
    assert "Needs 2 approvals (rule guests)" in card_text(card)

    _click(bot, card, APPROVER)
    bot.settle()
    assert not _calls_for(fake, APPROVE, request)
    halfway = wait_for_card(fake, "eve@partner.org", lambda m: "1 of 2 approvals" in card_text(m))
    assert f"1 of 2 approvals: <@{APPROVER}>" in card_text(halfway) and buttons(halfway)
    assert any("is recorded (1 of 2 approvals" in text for text in ephemerals_for(fake, APPROVER))

    _click(bot, card, APPROVER)  # the same person again
    bot.settle()
    assert not _calls_for(fake, APPROVE, request)
    assert any("You already approved" in text for text in ephemerals_for(fake, APPROVER))

    _click(bot, card, GROUP_APPROVER)
    bot.settle()
    [call] = _calls_for(fake, APPROVE, request)
    assert call.params["invite_request_id"] == request["id"]
    decided = wait_for_card(fake, "eve@partner.org", lambda m: not buttons(m))
    assert f"Approved by <@{GROUP_APPROVER}>" in card_text(decided)
    assert f"2 of 2 approvals: <@{APPROVER}>, <@{GROUP_APPROVER}>" in card_text(decided)
    outcomes = [(actor, outcome) for actor, _, _, outcome in _log(bot, request)]
    assert outcomes == [
        (APPROVER, "approval_recorded"),
        (APPROVER, "already_approved"),
        (GROUP_APPROVER, "approval_recorded"),
        (GROUP_APPROVER, "ok"),
    ]


def test_any_approvers_deny_ends_a_two_person_request(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("enforce"))
    request, card = _delivered(fake, bot, "eve@partner.org", invite_type="restricted")
    _click(bot, card, APPROVER)
    bot.settle()

    reply = bot.slack.slash(text=f"deny {request['id']} not this quarter", user_id=GROUP_APPROVER, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200
    bot.settle()

    assert len(_calls_for(fake, DENY, request)) == 1 and not _calls_for(fake, APPROVE, request)
    assert _row(bot, request).status == "denied"


def test_someone_who_may_not_decide_adds_no_approval(fake, start_bot, policy_file):
    bot = start_bot(INVITES_POLICY=policy_file("enforce"))
    request, card = _delivered(fake, bot, "eve@partner.org", invite_type="restricted")

    _click(bot, card, OUTSIDER)
    bot.settle()

    assert [outcome for _, _, _, outcome in _log(bot, request)] == ["not_allowed"]


@both_databases
def test_second_approvals_arriving_together_make_exactly_one_call(fake, start_bot, policy_file):
    """Each request gets its two approvals at the same moment, on two replicas: one of them is the second, once."""
    path = policy_file("enforce")
    first, second = start_bot(INVITES_POLICY=path), start_bot(INVITES_POLICY=path)
    delivered = [_delivered(fake, first, f"guest{n}@partner.org", invite_type="restricted") for n in range(6)]

    all_at_once(_click, [(bot, card, user) for _, card in delivered for bot, user in ((first, APPROVER), (second, GROUP_APPROVER))])

    approved = Counter(c.params["invite_request_id"] for c in fake.calls(APPROVE))
    assert approved == {request["id"]: 1 for request, _ in delivered}
    for request, _ in delivered:
        poll_until(lambda: _row(first, request).status == "approved", message=f"{request['id']} was never approved")
        recorded = [outcome for _, _, _, outcome in _log(first, request)].count("approval_recorded")
        assert recorded == 2
