"""The floor under any ack: 50 simultaneous signed clicks against apps that do nothing, under three front ends at once.

Run from the repository root: .venv/bin/python -m bench.front_end_floor [rounds]

Every front end runs as one gunicorn worker process, all of them started together, and each round fires 50 signed
block_actions at every server in turn (the order rotating from round to round), each click on its own connection, as
bench.ack_latency does; so a noisy moment on the machine falls on all of them alike.

Front ends:
- "gthread": gunicorn's threaded worker with 32 threads, what `invitebot serve` ran before;
- "buffering": app.main.front_end.BufferingWorker (asyncio and h11, 32 request threads), what it runs now;
- "uvicorn": uvicorn_worker.UvicornWorker, an event loop that runs ASGI apps on the loop itself (asyncio and h11 unless
  uvloop and httptools are installed: the header says which).
Apps:
- "plain": reads the body and answers 200; nothing of Slack's (a WSGI callable, or the same as an ASGI one for uvicorn);
- "Bolt ack": a Bolt App with a signing secret and one action listener that only acks (signature check, parsing,
  routing, the ack), with process_before_response as invitebot uses it, through slack_bolt's WSGI adapter, or its ASGI
  adapter (slack_bolt.adapter.asgi, which runs the sync App's dispatch on the loop) for uvicorn.
No database and no decision work: whatever invitebot does on top of this can only add to it. bench.ack_latency starts
the Bolt ack under the buffering worker (`serving`) beside `serve`, and sets their rounds side by side (`click_round`).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any, Awaitable, Callable, Iterator

from slack_sdk.signature import SignatureVerifier

from bench.harness import fire_raw_answers, percentile

CLICKS, ROUNDS, WARMUP = 50, 8, 2
SECRET = "front-end-floor"
START_TIMEOUT = 30.0


# -- the apps, loaded by gunicorn as bench.front_end_floor:<app>_<interface> -------------------------


def plain_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """Read the request and answer, as a do-nothing WSGI app."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


