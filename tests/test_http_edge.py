"""The HTTP edge holds up: acks never wait on Slack, and slow, huge or malformed requests get a quick 4xx."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode, urlsplit

import pytest
import sqlalchemy

from app.sandbox import SlackSender
from app.sandbox.sender import FORM
from tests.support.bots import SIGNING_SECRET, stop_process
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request


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


# -- refused before Bolt: garbage, forgeries, huge bodies --------------------------------------------

GARBAGE = {
    "broken JSON": (b"{not json", "application/json"),
    "form with a garbage payload": (b"payload=garbage", FORM),
    "a JSON list": (b"[1, 2, 3]", "application/json"),
    "invalid UTF-8": (b'{"type": "\xff\xfe"}', "application/json"),
}


def _tracebacks(caplog, capfd):
    """Whatever looks like a crash: a logged exception, or a traceback the server printed."""
    logged = [record.getMessage() for record in caplog.records if record.exc_info]
    printed = "Traceback" in capfd.readouterr().err
    return logged + (["a traceback on stderr"] if printed else [])


@pytest.mark.parametrize("body, content_type", GARBAGE.values(), ids=GARBAGE.keys())
def test_unsigned_garbage_is_401_without_a_traceback(bot, caplog, capfd, body, content_type):
    reply = bot.slack.post(body, content_type=content_type, sign=False)

    assert reply.status == 401
    assert _tracebacks(caplog, capfd) == []


@pytest.mark.parametrize(
    "timestamp", ["yesterday", f"{int(time.time())}, {int(time.time())}"], ids=["non-numeric", "doubled"]
)
def test_an_unreadable_timestamp_header_is_401_without_a_traceback(bot, caplog, capfd, timestamp):
    body = b'{"type": "event_callback", "event": {"type": "invite_requested"}}'

    reply = bot.slack.post(body, content_type="application/json", headers={"X-Slack-Request-Timestamp": timestamp})

    assert reply.status == 401
    assert _tracebacks(caplog, capfd) == []


def _signature(body: bytes) -> dict[str, str]:
    """Slack's v0 signature over raw bytes (the sender's signer only takes text)."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}"}


@pytest.mark.parametrize("body, content_type", GARBAGE.values(), ids=GARBAGE.keys())
def test_signed_garbage_is_400_without_a_traceback(bot, caplog, capfd, body, content_type):
    reply = bot.slack.post(body, content_type=content_type, sign=False, headers=_signature(body))

    assert reply.status == 400
    assert _tracebacks(caplog, capfd) == []


def _click_payload(fake, card, **changes):
    """A block_actions payload for the card's first button (Approve), with fields replaced or (None) removed."""
    approve = next(element for element in buttons(card) if element["action_id"] == "invite_approve")
    payload = {
        "type": "block_actions",
        "user": {"id": APPROVER, "username": "grace", "team_id": TEAM},
        "api_app_id": fake.app_id,
        "trigger_id": fake.issue_trigger_id(),
        "team": None,
        "enterprise": {"id": fake.enterprise_id, "name": "Org"},
        "is_enterprise_install": True,
        "container": {"type": "message", "message_ts": card["ts"], "channel_id": CHANNEL, "is_ephemeral": False},
        "channel": {"id": CHANNEL, "name": "invite-approvals"},
        "response_url": fake.new_response_url(channel=CHANNEL, user=APPROVER, message_ts=card["ts"]),
        "actions": [{"action_id": "invite_approve", "block_id": "b1", "type": "button", "value": approve["value"]}],
    }
    for key, value in changes.items():
        if value is None:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


MALFORMED_CLICKS = {
    "no actions": lambda p: {**p, "actions": []},
    "no user": lambda p: {k: v for k, v in p.items() if k != "user"},
    "a numeric user id": lambda p: {**p, "user": {"id": 12345, "team_id": TEAM}},
    "a numeric button value": lambda p: {**p, "actions": [{**p["actions"][0], "value": 7}]},
    "deny without a trigger_id": lambda p: {
        **{k: v for k, v in p.items() if k != "trigger_id"},
        "actions": [{**p["actions"][0], "action_id": "invite_deny"}],
    },
}


