"""Deny opens a reason modal at once; the reason is stored, shown on the card and sent to the requester."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.cards import buttons, card_text, deny_through_modal, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, OUTSIDER, REQUESTER, TEAM, new_request


def _card(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    return request, wait_for_card(fake, "ada@example.com")


def test_deny_opens_the_modal_then_fills_it_in(fake, bot):
    request, card = _card(fake, bot)

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny")

    assert reply.status == 200
    [opened] = fake.wait_for(lambda: fake.views_opened(), message="no modal opened")
    assert opened["callback_id"] == "invite_deny_reason"
    assert [b["block_id"] for b in opened["blocks"] if b["type"] == "input"] == ["reason"]
    bot.settle()
    filled = fake.modal(opened["id"])
    assert "Deny the invite for *ada@example.com*" in json.dumps(filled)
    assert json.loads(filled["private_metadata"])["id"] == request["id"]
    assert not fake.calls("admin.inviteRequests.deny")


def test_the_reason_reaches_the_card_the_record_and_the_requester(fake, bot):
    request, card = _card(fake, bot)

    reply = deny_through_modal(fake, bot, card, APPROVER, "Please use a <!channel> contractor account")

    assert reply.status == 200 and not reply.body
    bot.settle()
    closed = card_text(wait_for_card(fake, "ada@example.com", lambda m: not buttons(m)))
    assert f"Denied by <@{APPROVER}>" in closed
    assert "Reason: Please use a &lt;!channel&gt; contractor account" in closed
    [dm] = fake.direct_messages(REQUESTER)
    assert "was denied by" in dm["text"] and "Reason: Please use a &lt;!channel&gt; contractor account" in dm["text"]
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).deny_reason == "Please use a <!channel> contractor account"
    [call] = fake.calls("admin.inviteRequests.deny")
    assert call.params["invite_request_id"] == request["id"]


def test_a_required_reason_is_enforced_in_the_modal(fake, start_bot):
    bot = start_bot(INVITES_DENY_REASON_REQUIRED="true")
    _, card = _card(fake, bot)

    empty = deny_through_modal(fake, bot, card, APPROVER, "   ")

    assert empty.status == 200
    assert json.loads(empty.body) == {
        "response_action": "errors",
        "errors": {"reason": "Write a reason to deny this request."},
    }
    bot.settle()
    assert not fake.calls("admin.inviteRequests.deny")
    assert buttons(fake.message(CHANNEL, card["ts"]))

    deny_through_modal(fake, bot, card, APPROVER, "Duplicate request")
    bot.settle()
    assert len(fake.calls("admin.inviteRequests.deny")) == 1


def test_a_non_approver_gets_a_notice_instead_of_the_form(fake, bot):
    request, card = _card(fake, bot)

    bot.slack.click(user_id=OUTSIDER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny")
    bot.settle()

    [opened] = fake.views_opened()
    shown = fake.modal(opened["id"])
    assert "Only invite approvers" in json.dumps(shown) and "submit" not in shown
    assert not fake.calls("admin.inviteRequests.deny")
    with bot.sessions() as session:
        [entry] = session.scalars(select(DecisionLog)).all()
    assert (entry.actor_id, entry.action, entry.outcome) == (OUTSIDER, "deny", "not_allowed")


def test_deny_on_a_card_decided_meanwhile_says_who_decided(fake, bot):
    _, card = _card(fake, bot)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny", as_seen=card)
    bot.settle()

    shown = fake.modal(fake.views_opened()[-1]["id"])
    assert f"Approved by <@{APPROVER}>" in json.dumps(shown) and "submit" not in shown


def test_a_form_claiming_another_source_is_refused_and_nothing_is_denied(fake, bot):
    """private_metadata comes back from the client: a deny modal only ever comes from a button or the App Home."""
    request, card = _card(fake, bot)
    opened = len(fake.views_opened())
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny")
    view = fake.wait_for(lambda: fake.views_opened()[opened:], message="no deny modal opened")[0]
    bot.settle()
    shown = fake.modal(view["id"])
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": "Not known"}}}

    for forged in ("outside", "sync", "nonsense"):
        metadata = {**json.loads(shown["private_metadata"]), "source": forged}
        reply = bot.slack.submit_view(
            user_id=APPROVER, view={**shown, "private_metadata": json.dumps(metadata)}, values=values, team_id=TEAM
        )
        assert reply.status == 200
        assert "out of date" in json.loads(reply.body)["errors"]["reason"]
    bot.settle()

    assert not fake.calls("admin.inviteRequests.deny")
    assert fake.invite_request_status(request["id"]) == "pending"
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).decision_source is None
