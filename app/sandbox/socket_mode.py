"""Socket Mode's WebSocket side of the stand-in: apps.connections.open tickets in, envelopes out, acks back."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.sync.server import ServerConnection, serve

from app.sandbox.state import SlackState

KINDS = frozenset({"events_api", "interactive", "slash_commands"})
# Slack takes a payload in the ack only where the app can answer with one: commands, modal submissions, options.
ANSWERABLE_INTERACTIONS = frozenset({"view_submission", "block_suggestion"})


class SocketModeServer:
    """A WebSocket server on 127.0.0.1 that accepts each ticket once and hands envelopes to the newest link."""

    def __init__(self, state: SlackState) -> None:
        self._state = state
        self._links: list[ServerConnection] = []  # guarded by state.lock
        self._server = serve(self._serve_link, "127.0.0.1", 0, compression=None)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack-socket", daemon=True)

    def start(self) -> SocketModeServer:
        port = self._server.socket.getsockname()[1]
        with self._state.lock:
            self._state.socket_url = f"ws://127.0.0.1:{port}/link/"
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every link (code 1001, going away) and stop listening."""
        self._server.shutdown()
        self._thread.join()

    def connected(self) -> bool:
        with self._state.lock:
            return bool(self._links)

    def deliver(
        self, kind: str, payload: dict[str, Any], timeout: float, retry_attempt: int, retry_reason: str
    ) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown envelope type {kind!r}")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind == "slash_commands" or payload.get("type") in ANSWERABLE_INTERACTIONS,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        with self._state.lock:
            if not self._links:
                raise AssertionError("no app is connected over Socket Mode")
            link = self._links[-1]
        try:
            link.send(json.dumps(envelope))
        except ConnectionClosed:
            raise AssertionError("the app's Socket Mode connection closed before the envelope went out") from None
        ack = self._state.wait_for(
            lambda: self._state.socket_acks.get(envelope_id),
            timeout,
            f"no ack for the {kind} envelope {envelope_id} within {timeout}s",
        )
        return dict(ack.get("payload") or {})

    def _serve_link(self, link: ServerConnection) -> None:
        """One app connection: check its ticket, say hello, then record every ack until it goes away."""
        assert link.request is not None  # the handshake has happened
        ticket = parse_qs(urlsplit(link.request.path).query).get("ticket", [""])[0]
        with self._state.lock:
            valid = ticket in self._state.socket_tickets
            self._state.socket_tickets.discard(ticket)
            count = len(self._links) + 1
        if not valid:
            link.close(CloseCode.POLICY_VIOLATION, "invalid ticket")
            return
        try:
            link.send(json.dumps(self._hello(count)))
            with self._state.lock:
                self._links.append(link)
                self._state.changed()
            for message in link:
                self._record_ack(message)
        except ConnectionClosed:
            pass
        finally:
            with self._state.lock:
                if link in self._links:
                    self._links.remove(link)
                self._state.changed()

    def _hello(self, num_connections: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {"host": "applink-sandbox", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self._state.app_id},
        }

    def _record_ack(self, message: str | bytes) -> None:
        """Acks name their envelope; anything else an app sends is ignored, as Slack does."""
        try:
            ack = json.loads(message)
        except ValueError:
            return
        if isinstance(ack, dict) and isinstance(ack.get("envelope_id"), str):
            with self._state.lock:
                self._state.socket_acks.setdefault(ack["envelope_id"], ack)
                self._state.changed()
