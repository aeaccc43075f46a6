"""Socket Mode: the stand-in's WebSocket behaves like Slack's, and a click over it decides exactly as over HTTP."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.sync.client import ClientConnection, connect

from app.main.socket_mode import CONNECTED
from app.sandbox import FakeSlack, Reply
from app.sandbox.sender import SocketSender
from app.store.models import InviteRequest, Lease
from tests.support.bots import settings_env, stop_process
from tests.support.cards import assert_approved_by_click, buttons, card_text, ephemerals_for, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, MANY_APPROVERS, OTHER_TEAM, TEAM, new_request

SOCKET_COMMAND = [sys.executable, "-m", "app", "socket"]
START_TIMEOUT = 30.0


# -- the stand-in's side ------------------------------------------------------------------------


def open_url(fake: FakeSlack, token: str | None = None) -> str:
    return WebClient(base_url=fake.api_url).apps_connections_open(app_token=token or fake.app_token)["url"]


@contextmanager
def hello_link(fake: FakeSlack) -> Iterator[ClientConnection]:
    """A connected link past its hello, as an app would hold it."""
    with connect(open_url(fake)) as link:
        assert json.loads(link.recv(timeout=3))["type"] == "hello"
        fake.wait_for(fake.socket_connected, message="the link was not registered")
        yield link


def test_connections_open_takes_only_the_app_level_token(fake):
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/link/\?ticket=[0-9a-f-]{36}", open_url(fake))
    for token, error in [
        (fake.bot_token, "not_allowed_token_type"),
        (fake.admin_token, "not_allowed_token_type"),
        ("xapp-1-A0OTHER-forged", "invalid_auth"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            open_url(fake, token)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as refused:
        WebClient(base_url=fake.api_url, token=fake.app_token).chat_postMessage(channel=CHANNEL, text="hi")
    assert refused.value.response["error"] == "not_allowed_token_type"


def test_a_ticket_opens_one_connection_which_starts_with_hello(fake):
    url = open_url(fake)
    with connect(url) as link:
        hello = json.loads(link.recv(timeout=3))
        assert hello["type"] == "hello"
        assert hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": fake.app_id}
        assert "debug_info" in hello
        fake.wait_for(fake.socket_connected)
        with connect(url) as reused:
            with pytest.raises(ConnectionClosed) as closed:
                reused.recv(timeout=3)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.POLICY_VIOLATION
    fake.wait_for(lambda: not fake.socket_connected(), message="the closed link still counts as connected")


def test_a_bad_ticket_is_closed_without_hello(fake):
    base = open_url(fake).split("?", 1)[0]
    for url in (f"{base}?ticket=forged", base):
        with connect(url) as link:
            with pytest.raises(ConnectionClosed) as closed:
                link.recv(timeout=3)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == CloseCode.POLICY_VIOLATION
    assert not fake.socket_connected()


def test_deliver_returns_the_payload_of_the_ack_with_the_same_envelope_id(fake):
    seen = []

    def app(link: ClientConnection) -> None:
        envelope = json.loads(link.recv(timeout=3))
        seen.append(envelope)
        link.send(json.dumps({"envelope_id": "someone-elses"}))
        link.send("not json")
        link.send(json.dumps({"envelope_id": envelope["envelope_id"], "payload": {"text": "ok"}}))

    with hello_link(fake) as link:
        answering = threading.Thread(target=app, args=(link,))
        answering.start()
        answer = fake.deliver_socket("slash_commands", {"command": "/invites", "text": "help"})
        answering.join()

    assert answer == {"text": "ok"}
    [envelope] = seen
    assert set(envelope) == {"envelope_id", "type", "payload", "accepts_response_payload"}
    assert (envelope["type"], envelope["payload"], envelope["accepts_response_payload"]) == (
        "slash_commands",
        {"command": "/invites", "text": "help"},
        True,
    )


def test_no_connection_or_no_ack_in_time_is_an_assertion_error(fake):
    with pytest.raises(AssertionError, match="no app is connected"):
        fake.deliver_socket("interactive", {"type": "block_actions"})
    with hello_link(fake) as link:
        with pytest.raises(AssertionError, match="no ack for the events_api envelope"):
            fake.deliver_socket("events_api", {"type": "event_callback"}, timeout=0.3)
        envelope = json.loads(link.recv(timeout=3))
    assert (envelope["retry_attempt"], envelope["retry_reason"], envelope["accepts_response_payload"]) == (0, "", False)


def test_slack_sdks_own_socket_mode_client_connects_and_acks(fake):
    client = SocketModeClient(app_token=fake.app_token, web_client=WebClient(base_url=fake.api_url))
    client.socket_mode_request_listeners.append(
        lambda client, request: client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload={"type": request.type})
        )
    )
    try:
        client.connect()
        fake.wait_for(fake.socket_connected, message="slack_sdk's client did not connect")
        assert fake.deliver_socket("interactive", {"type": "block_actions"}) == {"type": "interactive"}
    finally:
        client.close()


# -- invitebot over Socket Mode -----------------------------------------------------------------


@dataclass
class SocketBot:
    process: subprocess.Popen[str]
    slack: SocketSender
    database_url: str

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Read what the process recorded."""
        engine = create_engine(self.database_url)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()


