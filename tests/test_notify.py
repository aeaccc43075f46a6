"""Requesters hear how their request ended: once per decision, wherever it was made, even with two replicas."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select, update

from app.core.audit import now
from app.store.models import OutboxJob
from tests.support.cards import wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, REQUESTER, SLACK_ADMIN, new_request


def _approve(fake, bot, email="ada@example.com"):
    card = wait_for_card(fake, email)
    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    bot.settle()


def test_requesters_are_told_of_an_approval(fake, bot):
    second_requester = "W0MANY0001"
    bot.slack.invite_requested(new_request(fake, requester_ids=[REQUESTER, second_requester]))
    bot.settle()

    _approve(fake, bot)

    for user in (REQUESTER, second_requester):
        [dm] = fake.direct_messages(user)
        assert "Your request to invite ada@example.com to Alpha Corp was approved by" in dm["text"]
        assert f"<@{APPROVER}>" in dm["text"]


def test_a_decision_made_outside_invitebot_is_told_too(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    bot.settle()
    fake.decide_outside(request["id"], "deny", SLACK_ADMIN)

    bot.runtime.sync()
    bot.settle()

    [dm] = fake.direct_messages(REQUESTER)
    assert f"was denied by <@{SLACK_ADMIN}>" in dm["text"]


def test_notifications_can_be_turned_off(fake, start_bot):
    bot = start_bot(INVITES_NOTIFY_REQUESTERS="false")
    bot.slack.invite_requested(new_request(fake))
    bot.settle()

    _approve(fake, bot)

    assert fake.direct_messages(REQUESTER) == []


@both_databases
def test_two_replicas_tell_the_requester_once(fake, start_bot):
    first, second = start_bot(), start_bot()
    request = new_request(fake)
    first.slack.invite_requested(request)
    first.settle()
    fake.decide_outside(request["id"], "approve", SLACK_ADMIN)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda bot: bot.runtime.sync(), (first, second)))
    first.settle()
    second.settle()

    assert len(fake.direct_messages(REQUESTER)) == 1


def test_a_dm_whose_answer_was_lost_is_found_and_not_sent_again(fake, bot):
    bot.slack.invite_requested(new_request(fake))
    bot.settle()
    fake.drop_answer("chat.postMessage")  # Slack posts the DM, then the connection drops before its answer

    _approve(fake, bot)
    assert len(fake.direct_messages(REQUESTER)) == 1
    with bot.runtime.sessions.begin() as session:  # the job waits a minute (Slack may still be posting): due now
        session.execute(update(OutboxJob).where(OutboxJob.kind == "notify").values(not_before=now()))
    bot.settle()

    assert len(fake.direct_messages(REQUESTER)) == 1
    assert [c.params["channel"] for c in fake.calls("conversations.history")] == [fake.direct_messages(REQUESTER)[0]["channel"]]
    with bot.sessions() as session:
        assert session.scalars(select(OutboxJob.kind)).all() == []


def test_a_dm_that_cannot_be_looked_for_is_sent_again_and_the_log_names_the_scopes(fake, bot, caplog):
    """Without im:history a lost answer cannot be checked: the DM goes out once more rather than never."""
    bot.slack.invite_requested(new_request(fake))
    bot.settle()
    fake.drop_answer("chat.postMessage")
    fake.fail_next("conversations.history", "missing_scope")

    _approve(fake, bot)
    with bot.runtime.sessions.begin() as session:
        session.execute(update(OutboxJob).where(OutboxJob.kind == "notify").values(not_before=now()))
    bot.settle()

    assert len(fake.direct_messages(REQUESTER)) == 2
    [warning] = [r.getMessage() for r in caplog.records if r.name == "app.slack.jobs.once"]
    assert "(missing_scope): it may show twice; the bot needs channels:history, groups:history and im:history" in warning


def test_a_requesters_dms_keep_to_their_channels_pace(fake, start_bot):
    """Three decisions made together: the requester's three DMs each take a slot of their DM channel's pace."""
    bot = start_bot(INVITES_CARD_POSTS_PER_MINUTE="30", INVITES_ADMIN_CALLS_PER_MINUTE="600")
    emails = [f"dm{n}@example.com" for n in range(3)]
    for email in emails:
        assert bot.slack.invite_requested(new_request(fake, email)).status == 200
    cards = [wait_for_card(fake, email, timeout=20) for email in emails]

    for card in cards:
        bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    fake.wait_for(lambda: len(fake.direct_messages(REQUESTER)) == 3, timeout=20, message="not every DM was sent")

    dms = sorted(c.at for c in fake.calls("chat.postMessage") if c.params.get("channel") == REQUESTER and c.status == 200)
    gaps = [later - earlier for earlier, later in zip(dms, dms[1:])]
    assert len(dms) == 3 and min(gaps) > 0.8 * 2.0, gaps
