"""Every way Slack can answer a decision ends in a truthful card and a sentence the clicker understands."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.cards import buttons, card_text, deny_through_modal, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, SLACK_ADMIN, new_request


def _card_for(fake, bot, **kw):
    request = new_request(fake, **kw)
    bot.slack.invite_requested(request)
    return request, wait_for_card(fake, request["email"])


def _click(fake, bot, card, action="invite_approve", user=APPROVER):
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id=action)


def _answers(fake, user=APPROVER, count=1):
    return fake.wait_for(lambda: (lambda found: found if len(found) >= count else None)(ephemerals_for(fake, user)))


def test_decided_in_slacks_admin_pages_is_found_and_named_on_click(fake, bot):
    request, card = _card_for(fake, bot)
    fake.decide_outside(request["id"], "deny", SLACK_ADMIN)

    _click(fake, bot, card)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Already denied by <@{SLACK_ADMIN}> outside invitebot" in card_text(closed)
    [answer] = _answers(fake)
    assert f"already denied by <@{SLACK_ADMIN}> outside invitebot" in answer
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("denied", SLACK_ADMIN, "outside")
        [entry] = session.scalars(select(DecisionLog)).all()
        assert entry.outcome == "already_processed"


def test_failed_to_send_invite_is_its_own_state(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next("admin.inviteRequests.approve", "failed_to_send_invite")

    _click(fake, bot, card)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert "but Slack could not send the invitation" in card_text(closed)
    assert "could not send the invitation" in _answers(fake)[0]
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).status == "approved_invite_failed"


def test_request_gone_from_slack_says_so(fake, bot):
    request, card = _card_for(fake, bot)
    fake.remove_request(request["id"])

    deny_through_modal(fake, bot, card, APPROVER, "Withdrawn")

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert "Slack no longer has this request" in card_text(closed)
    assert "no longer has this invite request" in _answers(fake)[0]


def test_rate_limit_is_waited_out_then_the_approval_goes_through(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next("admin.inviteRequests.approve", "ratelimited", status=429, retry_after=1)

    _click(fake, bot, card)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    assert [c.status for c in fake.calls("admin.inviteRequests.approve")] == [429, 200]


def test_transient_failure_releases_the_card_for_a_second_click(fake, bot):
    request, card = _card_for(fake, bot)
    fake.fail_next("admin.inviteRequests.approve", "internal_error", times=3)

    _click(fake, bot, card)

    [first] = _answers(fake)
    assert "Slack had an internal error" in first and "click Approve again in a minute to retry" in first
    assert len(fake.calls("admin.inviteRequests.approve")) == 3  # the first try and two bounded retries
    assert buttons(fake.message(CHANNEL, card["ts"]))
    assert fake.invite_request_status(request["id"]) == "pending"

    _click(fake, bot, card)

    closed = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{APPROVER}>" in card_text(closed)
    with bot.sessions() as session:
        outcomes = [e.outcome for e in session.scalars(select(DecisionLog).order_by(DecisionLog.id))]
    assert outcomes == ["internal_error", "ok"]


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        ("not_an_admin", "org admin or owner"),
        ("missing_scope", "admin.invites:write"),
        ("token_revoked", "SLACK_ADMIN_TOKEN"),
        ("feature_not_enabled", "Invite request approval is not enabled"),
    ],
)
def test_token_and_permission_errors_tell_what_to_fix_and_keep_the_request_open(fake, bot, code, fix):
    request, card = _card_for(fake, bot)
    fake.fail_next("admin.inviteRequests.approve", code)

    _click(fake, bot, card)

    [answer] = _answers(fake)
    assert fix in answer and "Nothing was decided" in answer
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    assert buttons(fake.message(CHANNEL, card["ts"]))
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).status == "pending"


