"""What one Approve click costs the bot: SQL statements by phase, CPU time of the bot's own threads, and where it goes.

Run from the repository root: .venv/bin/python -m bench.decision_cost [clicks]. SQLite always; PostgreSQL too when
INVITEBOT_BENCH_DATABASE_URL names a server (a fresh database is made on it for the run, and dropped after).
INVITEBOT_BENCH_PROFILE=<file> also writes the decision's profile there, for pstats.
docs/benchmarks.md ("Cost of one decision") says what the lines mean.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, event, make_url, text

from app.core.asks import ASK
from app.main.http import WsgiApp
from app.sandbox import FakeSlack
from app.slack.ids import ActionId
from app.slack.runtime import Runtime
from bench.harness import percentile, poll, post_cards, updated
from tests.support.bots import Bot, serve_in_process, stop_in_process
from tests.support.stand_in import APPROVER, CHANNEL, running_fake

CLICKS = 20  # measured, one at a time
PROFILED = 10  # clicked again under cProfile, apart from the measured ones (the profiler slows what it watches)
STATEMENTS_GOAL = 10
CPU_GOAL_MS = 5.0
# The phases of one click, in the order they happen; job kinds are the outbox's (app.core.outbox.KINDS).
ACK, DECIDE, SETTLE, DISPATCH = "ack", "decide", "settle", "dispatch"
FOLLOW_UPS = ("answer", "card", "home", "notify", "digest", DISPATCH)
PHASES = (ACK, DECIDE, SETTLE, *FOLLOW_UPS)
IDLE = "idle"  # the dispatcher looking and finding nothing, lease renewals, health probes: no click's cost


@dataclass
class Click:
    """One click's statements and CPU seconds, by phase; `sql` the statements themselves, in order."""

    statements: Counter[str] = field(default_factory=Counter)
    cpu: Counter[str] = field(default_factory=Counter)
    transactions: Counter[str] = field(default_factory=Counter)
    sql: list[tuple[str, str]] = field(default_factory=list)

    def total(self) -> int:
        return sum(self.statements[p] for p in PHASES)

    def cpu_total(self) -> float:
        return sum(self.cpu[p] for p in PHASES)

    def decision_statements(self) -> int:
        return self.statements[DECIDE] + self.statements[SETTLE]

    def decision_cpu(self) -> float:
        return self.cpu[DECIDE] + self.cpu[SETTLE]


class Meter:
    """Counts the engine's statements and the CPU time of the bot's own work, by phase, per thread."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self.click = Click()
        self.profile: pstats.Stats | None = None
        self.profiling = False

    def start_click(self) -> Click:
        with self._lock:
            self.click = Click()
            return self.click

    @contextmanager
    def phase(self, name: str) -> Iterator[list[str]]:
        """Work of `name` on this thread; the caller may rename it (the list's one item) before it ends."""
        local = self._local
        if getattr(local, "named", None) is not None:  # nested: the outer phase counts it
            yield [name]
            return
        named = local.named = [name]
        local.statements, local.transactions, local.sql = 0, 0, []
        profile = cProfile.Profile(time.thread_time) if self.profiling and name in (DECIDE, SETTLE) else None
        started = time.thread_time()
        if profile is not None:
            profile.enable()
        try:
            yield named
        finally:
            if profile is not None:
                profile.disable()
            spent = time.thread_time() - started
            local.named = None
            with self._lock:
                click, final = self.click, named[0]
                click.cpu[final] += spent
                click.statements[final] += local.statements
                click.transactions[final] += local.transactions
                click.sql.extend((final, statement) for statement in local.sql)
                if profile is not None:
                    if self.profile is None:
                        self.profile = pstats.Stats(profile)
                    else:
                        self.profile.add(profile)

    def statement(self, sql: str) -> None:
        if sql.lstrip().upper().startswith("BEGIN"):
            return  # SQLite's BEGIN IMMEDIATE: counted as a transaction, by the begin event
        local = self._local
        if getattr(local, "named", None) is None:
            return  # the bench's own reads (waiting for the outbox to be idle), the health probe: no click's work
        local.statements += 1
        local.sql.append(" ".join(sql.split())[:160])

    def transaction(self) -> None:
        local = self._local
        if getattr(local, "named", None) is not None:
            local.transactions += 1


def instrument(meter: Meter) -> Callable[[Runtime, WsgiApp], WsgiApp]:
    """Hooks around the bot's pieces (nothing in the product changes): the WSGI app and the asks' writer (the ack), the
    `ask` job (the decision), each other outbox job by kind (the `decide` job is the settle), and the dispatcher when it
    takes jobs."""

    def wrap(runtime: Runtime, app: WsgiApp) -> WsgiApp:
        engine, outbox = runtime.engine, runtime.outbox
        event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_: meter.statement(sql))
        event.listen(engine, "begin", lambda _c: meter.transaction())
        ping = engine.dialect.do_ping

        def counted_ping(connection: Any) -> bool:
            meter.statement("SELECT 1 -- pool_pre_ping")
            return bool(ping(connection))

        engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]
        run, dispatch, renew = outbox._run, outbox._dispatch, outbox._renew_leases
        write = runtime.asks._write
        taken = [0]

        def run_job(job: Any, lane: Any) -> None:
            with meter.phase({"decide": SETTLE, ASK: DECIDE}.get(job.kind, job.kind)):
                run(job, lane)

        def write_asks(asks: list[Any]) -> None:
            with meter.phase(ACK):  # the click written down: its ack waits for this transaction
                write(asks)

        def dispatch_jobs() -> float:
            with meter.phase(DISPATCH) as named:
                before = taken[0]
                delay = dispatch()
                if taken[0] == before:
                    named[0] = IDLE
                return delay

        def renew_leases() -> None:
            with meter.phase(IDLE):
                renew()

        submit_job = outbox._submit

        def count_submitted(job: Any) -> None:
            taken[0] += 1
            submit_job(job)

        outbox._run = run_job  # type: ignore[method-assign]
        runtime.asks._write = write_asks  # type: ignore[method-assign]
        outbox._dispatch = dispatch_jobs  # type: ignore[method-assign]
        outbox._renew_leases = renew_leases  # type: ignore[method-assign]
        outbox._submit = count_submitted  # type: ignore[method-assign]

        def acked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            with meter.phase(ACK):
                return list(app(environ, start_response))

        return acked

    return wrap