def socket_env(fake: FakeSlack, database_url: str, app_token: str) -> dict[str, str]:
    """The process's environment: no signing secret, since Socket Mode has no signatures."""
    env = {**os.environ, **settings_env(fake, database_url), "SLACK_APP_TOKEN": app_token}
    del env["SLACK_SIGNING_SECRET"]
    return env


def test_a_refused_app_token_stops_start_up_with_one_line(fake, database_url):
    env = socket_env(fake, database_url, "xapp-1-A0OTHER-forged")

    result = subprocess.run(SOCKET_COMMAND, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 1
    assert "invitebot: Slack refused to open a Socket Mode connection: invalid_auth" in result.stderr
    assert CONNECTED not in result.stdout


@pytest.fixture
def socket_bot(fake: FakeSlack, database_url: str) -> Iterator[SocketBot]:
    """A real invitebot process on Socket Mode, connected and past its first sync."""
    env = socket_env(fake, database_url, fake.app_token)
    process = subprocess.Popen(SOCKET_COMMAND, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read, args=(process, lines), daemon=True).start()
    try:
        _wait_for_line(lines, CONNECTED)
        fake.wait_for(fake.socket_connected, message="the stand-in has no link from the process")
        # The first sync pass runs at start; once both workspaces are listed, new requests reach us only as events.
        fake.wait_for(lambda: {c.params.get("team_id") for c in fake.calls("admin.inviteRequests.list")} >= {TEAM, OTHER_TEAM})
        yield SocketBot(process, SocketSender(fake), database_url)
    finally:
        stop_process(process)


def _read(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.put(line)
    lines.put(None)


def _wait_for_line(lines: queue.Queue[str | None], wanted: str) -> None:
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {wanted!r} within {START_TIMEOUT}s:\n" + "".join(seen)) from None
        if line is None:
            raise AssertionError(f"the process exited before {wanted!r}:\n" + "".join(seen))
        seen.append(line)
        if wanted in line:
            return


def posted_card(fake: FakeSlack, bot: SocketBot, email: str = "ada@example.com") -> tuple[dict, dict]:
    request = new_request(fake, email)
    reply = bot.slack.invite_requested(request)
    assert (reply.status, reply.body) == (200, "")
    return request, wait_for_card(fake, email)


def test_a_click_over_socket_mode_decides_exactly_as_over_http(fake, socket_bot):
    request, card = posted_card(fake, socket_bot)
    assert [b["action_id"] for b in buttons(card)] == ["invite_approve", "invite_deny"]

    reply = socket_bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    assert (reply.status, reply.body) == (200, "")
    assert_approved_by_click(fake, request, card, APPROVER)
    assert len(fake.messages(CHANNEL)) == 1
    with socket_bot.session() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == ("approved", APPROVER, "button")


def test_ten_concurrent_clicks_are_acked_within_3s_and_call_slack_once(fake, socket_bot):
    request, card = posted_card(fake, socket_bot)
    fake.set_latency("admin.inviteRequests.approve", 5)
    clickers = MANY_APPROVERS[:10]

    def click(user: str) -> Reply:
        return socket_bot.slack.click(
            user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve", as_seen=card
        )

    with ThreadPoolExecutor(len(clickers)) as pool:
        replies = list(pool.map(click, clickers))

    # deliver_socket already fails without an ack within 3 s; the elapsed times say so once more.
    assert all(reply.status == 200 and reply.elapsed < 3 for reply in replies), [r.elapsed for r in replies]
    decided = wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    fake.wait_for(lambda: all(ephemerals_for(fake, user) for user in clickers), message="a clicker got no answer")
    assert len(fake.calls("admin.inviteRequests.approve")) == 1
    winner = fake.calls("admin.inviteRequests.approve")[0]
    assert winner.params["invite_request_id"] == request["id"]
    assert re.search(r"Approved by <@(W0MANY\d{4})>", card_text(decided))


def test_slash_command_help_is_answered_in_the_ack(fake, socket_bot):
    reply = socket_bot.slack.slash(text="help", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)

    assert reply.status == 200
    assert "/invites approve" in json.loads(reply.body)["text"]


def test_sigterm_finishes_in_flight_work_releases_the_lease_and_exits_0(fake, socket_bot):
    request, card = posted_card(fake, socket_bot)
    fake.set_latency("admin.inviteRequests.approve", 4)  # longer than closing the socket takes
    socket_bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")

    socket_bot.process.send_signal(signal.SIGTERM)

    assert socket_bot.process.wait(timeout=30) == 0
    assert fake.invite_request_status(request["id"]) == "approved"
    assert f"Approved by <@{APPROVER}>" in card_text(fake.message(CHANNEL, card["ts"]))
    fake.wait_for(lambda: not fake.socket_connected(), message="the app's link is still open")
    with socket_bot.session() as session:
        assert session.scalars(select(Lease)).all() == []