@pytest.mark.parametrize("mangle", MALFORMED_CLICKS.values(), ids=MALFORMED_CLICKS.keys())
def test_signed_but_malformed_clicks_change_nothing_and_crash_nothing(fake, bot, caplog, capfd, mangle):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()
    payload = mangle(_click_payload(fake, card))

    reply = bot.slack.post(urlencode({"payload": json.dumps(payload)}).encode(), content_type=FORM)
    bot.settle()

    assert reply.status in (200, 400)
    assert _tracebacks(caplog, capfd) == []
    assert fake.invite_request_status(request["id"]) == "pending"
    assert fake.calls("admin.inviteRequests.approve") == [] and fake.calls("views.open") == []


# -- against the real server: bodies bounded in size and in time --------------------------------------


def _address(events_url):
    host, port = urlsplit(events_url).netloc.rsplit(":", 1)
    return host, int(port)


def _status_line(sock):
    """The first line the server answered on a raw socket, or '' if it closed (or reset) without one."""
    sock.settimeout(15)
    try:
        return sock.recv(200).split(b"\r\n", 1)[0].decode()
    except OSError:
        return ""


def test_a_declared_or_growing_body_over_1_mb_is_413_and_never_logged(fake, serve_process):
    url = serve_process()
    address = _address(url)
    declared = socket.create_connection(address, timeout=15)
    declared.sendall(
        b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n"
        + b"{" + b" " * 65536
    )
    chunked = socket.create_connection(address, timeout=15)
    chunked.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")

    def send_chunks():
        chunk = b" " * 65536
        try:
            for _ in range(48):  # 3 MB, unless the server stops reading first
                chunked.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            chunked.sendall(b"0\r\n\r\n")
        except OSError:
            pass

    sender = threading.Thread(target=send_chunks, daemon=True)
    sender.start()
    marker = f"unsigned-{uuid.uuid4().hex}"
    unsigned = SlackSender(url, "not-the-secret", fake).post(
        json.dumps({"type": "event_callback", "note": marker}).encode(), content_type="application/json", sign=False
    )

    assert _status_line(declared).startswith("HTTP/1.1 413")
    assert _status_line(chunked).startswith("HTTP/1.1 413")
    assert unsigned.status == 401
    sender.join(timeout=15)
    declared.close()
    chunked.close()
    # The server still works, and nothing of the refused bodies reached its log.
    bot_sender = SlackSender(url, SIGNING_SECRET, fake)
    assert bot_sender.invite_requested(new_request(fake)).status == 200
    wait_for_card(fake, "ada@example.com")
    [process] = serve_process.processes
    stop_process(process)
    output = serve_process.output[url]
    output.wait_for_line("Shutting down")
    assert marker not in output.text()
    assert max(len(line) for line in output.text().splitlines()) < 10_000


def test_trickling_bodies_cannot_starve_health_checks_or_events(fake, serve_process):
    """40 clients sending a body a byte at a time (more than the server has threads): /healthz and events still answer."""
    url = serve_process()
    tricklers = []
    for _ in range(40):
        sock = socket.create_connection(_address(url), timeout=15)
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
        tricklers.append(sock)
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.2):  # the attack's pace, not a synchronisation
            for sock in tricklers:
                try:
                    sock.send(b" ")
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url.replace("/slack/events", "/healthz"), timeout=15) as health:
            assert health.status == 200
        request = new_request(fake)
        assert SlackSender(url, SIGNING_SECRET, fake).invite_requested(request).status == 200
        wait_for_card(fake, request["email"])
        assert time.monotonic() - started < 15
        answers = [_status_line(sock) for sock in tricklers]
        assert any(answer.startswith("HTTP/1.1 408") for answer in answers), answers
    finally:
        stop.set()
        for sock in tricklers:
            sock.close()


