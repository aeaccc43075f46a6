"""INVITES_DENY_REASON_REQUIRED holds on every surface: nothing is denied without a reason, and the refusal is audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from app.core.decisions import decide
from app.core.outcomes import Result
from app.store.models import Action, DecisionLog, InviteRequest, Source
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import poll_until
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request

DENY = "admin.inviteRequests.deny"


@pytest.fixture
def strict(start_bot):
    return start_bot(INVITES_DENY_REASON_REQUIRED="true")


def _delivered(fake, bot, email="ada@example.com"):
    request = new_request(fake, email)
    bot.slack.invite_requested(request)
    wait_for_card(fake, email)
    bot.settle()
    return request


def _slash(fake, bot, text):
    """Run /invites and return every text posted to its response_url after the ack (the first one waited for)."""
    before = len(fake.response_posts())
    reply = bot.slack.slash(text=text, user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200 and not reply.body
    fake.wait_for(lambda: fake.response_posts()[before:], message=f"/invites {text} was never answered")
    bot.settle()
    return [post["text"] for post in fake.response_posts()[before:]]



def _row(bot, request):
    with bot.sessions() as session:
        return session.get(InviteRequest, request["id"])


def _log(bot, request):
    with bot.sessions() as session:
        entries = session.scalars(select(DecisionLog).where(DecisionLog.request_id == request["id"]).order_by(DecisionLog.id))
        return [(e.actor_id, e.action, e.source, e.outcome) for e in entries]


def _still_pending(fake, bot, request):
    assert not fake.calls(DENY)
    assert fake.invite_request_status(request["id"]) == "pending"
    row = _row(bot, request)
    assert (row.status, row.claim_owner, row.deny_reason) == ("pending", None, None)


# -- /invites deny ----------------------------------------------------------------------------------------------


def test_slash_deny_without_a_reason_denies_nothing_and_is_audited(fake, strict):
    request = _delivered(fake, strict)

    [answer] = _slash(fake, strict, f"deny {request['id']}")

    assert "requires a reason" in answer and "/invites deny <request> <reason>" in answer and "Nothing was decided" in answer
    _still_pending(fake, strict, request)
    assert _log(strict, request) == [(APPROVER, "deny", "slash", "reason_required")]
    assert buttons(fake.message(CHANNEL, wait_for_card(fake, request["email"])["ts"]))


def test_slash_deny_with_a_reason_denies(fake, strict):
    request = _delivered(fake, strict)

    [answer] = _slash(fake, strict, f"deny {request['id']} some reason")

    assert "You denied the invite request for ada@example.com" in answer
    [call] = fake.calls(DENY)
    assert call.params["invite_request_id"] == request["id"]
    assert fake.invite_request_status(request["id"]) == "denied"
    row = _row(strict, request)
    assert (row.status, row.decided_by, row.decision_source, row.deny_reason) == ("denied", APPROVER, "slash", "some reason")
    closed = card_text(wait_for_card(fake, request["email"], lambda m: not buttons(m)))
    assert f"Denied by <@{APPROVER}>" in closed and "Reason: some reason" in closed
    assert _log(strict, request) == [(APPROVER, "deny", "slash", "ok")]


# -- the App Home -------------------------------------------------------------------------------------------------


def _home_deny_value(fake, bot, request):
    """Open the approver's Home and return the value of the Deny button shown for the request."""
    bot.slack.app_home_opened(APPROVER, team_id=TEAM)

    def deny_button():
        view = fake.home_view(APPROVER)
        for block in (view or {}).get("blocks", []):
            if block.get("type") == "actions" and block.get("block_id") == f"home-decide-{request['id']}":
                found = [e for e in block["elements"] if e.get("action_id") == "invite_deny"]
                if found:
                    return found[0]["value"]
        return None

    value = fake.wait_for(deny_button, message="the Home shows no Deny button for the request")
    bot.settle()
    return value


def _submit(bot, modal, reason):
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    return bot.slack.submit_view(user_id=APPROVER, view=modal, values=values, team_id=TEAM)


def test_a_deny_from_the_home_needs_a_reason_in_the_modal(fake, strict):
    request = _delivered(fake, strict)
    value = _home_deny_value(fake, strict, request)
    opened = len(fake.views_opened())

    reply = strict.slack.click_in_home(user_id=APPROVER, action_id="invite_deny", value=value, team_id=TEAM)

    assert reply.status == 200
    first = fake.wait_for(lambda: fake.views_opened()[opened:], message="no deny modal opened from the Home")[0]
    assert first["callback_id"] == "invite_deny_reason"
    fake.wait_for(lambda: fake.modal(first["id"])["hash"] != first["hash"], message="the deny modal was not filled in")
    strict.settle()
    modal = fake.modal(first["id"])
    [reason_block] = [b for b in modal["blocks"] if b.get("block_id") == "reason"]
    assert reason_block.get("optional") is False
    assert json.loads(modal["private_metadata"])["source"] == "home"

    for empty in (None, "", "   \n "):
        refused = _submit(strict, modal, empty)
        assert refused.status == 200
        assert json.loads(refused.body) == {
            "response_action": "errors",
            "errors": {"reason": "Write a reason to deny this request."},
        }
        strict.settle()
        _still_pending(fake, strict, request)

    accepted = _submit(strict, modal, "Not this quarter")

    assert accepted.status == 200 and not accepted.body
    fake.wait_for(lambda: fake.calls(DENY), message="the deny with a reason never reached Slack")
    poll_until(lambda: _row(strict, request).status == "denied", message="the deny was never recorded")
    strict.settle()
    assert len(fake.calls(DENY)) == 1
    assert fake.invite_request_status(request["id"]) == "denied"
    row = _row(strict, request)
    assert (row.status, row.decided_by, row.decision_source, row.deny_reason) == ("denied", APPROVER, "home", "Not this quarter")
    assert _log(strict, request) == [(APPROVER, "deny", "home", "ok")]


# -- every surface: decide() itself refuses -----------------------------------------------------------------------


@pytest.mark.parametrize("source", [Source.BUTTON, Source.SLASH, Source.HOME])
@pytest.mark.parametrize("reason", [None, "", "  \t "])
def test_decide_refuses_a_deny_without_a_reason_from_any_surface(fake, strict, source, reason):
    request = _delivered(fake, strict)

    outcome = decide(strict.runtime.services, request["id"], Action.DENY, APPROVER, source, reason, actor_team=TEAM)

    assert outcome.result is Result.REASON_REQUIRED
    strict.settle()
    _still_pending(fake, strict, request)
    assert _log(strict, request) == [(APPROVER, "deny", source.value, "reason_required")]


def test_an_approval_needs_no_reason(fake, strict):
    request = _delivered(fake, strict)

    [answer] = _slash(fake, strict, f"approve {request['id']}")

    assert "You approved the invite request for ada@example.com" in answer
    assert _row(strict, request).status == "approved"
