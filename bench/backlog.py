"""Scenario 6: a backlog of 10,000 pending requests over 5 workspaces, ingested by one `invitebot sync` process.

Run alone from the repository root: .venv/bin/python -m bench.backlog (bench/README.md describes the lines).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select

from app.sandbox import FakeSlack
from app.store.models import Digest, InviteRequest, RequestCard, SyncRun
from bench.report import Row, table
from tests.support.bots import settings_env
from tests.support.stand_in import OTHER_TEAM, REQUESTER, TEAM, running_fake

REQUESTS = 10_000
EXTRA_TEAMS = [
    ("T0GAMMA01", "Gamma Works", "gamma"),
    ("T0DELTA01", "Delta Labs", "delta"),
    ("T0EPSIL01", "Epsilon Co", "epsilon"),
]
TEAMS = [TEAM, OTHER_TEAM, *(team_id for team_id, _, _ in EXTRA_TEAMS)]
LIST = "admin.inviteRequests.list"
SECONDS_GOAL = 10.0
RSS_GOAL_MIB = 150.0


@dataclass(frozen=True)
class Backlog:
    """What one `invitebot sync` did with the backlog, and what it cost."""

    wall: float  # the process, start to exit (interpreter start-up and imports included)
    pass_seconds: float  # the pass itself, as sync_runs recorded it
    peak_rss_kib: int  # the process's peak resident size (getrusage of the child)
    summary: str
    lists: Counter[str]  # admin.inviteRequests.list calls per workspace
    stored: int
    cards: int
    digests: int
    posts: int

    def lists_ok(self) -> bool:
        per_team = math.ceil(REQUESTS / len(TEAMS) / 1000)
        return set(self.lists) == set(TEAMS) and set(self.lists.values()) == {per_team}


def _seed(fake: FakeSlack) -> None:
    for team_id, name, domain in EXTRA_TEAMS:
        fake.add_team(team_id, name, domain)
    first = int(time.time()) - 9 * 86400
    for n in range(REQUESTS):
        team_id = TEAMS[n % len(TEAMS)]
        fake.add_invite_request(
            team_id=team_id, email=f"person{n:05d}@example.com", requester_ids=[REQUESTER], date_created=first + n
        )


def _run(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run `python -m app <args>`; its wall time, its own peak RSS in KiB (wait4's rusage) and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "app", *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait for it again
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise AssertionError(f"`invitebot {' '.join(args)}` failed: {err.read().decode()[-2000:]}")
        return wall, usage.ru_maxrss, out.read().decode().strip()


def measure(database_url: str | None = None) -> Backlog:
    """Seed the stand-in, migrate a fresh database, then time one `invitebot sync` over the whole backlog."""
    with tempfile.TemporaryDirectory(prefix="invitebot-backlog-") as tmp, running_fake() as fake:
        _seed(fake)
        url = database_url or f"sqlite:///{Path(tmp) / 'invitebot.db'}"
        env = {"PATH": "/usr/bin:/bin", **settings_env(fake, url, INVITES_TEAM_IDS=",".join(TEAMS))}
        _run(["migrate"], env)
        since = len(fake.calls())
        wall, peak, summary = _run(["sync"], env)
        calls = fake.calls()[since:]
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        try:
            with engine.connect() as connection:
                run = connection.execute(select(SyncRun.started_at, SyncRun.finished_at)).one()
                count = lambda model: connection.scalar(select(func.count()).select_from(model))  # noqa: E731
                stored, cards, digests = count(InviteRequest), count(RequestCard), count(Digest)
        finally:
            engine.dispose()
    return Backlog(
        wall=wall,
        pass_seconds=(run.finished_at - run.started_at).total_seconds(),
        peak_rss_kib=peak,
        summary=summary,
        lists=Counter(c.params.get("team_id") for c in calls if c.method == LIST),
        stored=stored,
        cards=cards,
        digests=digests,
        posts=sum(c.method == "chat.postMessage" for c in calls),
    )


def rows(b: Backlog | None) -> list[Row]:
    """Scenario 6's lines of the bench table."""
    prefix = f"backlog, {REQUESTS:,} pending over {len(TEAMS)} workspaces, one `invitebot sync` process"
    measures = [
        f"{prefix}: the pass (sync_runs) / the process, start to exit",
        f"{prefix}: admin.inviteRequests.list calls per workspace",
        f"{prefix}: peak RSS of the sync process (getrusage)",
        f"{prefix}: stored / cards posted / digest cards",
    ]
    if b is None:
        return [Row("6", measure, "not measured") for measure in measures]
    per_team = math.ceil(REQUESTS / len(TEAMS) / 1000)
    lists = " / ".join(str(b.lists.get(team_id, 0)) for team_id in TEAMS)
    mib = b.peak_rss_kib / 1024
    return [
        Row("6", measures[0], f"{b.pass_seconds:.1f} s / {b.wall:.1f} s", f"<= {SECONDS_GOAL:.0f} s", b.wall <= SECONDS_GOAL),
        Row("6", measures[1], lists, f"{per_team} each (limit 1000)", b.lists_ok()),
        Row("6", measures[2], f"{mib:.1f} MiB", f"<= {RSS_GOAL_MIB:.0f} MiB", mib <= RSS_GOAL_MIB),
        Row(
            "6",
            measures[3],
            f"{b.stored:,} / {b.cards} / {b.digests}",
            f"{REQUESTS:,} / 0 / {len(TEAMS)}",
            (b.stored, b.cards, b.digests) == (REQUESTS, 0, len(TEAMS)),
        ),
    ]


def main() -> int:
    result = measure(os.environ.get("INVITEBOT_BENCH_DATABASE_URL"))
    print(table(rows(result)))
    print(f"- {result.summary}")
    return 0 if all(row.met for row in rows(result)) else 1


if __name__ == "__main__":
    sys.exit(main())