# -- Slack's auth.test failing at start-up loses no event ---------------------------------------------


def test_events_are_processed_while_auth_test_keeps_failing(fake, start_bot):
    """Bolt's own authorization would answer 200 "please reinstall" and drop the event; ours needs no auth.test."""
    fake.fail_next("auth.test", "internal_error", times=20)  # start-up, its retries, the first request's retry, more
    bot = start_bot()

    first, second = new_request(fake), new_request(fake, "grace@example.com")
    replies = [bot.slack.invite_requested(first), bot.slack.invite_requested(second)]

    assert [reply.status for reply in replies] == [200, 200]
    wait_for_card(fake, first["email"])
    wait_for_card(fake, second["email"])
    assert [call.error for call in fake.calls("auth.test")] == ["internal_error"] * len(fake.calls("auth.test"))
    bot.settle()


# -- a database that takes no writes --------------------------------------------------------------------


def _refuse_writes(engine):
    """From now on the bot's connections cannot write: SQLite opens its file read-only (as for a file it may not
    write), PostgreSQL sessions are read-only (as on a standby it fails over to). Returns the undo."""
    if engine.url.get_backend_name() == "sqlite":

        def read_only(_dialect, _record, cargs, cparams):
            cargs[:] = [f"file:{cargs[0]}?mode=ro"]
            cparams["uri"] = True

        sqlalchemy.event.listen(sqlalchemy.Engine, "do_connect", read_only)  # the bot's engines, its probe's too
        engine.dispose()

        def undo():
            sqlalchemy.event.remove(sqlalchemy.Engine, "do_connect", read_only)
            engine.dispose()

        return undo
    _standby(engine.url, True)
    return lambda: _standby(engine.url, False)


def _standby(url, read_only):
    """New sessions on the bot's database are read-only (or not), and the ones open now are ended, as in a failover."""
    admin = sqlalchemy.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    try:
        with admin.connect() as connection:
            setting = "SET default_transaction_read_only = on" if read_only else "RESET default_transaction_read_only"
            connection.exec_driver_sql(f'ALTER DATABASE "{url.database}" {setting}')
            connection.execute(
                sqlalchemy.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": url.database},
            )
    finally:
        admin.dispose()


def _health(bot):
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz"), timeout=15) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


NOT_RECORDED = "invitebot could not record this — its database is not writable; nothing was decided."


@both_databases
def test_while_the_database_takes_no_writes_people_are_told_and_events_are_kept(fake, bot, caplog):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()
    restore = _refuse_writes(bot.runtime.engine)

    assert _health(bot) == 503
    click = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    command = bot.slack.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
    later = new_request(fake, "grace@example.com")
    event = bot.slack.invite_requested(later, event_id="Ev0LATER001")

    assert click.status == 200
    [told] = fake.wait_for(lambda: [p for p in fake.response_posts() if NOT_RECORDED in json.dumps(p, ensure_ascii=False)])
    assert command.status == 200 and NOT_RECORDED in command.body
    assert event.status == 503  # so Slack delivers it again
    bot.settle()
    assert fake.calls("admin.inviteRequests.approve") == []
    assert fake.invite_request_status(request["id"]) == "pending"
    assert all("grace@example.com" not in card_text(message) for message in fake.messages(CHANNEL))

    restore()
    retry = bot.slack.invite_requested(later, event_id="Ev0LATER001", retry_num=1, retry_reason="http_error")

    assert retry.status == 200
    wait_for_card(fake, "grace@example.com")
    assert _health(bot) == 200
    bot.settle()
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []


def test_a_database_busy_with_other_writers_is_not_reported_unwritable(fake, bot):
    """SQLite: while decisions hold the write lock, the probe times out on it; that is busy, not read-only."""
    holder = sqlite3.connect(bot.runtime.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer, for longer than the probe waits
    try:
        assert _health(bot) == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
