"""Acks while clients that never finish a request hold connections, under gunicorn's gthread worker and under the
buffering worker `invitebot serve` runs (app.main.front_end).

Run from the repository root: .venv/bin/python -m bench.slow_clients

Each row serves bench.front_end_floor's do-nothing WSGI app. tests.support.slow_clients holds N connections, 50 from
each of the addresses 127.0.0.2, 127.0.0.3, … (half stopping mid-header, half mid-body, each opened again when the
server cuts it) while rounds of 10 signed clicks, each on its own connection from 127.0.0.1, are fired at once, four
rounds a second, for ROUND_SECONDS. Each click is counted as answered 200, answered otherwise (503: no room), or not
answered within 5 s.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bench.front_end_floor import _click, _free_port
from bench.harness import fire_raw, fire_raw_answers, percentile
from tests.support.slow_clients import SlowClients

WORKERS = {"gthread": ["-k", "gthread", "--threads", "32"], "buffering (serve)": ["-k", "app.main.front_end.BufferingWorker"]}
# 1000 is serve's default INVITES_HTTP_CONNECTIONS: at it, the clicks find no room.
ROWS = (("gthread", 100), ("buffering (serve)", 100), ("buffering (serve)", 900), ("buffering (serve)", 1000))
CLICKS, ROUND_SECONDS, ANSWER_SECONDS, PACE = 10, 12.0, 5.0, 0.25
PER_ADDRESS = 50


def _started(worker: list[str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-b",
            f"127.0.0.1:{port}",
            *worker,
            "--log-level",
            "error",
            "bench.front_end_floor:plain_wsgi",
        ]
    )
    deadline = time.monotonic() + 30
    while True:  # the arbiter listens before its worker has booted: wait for an answer, not a connection
        try:
            fire_raw("127.0.0.1", port, [_click(0, port)], timeout=1)
            return server
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def measure(worker: list[str], slow: int) -> tuple[list[float], int, int, int]:
    """Every click answered 200: its ack in seconds; the clicks left unanswered, those answered otherwise (503), and how
    often the server cut a slow client."""
    port = _free_port()
    server = _started(worker, port)
    acks: list[float] = []
    unanswered = refused = 0
    try:
        sources = tuple(f"127.0.0.{2 + n}" for n in range(max(1, slow // PER_ADDRESS)))
        with SlowClients(("127.0.0.1", port), slow, sources) as clients:
            ends = time.monotonic() + ROUND_SECONDS
            while time.monotonic() < ends:
                started = time.monotonic()
                try:
                    answers = fire_raw_answers(
                        "127.0.0.1", port, [_click(n, port) for n in range(CLICKS)], timeout=ANSWER_SECONDS
                    )
                except (AssertionError, OSError):
                    unanswered += CLICKS
                    answers = []
                acks += [ack for ack, answer in answers if answer.startswith(b"HTTP/1.1 200")]
                refused += sum(1 for _, answer in answers if not answer.startswith(b"HTTP/1.1 200"))
                time.sleep(max(0.0, PACE - (time.monotonic() - started)))  # the load's pace, not a synchronisation
            return acks, unanswered, refused, clients.reopened
    finally:
        server.kill()
        server.wait(timeout=30)


def main() -> None:
    print(
        f"| worker | slow clients | clicks: 200 / other answer / none in {ANSWER_SECONDS:g} s | ack p50 / p99 / max of the 200s (ms) "
        f"| slow clients cut in {ROUND_SECONDS:g} s |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, slow in ROWS:
        acks, unanswered, refused, cut = measure(WORKERS[name], slow)
        spread = " / ".join(f"{1000 * v:.1f}" for v in (percentile(acks, 50), percentile(acks, 99), max(acks))) if acks else "n/a"
        print(f"| {name} | {slow} | {len(acks)} / {refused} / {unanswered} | {spread} | {cut} |")


if __name__ == "__main__":
    main()
