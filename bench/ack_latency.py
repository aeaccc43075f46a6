"""`make bench`: ack latency, click-to-card time, behaviour under slow and rate-limited Slack, and memory, as one table.

Run from the repository root: .venv/bin/python -m bench.ack_latency (bench/README.md describes every line).
"""

from __future__ import annotations

import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from app.config import Settings
from app.sandbox import FakeSlack, SlackSender
from bench import backlog, bulk_pace, replica_clicks, scenarios
from bench.harness import Serve, start_serve
from bench.report import Results, show
from tests.support.bots import SIGNING_SECRET, serve_processes
from tests.support.stand_in import CHANNEL, running_fake

# Per-workspace pacing of admin calls in the bot. Scenarios 1-3 set it high so that pacing does not dominate them;
# scenario 4 runs at the product's defaults (the tests' settings pace nothing). A build without the settings ignores
# the variables (unknown ones are not read).
PACING = "INVITES_ADMIN_CALLS_PER_MINUTE"
FAST_PACING = "6000"
DEFAULT_PACES = {PACING: "20", "INVITES_CARD_POSTS_PER_MINUTE": "50"}


@contextmanager
def bot(**overrides: str) -> Iterator[tuple[FakeSlack, SlackSender, Serve]]:
    """A fresh stand-in, a temporary SQLite database and one `invitebot serve`, all cleaned up even on failure."""
    with (
        tempfile.TemporaryDirectory(prefix="invitebot-bench-") as tmp,
        running_fake() as fake,
        serve_processes(fake, f"sqlite:///{Path(tmp) / 'invitebot.db'}") as start,
    ):
        serve = start_serve(start, **overrides)
        yield fake, SlackSender(serve.url, SIGNING_SECRET, fake), serve


def attempt(results: Results, label: str, run: Callable[[], Any]) -> Any:
    """Run one scenario; a deadline it missed is recorded as a failure, and the other scenarios still run."""
    try:
        return run()
    except AssertionError as exc:
        results.errors.append(f"{label}: {exc}")
        return None


def measure() -> Results:
    results = Results()
    with bot(**{PACING: FAST_PACING}) as (fake, sender, serve):
        results.first = attempt(results, "first burst", lambda: scenarios.concurrent_round(fake, sender, "first"))
        results.steady = attempt(results, "steady", lambda: scenarios.concurrent_round(fake, sender, "steady"))
        if results.steady is not None:
            card = fake.message(CHANNEL, results.steady.clicks[0].key)
            results.standin = attempt(results, "stand-in path", lambda: scenarios.standin_path(fake, card))
        results.single = attempt(results, "one at a time", lambda: scenarios.one_at_a_time(fake, sender))
        results.slow = attempt(results, "slow Slack", lambda: scenarios.queued_behind_slow_slack(fake, sender, serve))
        results.memory_fast = serve.memory()
    with bot(**DEFAULT_PACES) as (fake, sender, serve):
        results.tier2 = attempt(results, "tier 2 burst", lambda: scenarios.tier2_burst(fake, sender))
        results.memory_tier2 = serve.memory()
    results.more += backlog.rows(attempt(results, "backlog sync", backlog.measure))
    results.more += bulk_pace.rows(attempt(results, "bulk approve", bulk_pace.measure))
    results.more += replica_clicks.rows(attempt(results, "clicks over replicas", replica_clicks.measure))
    return results


def header(pacing_known: bool) -> list[str]:
    """What the numbers were measured on, so two runs can be compared knowingly."""
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    pacing = (
        f"{PACING}={FAST_PACING} for 1-3, the defaults (20 admin calls, 50 card posts a minute) for 4"
        if pacing_known
        else f"{PACING} is not a setting of this build (passed for 1-3, ignored)"
    )
    return [
        "invitebot bench: one `invitebot serve` (gunicorn, SQLite) per phase, Slack stand-in on 127.0.0.1",
        f"commit {commit}; Python {platform.python_version()}; {os.cpu_count()} CPUs; {pacing}",
        "times in ms unless marked; p99 is nearest-rank (the slowest of 50); RSS as peak / now",
    ]


def main() -> int:
    """Measure, print one table, and exit 1 when a check fails (a lost or slow ack, a wrong approve count, a stuck card)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the serve processes are terminated too
    started = time.monotonic()
    pacing_known = PACING in Settings.model_fields
    failures = show(measure(), header(pacing_known))
    print(f"result: {'FAIL' if failures else 'PASS'} ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