async def plain_asgi(
    scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    """Read the request and answer, as a do-nothing ASGI app."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _bolt_app() -> Any:
    """Bolt as invitebot uses it, with one listener that only acks."""
    from slack_bolt import App
    from slack_bolt.authorization import AuthorizeResult

    app = App(
        signing_secret=SECRET,
        authorize=lambda **_: AuthorizeResult(
            enterprise_id=None, team_id="T0FLOOR01", bot_token="xoxb-floor", bot_user_id="U0BOT", bot_id="B0BOT"
        ),
        process_before_response=True,
    )
    app.action("approve")(lambda ack: ack())
    return app


@functools.cache
def _bolt(interface: str) -> Any:
    """The Bolt app behind slack_bolt's WSGI or ASGI adapter."""
    if interface == "wsgi":
        from slack_bolt.adapter.wsgi import SlackRequestHandler as WsgiHandler

        return WsgiHandler(_bolt_app())
    from slack_bolt.adapter.asgi import SlackRequestHandler as AsgiHandler

    return AsgiHandler(_bolt_app())


def __getattr__(name: str) -> Any:
    """bolt_wsgi and bolt_asgi, built in the server that loads them only (Bolt is slow to import)."""
    if name in ("bolt_wsgi", "bolt_asgi"):
        return _bolt(name.split("_")[1])
    raise AttributeError(name)


# -- the servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontEnd:
    name: str
    worker: tuple[str, ...]  # gunicorn's arguments choosing the worker
    interface: str  # "wsgi" or "asgi"


GTHREAD = FrontEnd("gthread, 32 threads (serve before)", ("-k", "gthread", "--threads", "32"), "wsgi")
BUFFERING = FrontEnd("buffering (serve now)", ("-k", "app.main.front_end.BufferingWorker"), "wsgi")
UVICORN = FrontEnd("uvicorn (event loop)", ("-k", "uvicorn_worker.UvicornWorker"), "asgi")
FRONT_ENDS = (GTHREAD, BUFFERING, UVICORN)
APPS = {"plain": "plain", "bolt": "Bolt ack"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _click(n: int, port: int) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": "T0FLOOR01"},
        "user": {"id": "U0FLOOR01", "team_id": "T0FLOOR01"},
        "api_app_id": "A0FLOOR01",
        "container": {"type": "message", "message_ts": f"1.{n}", "channel_id": "C0FLOOR01"},
        "trigger_id": "1.2.3",
        "channel": {"id": "C0FLOOR01"},
        "actions": [{"action_id": "approve", "block_id": "b", "type": "button", "value": str(n), "action_ts": "1.0"}],
        "response_url": "http://127.0.0.1/",
    }
    body = ("payload=" + urllib.parse.quote(json.dumps(payload))).encode()
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    head = (
        f"POST /slack/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nX-Slack-Request-Timestamp: {stamp}\r\nX-Slack-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


def click_round(port: int, clicks: int = CLICKS, timeout: float = 30.0) -> list[float]:
    """`clicks` signed clicks at once, each on its own connection: every ack in seconds (AssertionError unless all 200)."""
    answers = fire_raw_answers("127.0.0.1", port, [_click(n, port) for n in range(clicks)], timeout)
    statuses = {answer.split(b" ", 2)[1] for _, answer in answers if answer.count(b" ") >= 2}
    assert statuses == {b"200"}, f"the floor on port {port} answered {statuses or 'nothing'}"
    return [ack for ack, _ in answers]


@contextmanager
def serving(front_end: FrontEnd, app: str) -> Iterator[int]:
    """One gunicorn (one worker) serving a do-nothing app; its port, once a click has been answered."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", *front_end.worker, "-w", "1"]
        + ["--no-control-socket", "--log-level", "error", f"bench.front_end_floor:{app}_{front_end.interface}"]
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                click_round(port, clicks=1, timeout=START_TIMEOUT)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError(f"{front_end.name} serving {app} did not answer within {START_TIMEOUT:.0f} s") from None
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- measuring --------------------------------------------------------------------------------------


@dataclass
class Floor:
    """One server's rounds: each round's p50 and p99 (the slowest of CLICKS) ack, in seconds."""

    p50s: list[float] = field(default_factory=list)
    p99s: list[float] = field(default_factory=list)

    def add(self, acks: list[float]) -> None:
        self.p50s.append(percentile(acks, 50))
        self.p99s.append(percentile(acks, 99))

    def p50(self) -> float:
        """The median round's p50."""
        return statistics.median(self.p50s)

    def p99(self) -> float:
        """The median round's p99."""
        return statistics.median(self.p99s)


def measure(rounds: int = ROUNDS, warmup: int = WARMUP) -> dict[tuple[FrontEnd, str], Floor]:
    """Every front end with every app, all serving at once; rounds interleaved over them, the first `warmup` not kept."""
    with ExitStack() as stack:
        ports = {(front_end, app): stack.enter_context(serving(front_end, app)) for front_end in FRONT_ENDS for app in APPS}
        floors = {key: Floor() for key in ports}
        keys = list(ports)
        for round_ in range(warmup + rounds):
            turn = round_ % len(keys)
            for key in keys[turn:] + keys[:turn]:
                acks = click_round(ports[key])
                if round_ >= warmup:
                    floors[key].add(acks)
    return floors


def table(floors: dict[tuple[FrontEnd, str], Floor]) -> list[str]:
    """The floors with each one's p50 and p99 as a multiple of the lowest p50 and p99 among them."""
    lowest50 = min(floor.p50() for floor in floors.values())
    lowest99 = min(floor.p99() for floor in floors.values())
    lines = [
        f"| front end (gunicorn, 1 worker process) | app | ack p50 / p99, {CLICKS} simultaneous (ms) | p50 / p99 as x lowest |",
        "| --- | --- | --- | --- |",
    ]
    for (front_end, app), floor in floors.items():
        lines.append(
            f"| {front_end.name} | {APPS[app]} | {floor.p50() * 1000:.1f} / {floor.p99() * 1000:.1f}"
            f" | {floor.p50() / lowest50:.2f}x / {floor.p99() / lowest99:.2f}x |"
        )
    return lines


def uvicorn_stack() -> str:
    """Which loop and HTTP parser uvicorn picks ('auto' takes uvloop and httptools when they are installed)."""
    loop = "uvloop" if find_spec("uvloop") else "asyncio"
    http = "httptools" if find_spec("httptools") else "h11"
    return f"uvicorn on {loop} + {http}"


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    print(
        f"front-end floor: {rounds} rounds (after {WARMUP} warm-up) of {CLICKS} simultaneous signed clicks, interleaved over"
        f" {len(FRONT_ENDS) * len(APPS)} servers; median round's p50 / p99; {uvicorn_stack()}; {os.cpu_count()} CPUs"
    )
    for line in table(measure(rounds)):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
