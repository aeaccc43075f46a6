"""The HTTP edge holds up: acks never wait on Slack, and slow, huge or malformed requests get a quick 4xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import APPROVER, new_request, wait_for_card


def _cards(fake, bot, count):
    cards = []
    for n in range(count):
        request = new_request(fake, f"person{n}@example.com")
        bot.slack.invite_requested(request)
        cards.append((request, wait_for_card(fake, request["email"])))
    bot.settle()
    return cards


def test_a_slow_views_open_delays_no_ack(fake, bot):
    """10 Deny clicks whose modal takes Slack 4 s to open, mixed with 10 Approve clicks: every click is acked at once."""
    cards = _cards(fake, bot, 20)
    fake.set_latency("views.open", 4)
    clicks = [(card, "invite_deny" if n % 2 == 0 else "invite_approve") for n, (_, card) in enumerate(cards)]

    def click(job):
        card, action_id = job
        return bot.slack.click(user_id=APPROVER, channel=card["channel"], message_ts=card["ts"], action_id=action_id)

    with ThreadPoolExecutor(max_workers=len(clicks)) as pool:
        replies = list(pool.map(click, clicks))

    assert [reply.status for reply in replies] == [200] * 20
    assert max(reply.elapsed for reply in replies) < 1.5, [round(reply.elapsed, 2) for reply in replies]
    approved = [request for n, (request, _) in enumerate(cards) if n % 2 == 1]
    fake.wait_for(lambda: all(fake.invite_request_status(r["id"]) == "approved" for r in approved), timeout=30)
    fake.wait_for(lambda: len(fake.calls("views.open")) == 10, timeout=30, message="not every Deny tried its modal")
    bot.settle()
