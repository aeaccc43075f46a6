"""Where an Approve click's ack spends its time: CPU per click, server-side ack times, and (with py-spy) a profile.

Run from the repository root: .venv/bin/python -m bench.profile_ack [rounds]

1. In this process, with the bot's WSGI app called directly one request at a time and the work after the ack stubbed
   out: the ack path's own CPU time and wall time per click.
2. Against one real `invitebot serve`: `rounds` steady rounds of 50 concurrent clicks. The worker's CPU time per click
   (everything a click causes) from /proc, and how the bot's own ack histogram (/metrics) saw those clicks. When
   py-spy is installed (.venv/bin/pip install py-spy) it samples the worker meanwhile; its samples are split by
   thread role, and the request threads' hottest frames are listed. py-spy attaches before a warm-up round, which is
   therefore in the profile too.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

from app.core.asks import ASK
from app.main.container import build_runtime
from app.main.http import create_wsgi_app
from app.sandbox import FakeSlack
from app.sandbox.sender import Reply
from app.store.migrate import upgrade_to_head
from bench import scenarios
from bench.ack_latency import FAST_PACING, PACING, bot
from bench.harness import Recorder, Serve, approve_click, ms, percentile, post_cards
from tests.support.bots import make_settings
from tests.support.stand_in import running_fake

SAMPLE_RATE = 100  # py-spy cannot keep up with much more across the worker's ~80 threads
IN_PROCESS_CLICKS = 500
HZ = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def _environ(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "3000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": headers["Content-Type"],
    }
    environ.update({"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items() if name != "Content-Type"})
    return environ


def in_process() -> str:
    """The ack path alone: the WSGI app called directly, one click at a time, the work after the ack not run."""
    with tempfile.TemporaryDirectory(prefix="invitebot-profile-") as tmp, running_fake() as fake:
        runtime = build_runtime(make_settings(fake, f"sqlite:///{Path(tmp) / 'invitebot.db'}"))
        try:
            upgrade_to_head(runtime.engine)
            runtime.start()  # the outbox posts the card, as in `serve` (tests.support.bots.start_bot does the same)
            app = create_wsgi_app(runtime)

            def call(request: tuple[bytes, dict[str, str]]) -> str:
                status: list[str] = []
                b"".join(app(_environ(*request), lambda line, headers, *_: status.append(line)))
                return status[0]

            sender = _DirectSender(call, fake)
            ts = post_cards(fake, sender, "direct", 1)["direct-00@example.com"]
            assert runtime.wait_until_idle(30), "the card was not posted"
            runtime.outbox.handle(ASK, lambda job: None)  # the ack path only: each click is written down, not decided
            recorder = Recorder(sender.bot_url, fake)
            requests = [recorder.build(approve_click(ts)) for _ in range(IN_PROCESS_CLICKS + 50)]
            for request in requests[:50]:
                assert call(request).startswith("200")
            walls, cpus = [], []
            for request in requests[50:]:
                wall, cpu = time.perf_counter(), time.thread_time()
                call(request)
                cpus.append(time.thread_time() - cpu)
                walls.append(time.perf_counter() - wall)
        finally:
            runtime.close()
    return (
        f"in process, one click at a time, work after the ack stubbed ({IN_PROCESS_CLICKS} clicks): request-thread CPU"
        f" p50 {ms(percentile(cpus, 50))} ms; wall p50 {ms(percentile(walls, 50))} / p99 {ms(percentile(walls, 99))} ms"
    )


class _DirectSender(Recorder):
    """A sender whose requests go straight into the WSGI app (for posting the card the clicks are on)."""

    def __init__(self, call: Callable[[tuple[bytes, dict[str, str]]], str], fake: FakeSlack) -> None:
        super().__init__("http://127.0.0.1/slack/events", fake)
        self._call = call

    def post(self, body: bytes, **kwargs: Any) -> Reply:
        super().post(body, **kwargs)
        status = self._call(self.built.pop())
        return Reply(int(status.split()[0]), "", {}, 0.0)


def _histogram(serve: Serve) -> dict[float, float]:
    url = serve.url.rsplit("/slack/events", 1)[0] + "/metrics"
    found = {}
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("invitebot_slack_request_seconds_bucket"):
                found[float(line.split('le="')[1].split('"')[0])] = float(line.split()[-1])
    return found


REQUEST_THREADS = "request threads (the ack)"
# Thread name prefixes in `serve`'s worker (app.main.front_end, app.main.container, app.core.outbox), by what they do.
ROLES = (
    ("invitebot-request", REQUEST_THREADS),
    ("invitebot-asks", "the asks' writer (clicks written down before the ack)"),
    ("invitebot-work", "background pool (commands, the Deny form, after the ack)"),
    ("invitebot-ingest", "ingest pool (incoming requests)"),
    ("invitebot-ask", "outbox: ask lane (decide() for each click)"),
    ("invitebot-decide", "outbox: decide lane"),
    ("invitebot-first", "outbox: first lane (cards, answers)"),
    ("invitebot-later", "outbox: later lane (App Home, notices)"),
    ("invitebot-outbox", "outbox dispatcher"),
    ("MainThread", "front end's event loop (reads requests)"),
)


def _role(thread: str) -> str:
    for prefix, role in ROLES:
        if thread.startswith(prefix):
            return role
    return "other threads"


# Leaf frames of a thread that is blocked, not running: py-spy's --nonblocking mode samples some of them as active.
_WAITING = re.compile(
    r"^(_worker|Condition\.wait|Event\.wait|\w*[Ss]elect|select|sleep|SocketIO\.readinto|accept|wait_for_data) \("
)


def summarise(raw: Path, clicks: int) -> list[str]:
    """py-spy's raw stacks: samples per thread role (running and blocked), and the request threads' hottest frames."""
    running: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    frames: dict[str, Counter[str]] = defaultdict(Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        role, path = _thread(stack.split(";"))
        if not path or _WAITING.match(path[-1]):
            blocked[role] += int(count)
            continue
        running[role] += int(count)
        for frame in set(path):
            frames[role][frame] += int(count)
    total = sum(running.values()) or 1
    out = [
        f"py-spy: {total} running samples at {SAMPLE_RATE} Hz over the warm-up and {clicks} measured clicks (and"
        f" {sum(blocked.values())} of blocked threads, left out); running samples by thread role:"
    ]
    out += [f"  {100 * n / total:5.1f}%  {role}" for role, n in running.most_common()]
    requests = running[WEB_REQUESTS] or 1
    out.append("request threads, inclusive share of their running samples:")
    out += [f"  {100 * n / requests:5.1f}%  {frame}" for frame, n in frames[WEB_REQUESTS].most_common(40)]
    return out


WEB_REQUESTS = f"web: {REQUEST_THREADS}"


def _thread(parts: list[str]) -> tuple[str, list[str]]:
    """A raw stack's thread role, prefixed by its process (`--subprocesses` names it: serve's web or its worker), and
    its frames without line numbers."""
    process = next((p for p in reversed(parts) if p.startswith("process ")), "")  # its parents come first
    at = next((n for n, p in enumerate(parts) if p.startswith("thread (")), 0)
    where = "worker" if " work " in process else "web"
    frames = [re.sub(r":\d+\)", ")", f) for f in parts[at + 1 :]]
    return f"{where}: {_role(parts[at].split(': ', 1)[-1])}", frames


def _py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def against_serve(rounds: int) -> list[str]:
    lines = []
    with bot(**{PACING: FAST_PACING}) as (fake, sender, serve):
        workers = serve.processes()
        spy_path, spy = _py_spy(), None
        raw = Path(tempfile.gettempdir()) / f"invitebot-ack-profile-{os.getpid()}.txt"
        if spy_path:
            spy = subprocess.Popen(
                [spy_path, "record", "--pid", str(serve.pid), "--subprocesses", "--rate", str(SAMPLE_RATE), "--format", "raw"]
                + ["--output", str(raw), "--threads", "--nonblocking"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        scenarios.concurrent_round(fake, sender, "warm")
        acks: list[float] = []
        ticks, server = 0, Counter[float]()
        for n in range(rounds):
            cards = post_cards(fake, sender, f"profile{n}", scenarios.CARDS)
            before, cpu = _histogram(serve), _cpu_ticks(workers)
            clicks = scenarios.approve_all(fake, sender, cards, f"profile{n}").clicks
            after = _histogram(serve)
            ticks += _cpu_ticks(workers) - cpu
            acks += [click.ack for click in clicks]
            server.update({le: after[le] - before[le] for le in after})
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        total = rounds * scenarios.CARDS
        shares = ", ".join(f"<= {ms(le)} ms {100 * server[le] / total:.0f}%" for le in sorted(server) if le <= 0.1)
        lines.append(
            f"serve, {rounds} rounds of {scenarios.CARDS} concurrent clicks: ack p50 {ms(percentile(acks, 50))} / p99"
            f" {ms(percentile(acks, 99))} ms as the client saw them; the bot's own ack histogram: {shares}"
        )
        lines.append(
            f"CPU per click of the web and worker processes, everything it causes (ack, decision, card, ephemeral, App Home): {ticks / HZ / total * 1000:.1f} ms"
        )
        if spy is None:
            lines.append("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        elif raw.exists():
            lines += summarise(raw, total)
            lines.append(f"raw stacks: {raw}")
        assert serve.processes() == workers, "a process changed during the profile"
    return lines


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    print(in_process(), flush=True)
    for line in against_serve(rounds):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
