"""What every scenario is built from: posting cards, firing concurrent requests, reading the stand-in and the serve process."""

from __future__ import annotations

import json
import math
import os
import selectors
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from slack_sdk.signature import SignatureVerifier

from app.sandbox import FakeSlack, SlackSender
from app.sandbox.sender import Reply
from app.slack.ids import ActionId
from tests.support.bots import SIGNING_SECRET
from tests.support.cards import card_text, wait_for_card
from tests.support.stand_in import APPROVER, CHANNEL, TEAM, new_request

APPROVE, UPDATE, EPHEMERAL = "admin.inviteRequests.approve", "chat.update", "chat.postEphemeral"
ACK_LIMIT = 3.0  # Slack shows the clicker an error when the ack takes longer
APPROVED = "Approved by <@"  # how a card names its approver
POLL = 0.25  # seconds between looks at the call log; timings come from Call.at, not from when we look
T = TypeVar("T")


# -- numbers ----------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p99 of 50 samples is the slowest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, one decimal."""
    return f"{seconds * 1000:.1f}"


def spread(values: list[float]) -> str:
    """p50 / p99 / max of durations in seconds, as milliseconds."""
    if not values:
        return "n/a"
    return f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))} / {ms(max(values))} ms"


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call took, and what it returned."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """check()'s first truthy value, looked for every POLL seconds; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(POLL)
    return found


# -- requests to the bot ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request to the bot: what it was about (a card's ts, a command), when it left (time.time()), its answer."""

    key: str
    sent_at: float
    ack: float
    status: int


Build = Callable[[SlackSender], Reply]  # one request, made through a sender: sender.click(...), sender.slash(...)


class Recorder(SlackSender):
    """Builds requests exactly as SlackSender sends them (signed, same headers), and keeps them instead of sending."""

    def __init__(self, bot_url: str, fake: FakeSlack) -> None:
        super().__init__(bot_url, SIGNING_SECRET, fake)
        self._signer = SignatureVerifier(SIGNING_SECRET)
        self.built: list[tuple[bytes, dict[str, str]]] = []

    def post(
        self,
        body: bytes,
        *,
        content_type: str,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> Reply:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        sent = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self._signer.generate_signature(timestamp=ts, body=body) or "",
        }
        self.built.append((body, {**sent, **(headers or {})}))
        return Reply(0, "", {}, 0.0)

    def build(self, make: Build) -> tuple[bytes, dict[str, str]]:
        make(self)
        return self.built.pop()


def fire(sender: SlackSender, requests: list[tuple[str, Build]], timeout: float = 30.0) -> list[Sent]:
    """Send every request at the same moment, as Slack would from many machines at once.

    Every request is built and signed first, and every connection opened first; then one thread writes them all,
    back to back, and reads the answers as they come. A request's ack runs from its write to the end of its answer.
    Nothing of the client's own work (payloads, signatures, threads) is inside the measured time.
    """
    recorder = Recorder(sender.bot_url, sender.fake)
    built = [(key, *recorder.build(make)) for key, make in requests]
    url = urlsplit(sender.bot_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    raws = []
    for _, body, headers in built:
        head = f"POST {url.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        raws.append((head + "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n").encode() + body)
    answered = _exchange(host, port, raws, timeout)
    return [Sent(key, sent_at, ack, _status(answer)) for (key, _, _), (sent_at, ack, answer) in zip(built, answered)]


def fire_raw(host: str, port: int, raws: list[bytes], timeout: float = 30.0) -> list[float]:
    """fire() for requests already written out as bytes: each one's ack time, in seconds."""
    return [ack for _, ack, _ in _exchange(host, port, raws, timeout)]


def fire_raw_answers(host: str, port: int, raws: list[bytes], timeout: float = 30.0) -> list[tuple[float, bytes]]:
    """fire_raw(), with each ack's answer as it came."""
    return [(ack, answer) for _, ack, answer in _exchange(host, port, raws, timeout)]


def _exchange(host: str, port: int, raws: list[bytes], timeout: float) -> list[tuple[float, float, bytes]]:
    """Open a connection per request, write them all back to back, read every answer: (sent at, ack, answer) each."""
    connections = [socket.create_connection((host, port), timeout=timeout) for _ in raws]
    selector = selectors.DefaultSelector()
    try:
        started: dict[socket.socket, tuple[float, float]] = {}
        answers: dict[socket.socket, bytearray] = {}
        for connection, raw in zip(connections, raws):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            started[connection] = (time.time(), time.perf_counter())
            connection.sendall(raw)
            connection.setblocking(False)
            selector.register(connection, selectors.EVENT_READ)
            answers[connection] = bytearray()
        finished: dict[socket.socket, float] = {}
        deadline = time.monotonic() + timeout
        while len(finished) < len(connections):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(connections) - len(finished)} of {len(connections)} requests unanswered in {timeout:.0f} s"
                )
            for ready, _ in selector.select(timeout=1.0):
                connection = ready.fileobj
                assert isinstance(connection, socket.socket)
                chunk = connection.recv(65536)
                if chunk:
                    answers[connection] += chunk
                else:  # gunicorn waits for our side to close too (in its main loop), so close at once
                    finished[connection] = time.perf_counter()
                    selector.unregister(connection)
                    connection.close()
    finally:
        selector.close()
        for connection in connections:
            connection.close()
    return [(started[c][0], finished[c] - started[c][1], bytes(answers[c])) for c in connections]


