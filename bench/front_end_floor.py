"""The floor under any ack: 50 simultaneous signed clicks against apps that do nothing, under `serve`'s own front end.

Run from the repository root: .venv/bin/python -m bench.front_end_floor

Each row serves one app with one of gunicorn's workers (the buffering one, app.main.front_end, is what `invitebot serve`
runs; gthread, with 32 threads, is what it ran before) and fires rounds of 50 signed block_actions at it at once, each
on its own connection, as bench.ack_latency does:
- "plain WSGI": reads the body and answers 200; nothing of Slack's.
- "Bolt ack": a Bolt App with a signing secret and one action listener that only acks (signature check, parsing,
  routing, the ack), with process_before_response as invitebot uses it.
No database and no decision work: whatever invitebot does on top of this can only add to it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

from slack_sdk.signature import SignatureVerifier

from bench.harness import fire_raw, percentile

CLICKS, ROUNDS, WARMUP = 50, 8, 2
SECRET = "front-end-floor"


def plain(environ, start_response):  # type: ignore[no-untyped-def]
    """Read the request and answer, as a do-nothing WSGI app."""
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


def _bolt():  # type: ignore[no-untyped-def]
    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_bolt.authorization import AuthorizeResult

    app = App(
        signing_secret=SECRET,
        authorize=lambda **_: AuthorizeResult(enterprise_id=None, team_id="T0FLOOR01", bot_token="xoxb-floor", bot_user_id="U0BOT", bot_id="B0BOT"),
        process_before_response=True,
    )
    app.action("approve")(lambda ack: ack())
    return SlackRequestHandler(app)


bolt = _bolt() if os.environ.get("FLOOR_APP") == "bolt" else None


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


WORKERS = {"buffering (serve)": ["-k", "app.main.front_end.BufferingWorker"], "gthread": ["-k", "gthread", "--threads", "32"]}


def measure(app: str, worker: str, workers: int) -> tuple[float, float]:
    """Median over rounds of the p50 and the p99 (the slowest of 50) ack, in ms."""
    port = _free_port()
    target = "bench.front_end_floor:" + ("bolt" if app == "bolt" else "plain")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", *WORKERS[worker],
         "-w", str(workers), "--log-level", "error", target],
        env={**os.environ, "FLOOR_APP": app},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        p50s, p99s = [], []
        for round_ in range(WARMUP + ROUNDS):
            times = fire_raw("127.0.0.1", port, [_click(n, port) for n in range(CLICKS)])
            if round_ >= WARMUP:
                p50s.append(percentile(times, 50))
                p99s.append(percentile(times, 99))
        return percentile(p50s, 50) * 1000, percentile(p99s, 50) * 1000
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    print(f"| gunicorn worker | processes | app | ack p50 / p99, {CLICKS} simultaneous (ms) |")
    print("| --- | --- | --- | --- |")
    for worker in WORKERS:
        for workers in (1, 2):
            for app, label in (("plain", "plain WSGI"), ("bolt", "Bolt ack")):
                p50, p99 = measure(app, worker, workers)
                print(f"| {worker} | {workers} | {label} | {p50:.1f} / {p99:.1f} |")


if __name__ == "__main__":
    main()
