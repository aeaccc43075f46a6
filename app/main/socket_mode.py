"""`invitebot socket`: the same Bolt app over Socket Mode, for hosts Slack cannot reach over HTTP."""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import ExitStack
from typing import Any

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin.client import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from app import logs
from app.config import Settings
from app.main.container import build_runtime
from app.main.work import start_loops
from app.metrics import ACK_LATENCY
from app.slack.bolt import build_app
from app.store.migrate import upgrade_to_head

CONNECTED = "invitebot connected to Slack over Socket Mode"


def run_socket_mode(settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT, then let go in order: the socket, the sync lease, in-flight work. Exit 0."""
    settings.require("SLACK_APP_TOKEN")  # ConfigError when it is missing
    assert settings.SLACK_APP_TOKEN is not None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with ExitStack() as cleanup:  # unwinds last-in first-out
            runtime = build_runtime(settings)
            cleanup.callback(runtime.close)
            upgrade_to_head(runtime.engine)
            runtime.start()
            start_loops(runtime, cleanup)
            # app.client already points at SLACK_API_URL, so apps.connections.open goes there too.
            handler = ObservedSocketModeHandler(build_app(runtime), app_token=settings.SLACK_APP_TOKEN.get_secret_value())
            cleanup.callback(handler.close)
            handler.client.message_listeners.append(_announce_hello)
            handler.connect()
            stop.wait()
    except SlackApiError as exc:
        print(f"invitebot: Slack refused to open a Socket Mode connection: {exc.response['error']}", file=sys.stderr)
        return 1
    return 0


class ObservedSocketModeHandler(SocketModeHandler):
    """Bolt's handler, giving each envelope a request id and an ack-latency sample, as the HTTP path does."""

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        logs.new_request_id()
        started = time.perf_counter()
        try:
            super().handle(client, req)
        finally:
            ACK_LATENCY.observe(time.perf_counter() - started)


def _announce_hello(_client: Any, message: dict[str, Any], _raw: str | None) -> None:
    """Slack says hello on every new connection; that is when envelopes can arrive."""
    if message.get("type") == "hello":
        print(CONNECTED, flush=True)
