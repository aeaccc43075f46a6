"""Clicks are written down before their ack, the clicks that arrive together in one transaction (app.core.asks)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import event

from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, new_request

CLICKS = 40


@both_databases
def test_simultaneous_clicks_are_written_in_a_few_transactions_and_each_is_decided_once(fake, bot):
    requests = [new_request(fake, f"person{n}@example.com") for n in range(CLICKS)]
    for request in requests:
        bot.slack.invite_requested(request)
    cards = [wait_for_card(fake, request["email"], buttons) for request in requests]
    bot.settle()
    commits: list[str] = []

    def counted(_connection):
        if threading.current_thread().name == "invitebot-asks":
            commits.append("ask")

    event.listen(bot.runtime.engine, "commit", counted)
    start = threading.Barrier(CLICKS)

    def click(card):
        start.wait()
        return bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve").status

    try:
        with ThreadPoolExecutor(CLICKS) as pool:
            statuses = list(pool.map(click, cards))
    finally:
        event.remove(bot.runtime.engine, "commit", counted)

    assert statuses == [200] * CLICKS
    assert 1 <= len(commits) < CLICKS / 2, f"{len(commits)} transactions wrote {CLICKS} clicks"
    for request in requests:
        wait_for_card(fake, request["email"], lambda m: f"Approved by <@{APPROVER}>" in card_text(m), timeout=60)
    bot.settle()
    approved = [call.params["invite_request_id"] for call in fake.calls("admin.inviteRequests.approve")]
    assert sorted(approved) == sorted(request["id"] for request in requests)