def _status(answer: bytes) -> int:
    """The status code of a raw HTTP answer; 0 when there was none."""
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0


def approve_click(ts: str) -> Build:
    return lambda sender: sender.click(user_id=APPROVER, channel=CHANNEL, message_ts=ts, action_id=ActionId.APPROVE.value)


def invites_command() -> Build:
    """`/invites` (the pending list): its ack records the command's receipt in the database first."""
    return lambda sender: sender.slash(text="", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)


@dataclass(frozen=True)
class Card:
    email: str
    request_id: str
    ts: str


def post_requests(fake: FakeSlack, sender: SlackSender, label: str, count: int) -> list[Card]:
    """Create `count` pending requests, deliver each as a signed event, and wait for their cards."""
    requests = [new_request(fake, f"{label}-{n:02d}@example.com") for n in range(count)]
    for request in requests:
        reply = sender.invite_requested(request)
        assert reply.status == 200, f"invite_requested for {request['email']} answered {reply.status}"
    # At the default card pace (50 a minute) the last of `count` cards is posted count x 1.2 s after the first, and
    # events ingested side by side may take their slots in any order.
    timeout = 30 + 1.5 * count
    return [Card(r["email"], r["id"], wait_for_card(fake, r["email"], timeout=timeout)["ts"]) for r in requests]


def post_cards(fake: FakeSlack, sender: SlackSender, label: str, count: int) -> dict[str, str]:
    """post_requests as email -> card ts."""
    return {card.email: card.ts for card in post_requests(fake, sender, label, count)}


# -- what the stand-in saw --------------------------------------------------------------------------


def has_actions(blocks: list[dict[str, Any]] | None) -> bool:
    """Whether a card still shows an actions block (its buttons)."""
    return any(block.get("type") == "actions" for block in blocks or [])


def shows_approval(blocks: list[dict[str, Any]] | None) -> bool:
    """A card that says who approved it and has no buttons left: what the clicker waits to see."""
    return not has_actions(blocks) and APPROVED in card_text({"blocks": blocks or []})


def updated(fake: FakeSlack, card_ts: list[str]) -> dict[str, float]:
    """Card ts -> Call.at of the first successful chat.update that showed the approval (for the cards that have one)."""
    wanted, found = set(card_ts), {}
    for call in fake.calls(UPDATE):
        ts = call.params.get("ts")
        if call.error is None and ts in wanted and ts not in found and shows_approval(call.params.get("blocks")):
            found[ts] = call.at
    return found


def all_updated(fake: FakeSlack, card_ts: list[str]) -> dict[str, float] | None:
    found = updated(fake, card_ts)
    return found if len(found) == len(set(card_ts)) else None


def answers(fake: FakeSlack) -> list[str]:
    """Every ephemeral text the approver has been shown in the approvals channel, oldest first."""
    return [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=APPROVER)]


