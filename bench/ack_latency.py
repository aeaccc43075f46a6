"""`make bench`: ack latency, click-to-card time, behaviour under slow and rate-limited Slack, and memory, as one table.

Run from the repository root: .venv/bin/python -m bench.ack_latency [--postgres] (bench/README.md describes every line).
"""

from __future__ import annotations

import argparse
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
from bench import backlog, bulk_pace, front_end_floor, replica_clicks, scenarios
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
def bot(database_url: str | None = None, **overrides: str) -> Iterator[tuple[FakeSlack, SlackSender, Serve]]:
    """A fresh stand-in, a database (a temporary SQLite one unless named) and one `invitebot serve`, all cleaned up even
    on failure."""
    with (
        tempfile.TemporaryDirectory(prefix="invitebot-bench-") as tmp,
        running_fake() as fake,
        serve_processes(fake, database_url or f"sqlite:///{Path(tmp) / 'invitebot.db'}") as start,
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


@contextmanager
def postgres(asked: bool) -> Iterator[str | None]:
    """The PostgreSQL database for scenario 1's second variant: INVITEBOT_BENCH_DATABASE_URL's (empty), a fresh one on
    127.0.0.1:5432 when asked for with --postgres, or None."""
    named = os.environ.get("INVITEBOT_BENCH_DATABASE_URL")
    if named:
        yield named
    elif asked:
        with replica_clicks.postgres_database() as url:
            yield url
    else:
        yield None


def against_floor(results: Results, database: str, fake: FakeSlack, sender: SlackSender, serve: Serve) -> None:
    """Scenario 1's rounds beside the do-nothing Bolt app under serve's own front end, started for them."""

    def run() -> scenarios.AgainstFloor:
        with front_end_floor.serving(front_end_floor.BUFFERING, "bolt") as port:
            return scenarios.against_floor(fake, sender, serve, port, database)

    found = attempt(results, f"against the floor, {database}", run)
    if found is not None:
        results.floors[database] = found


def measure(with_postgres: bool) -> Results:
    results = Results()
    with bot(**{PACING: FAST_PACING}) as (fake, sender, serve):
        results.first = attempt(results, "first burst", lambda: scenarios.concurrent_round(fake, sender, "first"))
        against_floor(results, "SQLite", fake, sender, serve)
        results.steady = results.floors["SQLite"].serve[0] if "SQLite" in results.floors else None
        if results.steady is not None:
            card = fake.message(CHANNEL, results.steady.clicks[0].key)
            results.standin = attempt(results, "stand-in path", lambda: scenarios.standin_path(fake, card))
        results.single = attempt(results, "one at a time", lambda: scenarios.one_at_a_time(fake, sender))
        results.slow = attempt(results, "slow Slack", lambda: scenarios.queued_behind_slow_slack(fake, sender, serve))
        results.memory_fast = serve.memory()
    with postgres(with_postgres) as url:
        if url is not None:
            with bot(url, **{PACING: FAST_PACING}) as (fake, sender, serve):
                attempt(results, "first burst, PostgreSQL", lambda: scenarios.concurrent_round(fake, sender, "first"))
                against_floor(results, "PostgreSQL", fake, sender, serve)
    with bot(**DEFAULT_PACES) as (fake, sender, serve):
        results.tier2 = attempt(results, "tier 2 burst", lambda: scenarios.tier2_burst(fake, sender))
        results.memory_tier2 = serve.memory()
    results.more += backlog.rows(attempt(results, "backlog sync", backlog.measure))
    results.more += bulk_pace.rows(attempt(results, "bulk approve", bulk_pace.measure))
    results.more += replica_clicks.rows(attempt(results, "clicks over replicas", replica_clicks.measure))
    return results


def header(pacing_known: bool, with_postgres: bool) -> list[str]:
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
    databases = "SQLite, and PostgreSQL for scenario 1's second variant and 8" if with_postgres else "SQLite; PostgreSQL for 8"
    return [
        f"invitebot bench: one `invitebot serve` (gunicorn, buffering worker) per phase ({databases}), Slack stand-in on 127.0.0.1",
        "the floor: bench.front_end_floor's do-nothing Bolt app under the same worker, started beside serve for scenario 1",
        f"commit {commit}; Python {platform.python_version()}; {os.cpu_count()} CPUs; {pacing}",
        "times in ms unless marked; p99 is nearest-rank (the slowest of 50); RSS as peak / now",
    ]


def main() -> int:
    """Measure, print one table, and exit 1 when a check fails (a lost or slow ack, a wrong approve count, a stuck card)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the serve processes are terminated too
    parser = argparse.ArgumentParser(prog="python -m bench.ack_latency", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="also measure scenario 1 against its floor on a fresh PostgreSQL database at 127.0.0.1:5432"
        " (INVITEBOT_BENCH_DATABASE_URL, when set, names an empty one to use instead)",
    )
    with_postgres = parser.parse_args().postgres or bool(os.environ.get("INVITEBOT_BENCH_DATABASE_URL"))
    started = time.monotonic()
    pacing_known = PACING in Settings.model_fields
    failures = show(measure(with_postgres), header(pacing_known, with_postgres))
    print(f"result: {'FAIL' if failures else 'PASS'} ({time.monotonic() - started:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
