"""Races end cleanly: exactly one Slack call per decision and one card per request, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from app.sandbox import SlackSender
from app.store.models import DecisionLog
from tests.support.bots import SIGNING_SECRET
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, MANY_APPROVERS, REQUESTER, new_request


def _all_answered(fake, users):
    """Every clicker has had their one ephemeral answer."""
    return fake.wait_for(
        lambda: (lambda answers: answers if len(answers) >= len(users) else None)(
            [e for e in fake.ephemerals(channel=CHANNEL) if e["user"] in users]
        ),
        timeout=30,
        message="not every clicker was answered",
    )


@both_databases
def test_twenty_approvers_clicking_at_once_make_one_call(fake, bot):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")
    clickers = MANY_APPROVERS

    with ThreadPoolExecutor(len(clickers)) as pool:
        replies = list(
            pool.map(
                lambda user: bot.slack.click(
                    user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
                ),
                clickers,
            )
        )
    bot.settle()

    assert [r.status for r in replies] == [200] * len(clickers)
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    assert len(fake.messages(CHANNEL)) == 1
    answers = _all_answered(fake, set(clickers))
    assert len(answers) == len(clickers)
    with bot.sessions() as session:
        log = session.scalars(select(DecisionLog)).all()
    [winner] = [e.actor_id for e in log if e.outcome == "ok"]
    assert {e.outcome for e in log if e.outcome != "ok"} <= {"already_decided", "in_flight"}
    assert len(log) == len(clickers)
    assert f"Approved by <@{winner}>" in card_text(fake.message(CHANNEL, card["ts"]))


@both_databases
def test_two_server_processes_on_one_database_post_once_and_decide_once(fake, serve_process):
    first, second = serve_process(), serve_process()
    senders = [SlackSender(url, SIGNING_SECRET, fake) for url in (first, second)]
    request = new_request(fake)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda s: s.invite_requested(request), senders * 2))
    card = wait_for_card(fake, "ada@example.com")
    clickers = MANY_APPROVERS[:10]
    with ThreadPoolExecutor(len(clickers)) as pool:
        replies = list(
            pool.map(
                lambda n: senders[n % 2].click(
                    user_id=clickers[n], channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
                ),
                range(len(clickers)),
            )
        )

    assert {r.status for r in replies} == {200}
    _all_answered(fake, set(clickers))
    wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    fake.wait_for(lambda: len(fake.calls("chat.postMessage")) >= 2, message="the requester's DM")  # DMs come after the card
    assert [c.params["channel"] for c in fake.calls("chat.postMessage")] == [CHANNEL, REQUESTER]  # one card, one DM


@both_databases
def test_event_retries_redelivery_and_sync_make_one_card(fake, bot):
    request = new_request(fake)

    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(bot.slack.invite_requested, request),
            pool.submit(bot.slack.invite_requested, request, retry_num=1, retry_reason="http_timeout"),
            pool.submit(bot.slack.invite_requested, request, retry_num=2, retry_reason="http_timeout"),
            pool.submit(bot.runtime.sync),
        ]
        summary = futures[3].result()
    bot.settle()

    assert summary.errors == 0
    assert len(fake.calls("chat.postMessage")) == 1
    assert [m["ts"] for m in fake.messages(CHANNEL)] == [wait_for_card(fake, "ada@example.com")["ts"]]


def test_acks_stay_fast_while_slacks_admin_api_is_slow(fake, serve_process):
    url = serve_process()
    slack = SlackSender(url, SIGNING_SECRET, fake)
    emails = [f"person{n}@example.com" for n in range(12)]
    for email in emails:
        slack.invite_requested(new_request(fake, email))
    cards = [wait_for_card(fake, email) for email in emails]
    fake.set_latency("admin.inviteRequests.approve", 5)

    with ThreadPoolExecutor(len(cards)) as pool:
        replies = list(
            pool.map(
                lambda card: slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve"),
                cards,
            )
        )

    assert [r.status for r in replies] == [200] * len(cards)
    slowest = max(r.elapsed for r in replies)
    assert slowest < 3.0, f"an ack took {slowest:.2f}s; Slack gives up after 3s"
    for email in emails:  # 8 decision workers, 5 s each: the last of 12 lands after about 10 s
        wait_for_card(fake, email, lambda m: not buttons(m), timeout=30)
    assert len(fake.calls("admin.inviteRequests.approve")) == len(cards)