def approve(fake: FakeSlack, bot: Bot, ts: str) -> None:
    """Click Approve on one card, wait for the card to show it, then for every job the click made (its App Home too)."""
    reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=ts, action_id=ActionId.APPROVE.value)
    assert reply.status == 200, f"the click answered {reply.status}"
    poll(lambda: ts in updated(fake, [ts]), 30, f"card {ts} showing its approval")
    bot.settle(60)


@dataclass
class Result:
    database: str
    clicks: list[Click]
    profile: str


def measure(database_url: str, label: str, clicks: int = CLICKS, profiled: int = PROFILED) -> Result:
    """Post clicks + profiled cards, approve them one at a time; the measured clicks, then the profiled ones' profile."""
    meter = Meter()
    with running_fake() as fake:
        bot, server = serve_in_process(fake, database_url, wrap=instrument(meter))
        try:
            cards = list(post_cards(fake, bot.slack, "cost", clicks + profiled + 1).values())
            bot.settle(60)
            approve(fake, bot, cards[0])  # the first click on a fresh process: cold code paths, not measured
            measured = []
            for ts in cards[1 : clicks + 1]:
                click = meter.start_click()
                approve(fake, bot, ts)
                measured.append(click)
            meter.profiling = True
            for ts in cards[clicks + 1 :]:
                meter.start_click()
                approve(fake, bot, ts)
            meter.profiling = False
        finally:
            stop_in_process(bot, server)
    out = io.StringIO()
    if meter.profile is not None:
        meter.profile.stream = out  # type: ignore[attr-defined]
        meter.profile.sort_stats("cumulative").print_stats(20)
        if os.environ.get("INVITEBOT_BENCH_PROFILE"):
            meter.profile.dump_stats(os.environ["INVITEBOT_BENCH_PROFILE"])
    return Result(label, measured, out.getvalue())


def median(values: list[float]) -> float:
    return percentile(values, 50) if values else 0.0


def report(result: Result) -> str:
    clicks = result.clicks
    lines = [f"## {result.database}: {len(clicks)} Approve clicks, one at a time", ""]
    lines.append(f"{'phase':<10} {'statements':>10} {'transactions':>12} {'CPU ms p50':>10}")
    for phase in PHASES:
        statements = median([c.statements[phase] for c in clicks])
        transactions = median([c.transactions[phase] for c in clicks])
        cpu = median([c.cpu[phase] * 1000 for c in clicks])
        lines.append(f"{phase:<10} {statements:>10.0f} {transactions:>12.0f} {cpu:>10.2f}")
    totals = [c.total() for c in clicks]
    decision = [c.decision_statements() for c in clicks]
    decision_cpu = [c.decision_cpu() * 1000 for c in clicks]
    cpu = [c.cpu_total() * 1000 for c in clicks]
    lines += [
        "",
        f"the decision (decide + settle), statements per click (p50 / max): {median(decision):.0f} / {max(decision)}"
        f"   goal <= {STATEMENTS_GOAL}",
        f"the decision (decide + settle), CPU per click (p50 / max): {median(decision_cpu):.2f} / {max(decision_cpu):.2f} ms"
        f"   goal <= {CPU_GOAL_MS:.0f} ms",
        f"the whole click (with the ack and follow-up jobs), statements (p50 / max): {median(totals):.0f} / {max(totals)}",
        f"the whole click (with the ack and follow-up jobs), CPU (p50 / max): {median(cpu):.2f} / {max(cpu):.2f} ms",
        f"statements by click: {' '.join(str(t) for t in totals)}",
        "",
        "statements of the last click:",
        *(f"  {phase:<8} {sql}" for phase, sql in clicks[-1].sql if phase in PHASES),
        "",
        "cProfile (CPU time of the thread) of the profiled clicks' decide and settle, top 20 by cumulative time:",
        result.profile.strip(),
    ]
    return "\n".join(lines)


@contextmanager
def fresh_postgres(server_url: str) -> Iterator[str]:
    """A new, empty database on the server `server_url` names, dropped afterwards."""
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"invitebot_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str]) -> int:
    clicks = int(argv[0]) if argv else CLICKS
    results = []
    with tempfile.TemporaryDirectory(prefix="invitebot-decision-cost-") as tmp:
        results.append(measure(f"sqlite:///{Path(tmp) / 'invitebot.db'}", "SQLite", clicks))
    server = os.environ.get("INVITEBOT_BENCH_DATABASE_URL")
    if server:
        with fresh_postgres(server) as url:
            results.append(measure(url, "PostgreSQL", clicks))
    print("\n\n".join(report(result) for result in results))
    sqlite = results[0].clicks
    met = (
        median([c.decision_statements() for c in sqlite]) <= STATEMENTS_GOAL
        and median([c.decision_cpu() * 1000 for c in sqlite]) <= CPU_GOAL_MS
    )
    print(f"\nresult on SQLite: {'goals met' if met else 'goals not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
