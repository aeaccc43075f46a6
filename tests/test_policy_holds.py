"""A policy never lets a rule decide what it cannot check: a user group Slack will not list holds the request for people
(and a later rule does not fire in its place) until the next sync can read it; a look-alike domain is denied with the
domain it imitates but never approved as it, and a malformed one is left to people."""

from __future__ import annotations

import json
import textwrap

import pytest
from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, REQUESTER, TEAM, new_request
from tests.test_commands import answer

APPROVE, DENY, GROUP_LIST = "admin.inviteRequests.approve", "admin.inviteRequests.deny", "usergroups.users.list"
CONTRACTORS = "S0CONTRACT"
HELD = "Policy could not check rule contractors: the user group S0CONTRACT could not be read. Decide by hand, or wait"

GROUP_POLICY = """\
mode: {mode}
rules:
  - name: contractors
    when: {{requester: [S0CONTRACT]}}
    then: deny
    reason: "Contractors are invited by their agency."
  - name: employees
    when: {{email_domain: [example.com]}}
    then: approve
"""

DOMAIN_POLICY = """\
mode: {mode}
rules:
  - name: personal-mail
    when: {{email_domain: [gmail.com]}}
    then: deny
    reason: "Personal addresses cannot join; please ask for a work address."
  - name: kpmg
    when: {{email_domain: [kpmg.com]}}
    then: approve
  - name: subsidiaries
    when: {{email_domain: ["*.example.com"]}}
    then: approve
"""


def _policy(tmp_path, text, mode):
    path = tmp_path / f"policy-{mode}.yml"
    path.write_text(textwrap.dedent(text.format(mode=mode)), encoding="utf-8")
    return str(path)


def _row(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"])


def _calls_for(fake, method, request):
    return [c for c in fake.calls(method) if c.params.get("invite_request_id") == request["id"]]


def _delivered(fake, bot, email, **kw):
    request = new_request(fake, email, **kw)
    assert bot.slack.invite_requested(request).status == 200
    bot.settle()
    return request, wait_for_card(fake, email)


@pytest.fixture
def contractors(fake):
    """Alan (REQUESTER) works for an agency; Slack is rate limiting usergroups.users.list, as after a restart."""
    fake.add_usergroup(CONTRACTORS, team_id=TEAM, handle="contractors", user_ids=[REQUESTER])
    fake.fail_next(GROUP_LIST, "ratelimited", times=1000, retry_after=0)


# -- a user group that cannot be read -------------------------------------------------------------------------------


@both_databases
def test_a_deny_rule_whose_group_cannot_be_read_holds_the_request_until_the_next_sync_reads_it(
    fake, start_bot, tmp_path, contractors
):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, GROUP_POLICY, "enforce"))

    contractor, card = _delivered(fake, bot, "ada@example.com")
    employee, employee_card = _delivered(fake, bot, "bob@example.com", requester_ids=[APPROVER])

    assert fake.calls(GROUP_LIST)  # Slack was asked, and would not answer
    assert not fake.calls(APPROVE) and not fake.calls(DENY)  # employees did not fire in the unchecked deny's place
    for held, shown in ((contractor, card), (employee, employee_card)):
        assert (_row(bot, held).status, _row(bot, held).policy_verdict) == ("pending", "hold")
        assert HELD in card_text(shown) and buttons(shown)

    fake.clear_faults(GROUP_LIST)
    bot.sync()

    [deny] = _calls_for(fake, DENY, contractor)
    assert deny.status == 200 and not _calls_for(fake, APPROVE, contractor)
    assert (_row(bot, contractor).status, _row(bot, contractor).decided_by) == ("denied", "contractors")
    assert len(_calls_for(fake, APPROVE, employee)) == 1 and _row(bot, employee).decided_by == "employees"
    closed = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert "Denied by policy *contractors*" in card_text(closed) and "could not check" not in card_text(closed)


def test_a_sync_asks_a_rate_limited_slack_for_the_group_once_not_once_per_request(fake, start_bot, tmp_path, contractors):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, GROUP_POLICY, "enforce"))
    _delivered(fake, bot, "first@example.com")
    one_read = len(fake.calls(GROUP_LIST))  # one read of the group, with the client's own retries
    requests = [new_request(fake, f"p{n}@example.com") for n in range(6)]

    bot.sync()

    assert len(fake.calls(GROUP_LIST)) == 2 * one_read
    assert not fake.calls(APPROVE) and not fake.calls(DENY)
    assert {_row(bot, request).policy_verdict for request in requests} == {"hold"}


