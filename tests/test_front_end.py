"""`invitebot serve` under clients that never finish their requests: Slack's requests are still answered at once."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from app.sandbox import SlackSender
from tests.support.bots import SIGNING_SECRET
from tests.support.cards import wait_for_card
from tests.support.databases import poll_until
from tests.support.slow_clients import SlowClients
from tests.support.stand_in import APPROVER, CHANNEL, new_request

ACK_BUDGET = 1.0  # seconds; Slack's own limit is 3


def _address(events_url):
    host, port = urlsplit(events_url).netloc.rsplit(":", 1)
    return host, int(port)


def _cards(fake, slack, count):
    requests = [new_request(fake, f"person{n}@example.com") for n in range(count)]
    for request in requests:
        assert slack.invite_requested(request).status == 200
    return [(request, wait_for_card(fake, request["email"])) for request in requests]


def _approve_all(slack, cards):
    """Every click at once, each on its own connection, as Slack sends them."""

    def click(card):
        return slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    with ThreadPoolExecutor(max_workers=len(cards)) as pool:
        return list(pool.map(click, [card for _, card in cards]))


def test_100_slow_clients_do_not_slow_the_acks_of_slacks_clicks(fake, serve_process):
    url = serve_process()
    slack = SlackSender(url, SIGNING_SECRET, fake)
    cards = _cards(fake, slack, 20)

    with SlowClients(_address(url), 100) as slow:
        while_held = _approve_all(slack, cards[:10])
        # The server cuts them (headers and bodies have deadlines) and they come back: the acks stay quick meanwhile.
        poll_until(lambda: slow.reopened >= 100, timeout=30, message="the slow clients were never cut off")
        while_churning = _approve_all(slack, cards[10:])

    replies = while_held + while_churning
    assert [reply.status for reply in replies] == [200] * 20
    assert max(reply.elapsed for reply in replies) < ACK_BUDGET, [round(reply.elapsed, 3) for reply in replies]
    fake.wait_for(lambda: all(fake.invite_request_status(r["id"]) == "approved" for r, _ in cards), timeout=30)


def _first_line(sock):
    try:
        return sock.recv(200).split(b"\r\n", 1)[0].decode()
    except OSError:
        return ""


def test_one_address_holds_no_more_connections_than_its_share(fake, serve_process):
    url = serve_process(INVITES_HTTP_CLIENT_CONNECTIONS="5")
    greedy = [socket.create_connection(_address(url), timeout=15, source_address=("127.0.0.3", 0)) for _ in range(8)]
    try:
        started = time.monotonic()
        request = new_request(fake)
        reply = SlackSender(url, SIGNING_SECRET, fake).invite_requested(request)  # from 127.0.0.1: its own share
        answers = [_first_line(sock) for sock in greedy]
    finally:
        for sock in greedy:
            sock.close()

    assert reply.status == 200 and reply.elapsed < ACK_BUDGET
    wait_for_card(fake, request["email"])
    # The sixth and later are refused at once; the five it may hold are closed, unanswered, when they send no request.
    assert answers == [""] * 5 + ["HTTP/1.1 503 Service Unavailable"] * 3
    assert time.monotonic() - started < 15
