"""An admin's view of the loop: a request becomes a card, one click decides it, the card tells the truth."""

from __future__ import annotations

from sqlalchemy import select

from app.store.models import DecisionLog, InviteRequest
from tests.support.cards import assert_approved_by_click, buttons, card_text, deny_through_modal, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, GROUP_APPROVER, OUTSIDER, REQUESTER, new_request


def test_invite_request_event_posts_a_complete_card(fake, bot):
    request = new_request(fake, invite_type="restricted")

    reply = bot.slack.invite_requested(request)

    assert reply.status == 200
    card = wait_for_card(fake, "ada@example.com")
    text = card_text(card)
    assert "Ada Lovelace" in text
    assert "Multi-channel guest" in text
    assert f"<@{REQUESTER}>" in text
    assert "<#C0GENERAL1> <#C0DESIGN01>" in text
    assert "Joining the analytical engine project" in text
    assert "Alpha Corp" in text
    assert f"<!date^{request['date_created']}^" in text
    assert "<!date^1900000000^" in text
    approve, deny = buttons(card)
    assert (approve["text"]["text"], approve["style"]) == ("Approve", "primary")
    assert (deny["text"]["text"], deny["style"]) == ("Deny", "danger")
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    assert "ada@example.com" in approve["confirm"]["text"]["text"]


def test_invite_types_are_named_in_words(fake, bot):
    for email, invite_type, words in [
        ("full@example.com", "full_member", "Full member"),
        ("single@example.com", "ultra_restricted", "Single-channel guest"),
    ]:
        bot.slack.invite_requested(new_request(fake, email, invite_type=invite_type))
        assert words in card_text(wait_for_card(fake, email))


def test_approve_calls_slack_once_and_rewrites_the_card(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")

    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    assert reply.status == 200
    assert_approved_by_click(fake, request, card, APPROVER)
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")
        log = session.scalars(select(DecisionLog)).all()
        assert [(e.actor_id, e.action, e.source, e.outcome) for e in log] == [(APPROVER, "approve", "button", "ok")]


def test_deny_calls_slack_once_and_rewrites_the_card(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")

    reply = deny_through_modal(fake, bot, card, GROUP_APPROVER)
    assert reply.status == 200

    decided = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert f"Denied by <@{GROUP_APPROVER}><!date^" in card_text(decided)
    assert len(fake.calls("admin.inviteRequests.deny")) == 1
    assert not fake.calls("admin.inviteRequests.approve")
    assert fake.invite_request_status(request["id"]) == "denied"


def test_non_approver_is_refused_and_audited(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")

    bot.slack.click(user_id=OUTSIDER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    [answer] = fake.wait_for(lambda: ephemerals_for(fake, OUTSIDER))
    assert "Only invite approvers" in answer
    assert not fake.calls("admin.inviteRequests.approve")
    assert buttons(fake.message(CHANNEL, card["ts"]))
    assert fake.invite_request_status(request["id"]) == "pending"
    with bot.sessions() as session:
        [entry] = session.scalars(select(DecisionLog)).all()
        assert (entry.actor_id, entry.outcome, entry.request_id) == (OUTSIDER, "not_allowed", request["id"])


def test_hostile_request_text_pings_nobody_and_links_nowhere(fake, bot):
    hostile = "<!channel> <https://evil.example|click> & <@U0OUTSID01>"
    request = new_request(fake, "eve@example.com", real_name="<!here> Eve", request_reason=hostile)

    bot.slack.invite_requested(request)

    card = wait_for_card(fake, "eve@example.com")
    text = card_text(card) + card["text"]
    assert "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; &lt;@U0OUTSID01&gt;" in text
    assert "&lt;!here&gt; Eve" in text
    for dangerous in ("<!channel>", "<!here>", "<https://evil.example", "<@U0OUTSID01>"):
        assert dangerous not in text


def test_decisions_survive_a_restart(fake, start_bot):
    first = start_bot()
    request = new_request(fake)
    first.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    first.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))

    second = start_bot()
    second.slack.invite_requested(request, retry_num=1, retry_reason="http_timeout")
    second.settle()
    # Someone whose screen still shows the buttons clicks after the restart.
    second.slack.click(
        user_id=GROUP_APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
    )

    [answer] = fake.wait_for(lambda: ephemerals_for(fake, GROUP_APPROVER))
    assert f"Approved by <@{APPROVER}>" in answer
    assert len(fake.messages(CHANNEL)) == 1
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    assert not fake.calls("admin.inviteRequests.deny")