def test_a_person_may_decide_a_held_request_by_hand(fake, start_bot, tmp_path, contractors):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, GROUP_POLICY, "enforce"))
    request, _ = _delivered(fake, bot, "ada@example.com")

    reply = bot.slack.slash(text=f"deny {request['id']} agency staff", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200
    bot.settle()

    row = _row(bot, request)
    assert (row.status, row.decided_by, row.policy_agreed) == ("denied", APPROVER, None)  # a hold has no verdict to agree with


def test_shadow_mode_says_the_rule_could_not_be_checked_rather_than_what_a_later_rule_would_do(
    fake, start_bot, tmp_path, contractors
):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, GROUP_POLICY, "shadow"))
    request, card = _delivered(fake, bot, "ada@example.com")

    assert HELD in card_text(card)
    assert "Policy would approve (rule employees)" not in card_text(card)
    shown = answer(fake, bot, f"show {request['id']}")
    assert HELD in shown and "(shadow mode)" in shown and "Rule *employees* matched" not in shown

    fake.clear_faults(GROUP_LIST)
    bot.sync()

    assert not fake.calls(APPROVE) and not fake.calls(DENY)
    assert _row(bot, request).policy_rule == "contractors"
    shown = wait_for_card(fake, "ada@example.com", lambda m: "Policy would deny (rule contractors)" in card_text(m))
    assert "could not check" not in card_text(shown)


# -- look-alike and malformed domains -------------------------------------------------------------------------------


def test_look_alike_domains_are_denied_with_the_domain_they_imitate_but_never_approved(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, DOMAIN_POLICY, "enforce"))

    kelvin, kelvin_card = _delivered(fake, bot, "ada@\u212apmg.com")  # KELVIN SIGN, lower-cased to "k"
    fullwidth, _ = _delivered(fake, bot, "bob@\uff47mail.com")
    full_stop, _ = _delivered(fake, bot, "cy@gmail\u3002com")
    empty_label, empty_card = _delivered(fake, bot, "dee@..example.com")
    real, _ = _delivered(fake, bot, "eve@kpmg.com")

    assert not _calls_for(fake, APPROVE, kelvin) and _row(bot, kelvin).status == "pending"
    look_alike = "Policy could not check rule kpmg: email domain \\u212apmg.com is written in a look-alike form of kpmg.com"
    assert look_alike in card_text(kelvin_card) and buttons(kelvin_card)
    for denied in (fullwidth, full_stop):
        assert len(_calls_for(fake, DENY, denied)) == 1
        assert (_row(bot, denied).status, _row(bot, denied).decided_by) == ("denied", "personal-mail")
    assert not _calls_for(fake, APPROVE, empty_label) and _row(bot, empty_label).status == "pending"
    assert "Policy cannot judge this request: the address's domain ..example.com is malformed. Decide by hand." in card_text(
        empty_card
    )
    assert len(_calls_for(fake, APPROVE, real)) == 1 and _row(bot, real).decided_by == "kpmg"

    bot.sync()  # checked again, and held again: a look-alike does not become the domain it imitates
    assert not _calls_for(fake, APPROVE, kelvin) and not _calls_for(fake, APPROVE, empty_label)


def test_shadow_mode_reports_a_look_alike_as_the_enforced_policy_would_treat_it(fake, start_bot, tmp_path):
    bot = start_bot(INVITES_POLICY=_policy(tmp_path, DOMAIN_POLICY, "shadow"))

    _, kelvin = _delivered(fake, bot, "ada@\u212apmg.com")
    _, fullwidth = _delivered(fake, bot, "bob@\uff47mail.com")

    assert "Policy would approve" not in card_text(kelvin) and "look-alike form of kpmg.com" in card_text(kelvin)
    assert "Policy would deny (rule personal-mail)" in card_text(fullwidth)


def _bulk_preview(fake, bot, text):
    opened = len(fake.views_opened())
    assert bot.slack.slash(text=text, user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM).status == 200
    view = fake.wait_for(lambda: fake.views_opened()[opened:] and fake.views_opened()[opened], message="no preview opened")
    filled = fake.wait_for(
        lambda: (lambda v: v if v.get("callback_id") == "bulk_preview" or "Finding" not in json.dumps(v) else None)(
            fake.modal(view["id"])
        ),
        message="the preview was never filled in",
    )
    return card_text({"blocks": filled["blocks"]})


def test_a_bulk_approve_leaves_look_alikes_out_and_a_bulk_deny_takes_them(fake, bot):
    emails = ("ada@kpmg.com", "bob@\u212apmg.com", "cy@gmail.com", "dee@\uff47mail.com", "eve@gmail\u3002com", "fay@..kpmg.com")
    for email in emails:
        _delivered(fake, bot, email)

    approving = _bulk_preview(fake, bot, "approve --domain kpmg.com")
    denying = _bulk_preview(fake, bot, 'deny --domain gmail.com --reason "Use a work address"')

    assert "*1 pending request* from kpmg.com" in approving and "bob@" not in approving and "fay@" not in approving
    assert "*3 pending requests* from gmail.com" in denying
    assert all(who in denying for who in ("cy@gmail.com", "dee@\uff47mail.com", "eve@gmail\u3002com"))
    with bot.sessions() as session:
        assert not session.scalars(select(DecisionLog).where(DecisionLog.outcome == "ok")).all()  # a preview decides nothing