def all_answered(fake: FakeSlack, emails: list[str]) -> bool:
    """Whether the approver has had an ephemeral answer naming each email (the bot's last call per click)."""
    texts = answers(fake)
    return all(any(email in text for text in texts) for email in emails)


def calls_since(fake: FakeSlack, started: float) -> Counter[str]:
    return Counter(call.method for call in fake.calls() if call.at >= started)


# -- the serve process ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """Resident memory in KiB of serve's web process and its worker process (peak and now) and of the arbiter (now)."""

    worker_peak: int
    worker_now: int
    arbiter_now: int
    background_peak: int = 0
    background_now: int = 0

    def text(self) -> str:
        mib = 1024
        return (
            f"web {self.worker_peak / mib:.1f} / {self.worker_now / mib:.1f} MiB; worker {self.background_peak / mib:.1f}"
            f" / {self.background_now / mib:.1f} MiB; arbiter {self.arbiter_now / mib:.1f} MiB"
        )


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (gunicorn's workers of its arbiter)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # the field after the state, past the command in parentheses
            found.append(int(entry))
    return found


def _is_work_child(pid: int) -> bool:
    """Whether `pid` is serve's `invitebot work` child rather than a gunicorn worker."""
    try:
        return b"work" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


@dataclass(frozen=True)
class Serve:
    """One running `invitebot serve`: its events URL and its gunicorn arbiter's pid."""

    url: str
    pid: int

    def worker(self) -> int:
        """The one gunicorn worker, the web process (forked after the arbiter announced its address, so it may take a
        moment)."""
        return self._child(web=True)

    def background(self) -> int:
        """The worker process serve starts beside its web process (`invitebot work`): outbox, sync, reminders."""
        return self._child(web=False)

    def processes(self) -> list[int]:
        """Every process a click's work runs in: the web process and the worker process."""
        return [self.worker(), self.background()]

    def _child(self, *, web: bool) -> int:
        def found() -> list[int]:
            return [pid for pid in children(self.pid) if _is_work_child(pid) != web]

        pids = poll(found, 30, f"the {'web' if web else 'worker'} process of serve {self.pid}")
        assert len(pids) == 1, f"serve {self.pid} has {'web' if web else 'worker'} processes {pids}, not one"
        return pids[0]

    def memory(self) -> Memory:
        web, work = self.worker(), self.background()
        return Memory(
            _status_kib(web, "VmHWM"), _status_kib(web, "VmRSS"), _status_kib(self.pid, "VmRSS"),
            _status_kib(work, "VmHWM"), _status_kib(work, "VmRSS"),
        )

    def wait_for_first_sync(self, timeout: float = 60.0) -> None:
        """Until /readyz reports a finished sync pass: cards posted while the start-up pass runs can be closed by it.

        (A pass lists Slack's pending requests, then the open rows; a request that arrived in between is in the second
        list only, and is taken for one Slack no longer has.) Returns at once when /readyz does not say.
        """
        url = self.url.rsplit("/slack/events", 1)[0] + "/readyz"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def synced() -> bool:
            try:
                with opener.open(url, timeout=5) as response:
                    body = response.read()
            except urllib.error.HTTPError as answer:  # 503 while not ready: the body still says why
                body = answer.read()
            except OSError:
                return True
            try:
                detail = json.loads(body)["background"]["sync"]["detail"]
            except (ValueError, KeyError, TypeError):
                return True
            return "no sync has run yet" not in str(detail)

        poll(synced, timeout, f"serve {self.pid}: a first sync pass")

    def metric(self, name: str) -> float | None:
        """One unlabelled sample from the process's /metrics, or None when it has none by that name."""
        url = self.url.rsplit("/slack/events", 1)[0] + "/metrics"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
        return None


def start_serve(start: Any, **overrides: str) -> Serve:
    """Start one `invitebot serve` through tests.support.bots.serve_processes' start(); wait until it listens."""
    url = start(**overrides)
    serve = Serve(url, start.processes[-1].pid)
    serve.wait_for_first_sync()
    return serve
