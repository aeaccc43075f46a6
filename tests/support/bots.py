"""The bot under test: in this process behind a real HTTP server, or as `invitebot serve` child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any, Callable, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from app.config import Settings
from app.core.sync import SyncSummary
from app.main.container import build_runtime
from app.main.http import WsgiApp, create_wsgi_app
from app.sandbox import FakeSlack, SlackSender
from app.slack.runtime import Runtime
from app.store.migrate import upgrade_to_head
from tests.support.stand_in import APPROVER, APPROVER_GROUP, CHANNEL, OTHER_TEAM, TEAM

SIGNING_SECRET = "test-signing-secret"


def settings_env(fake: FakeSlack, database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_ADMIN_TOKEN": fake.admin_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": database_url,
        "INVITES_CHANNEL": CHANNEL,
        "INVITES_APPROVERS": f"{APPROVER},{APPROVER_GROUP}",
        "INVITES_TEAM_IDS": f"{TEAM},{OTHER_TEAM}",
        "INVITES_SYNC_INTERVAL": "300",
        # Paced like Slack only where a test asks for it (the stand-in enforces no limits unless told to).
        "INVITES_ADMIN_CALLS_PER_MINUTE": "60000",
        "INVITES_CARD_POSTS_PER_MINUTE": "60000",
    }
    env.update(overrides)
    return env


def make_settings(fake: FakeSlack, database_url: str, **overrides: str) -> Settings:
    return Settings(**settings_env(fake, database_url, **overrides))  # type: ignore[arg-type]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128  # as gunicorn's backlog allows: simultaneous clicks are queued, not refused


@dataclass
class Bot:
    """A running bot: its URL, its runtime (for reading the database), and a sender that signs like Slack."""

    url: str
    runtime: Runtime
    slack: SlackSender

    def sessions(self):  # type: ignore[no-untyped-def]
        return self.runtime.sessions()

    def settle(self, timeout: float = 30) -> None:
        """Wait until everything the bot accepted (after its ack) has finished."""
        assert self.runtime.wait_until_idle(timeout=timeout), "the bot's background work did not finish"

    def sync(self, timeout: float = 30) -> SyncSummary:
        """One reconcile pass, then the Slack work it queued (cards, digests, DMs): what a person sees once it is done."""
        summary = self.runtime.sync()
        self.settle(timeout)
        return summary


def serve_in_process(
    fake: FakeSlack, database_url: str, *, wrap: Callable[[Runtime, WsgiApp], WsgiApp] | None = None, **overrides: str
) -> tuple[Bot, WSGIServer]:
    """A bot on a migrated database behind a real HTTP server on a free port, in this process; `wrap` may stand around
    its WSGI app (a benchmark's meter). Stop it with stop_in_process()."""
    settings = make_settings(fake, database_url, **overrides)
    runtime = build_runtime(settings)
    upgrade_to_head(runtime.engine)
    runtime.start()
    app = create_wsgi_app(runtime)
    server = make_server("127.0.0.1", 0, wrap(runtime, app) if wrap else app, _ThreadingWSGIServer, _QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/slack/events"
    return Bot(url=url, runtime=runtime, slack=SlackSender(url, SIGNING_SECRET, fake)), server


def stop_in_process(bot: Bot, server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()
    bot.runtime.close()


@pytest.fixture
def start_bot(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    """Start the WSGI app on a real port in this process; call it again for a second instance on the same database."""
    started: list[tuple[Bot, WSGIServer]] = []

    def start(**overrides: str) -> Bot:
        bot, server = serve_in_process(fake, database_url, **overrides)
        started.append((bot, server))
        return bot

    yield start
    for bot, server in started:
        stop_in_process(bot, server)


@pytest.fixture
def bot(start_bot: Any) -> Bot:
    return start_bot()


WORKER_RUNNING = "invitebot worker running"


@contextmanager
def serve_processes(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    """Start real `invitebot serve --port 0` processes on demand; each call returns its events URL once the web process
    listens and (unless `--no-worker` is among `args`) its worker process runs, as /readyz would say."""
    processes: list[subprocess.Popen[str]] = []
    output: dict[str, ProcessOutput] = {}

    def start(*args: str, **overrides: str) -> str:
        env = {**os.environ, **settings_env(fake, database_url, **overrides)}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", "0", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        seen = ProcessOutput()
        for line in process.stdout:
            seen.add(line)
            if "invitebot listening on " in line:
                url = line.split("invitebot listening on ", 1)[1].split('"', 1)[0].strip() + "/slack/events"  # a JSON line
                output[url] = seen
                threading.Thread(target=_drain, args=(process.stdout, seen), daemon=True).start()
                if "--no-worker" not in args and overrides.get("INVITES_SERVE_WORKER", "true") != "false":
                    seen.wait_for_line(WORKER_RUNNING, timeout=60)
                return url
        raise AssertionError("serve exited before listening:\n" + seen.text())

    start.output = output  # type: ignore[attr-defined]  # events URL -> every line the process printed
    start.processes = processes  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for process in processes:
            stop_process(process)


@pytest.fixture
def serve_process(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    with serve_processes(fake, database_url) as start:
        yield start


@pytest.fixture
def work_process(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    """Start real `invitebot work` processes on demand; each call returns its Popen once its worker runs, with the
    lines it printed as `.output` (a ProcessOutput)."""
    processes: list[subprocess.Popen[str]] = []

    def start(**overrides: str) -> subprocess.Popen[str]:
        env = {**os.environ, **settings_env(fake, database_url, **overrides)}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "work"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        processes.append(process)
        process.output = ProcessOutput()  # type: ignore[attr-defined]
        threading.Thread(target=_drain, args=(process.stdout, process.output), daemon=True).start()  # type: ignore[attr-defined]
        process.output.wait_for_line(WORKER_RUNNING, timeout=60)  # type: ignore[attr-defined]
        return process

    start.processes = processes  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for process in processes:
            stop_process(process)


def kill_hard(pid: int) -> None:
    """SIGKILL a process and every process under it (gunicorn's workers); the parent first, so none is respawned."""
    tree, seen = [pid], 0
    while seen < len(tree):
        parent = tree[seen]
        seen += 1
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as listing:
                tree.extend(int(child) for child in listing.read().split())
        except FileNotFoundError:
            pass
    for member in tree:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM, a grace period for a clean shutdown, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


class ProcessOutput:
    """Lines a child process printed, with a way to wait for one (no sleeps)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def add(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float = 15.0) -> str:
        with self._changed:
            found = self._changed.wait_for(lambda: next((l for l in self.lines if needle in l), None), timeout)
        if not found:
            raise AssertionError(f"the process never printed {needle!r}:\n{self.text()}")
        return found


def _drain(stream: Any, output: ProcessOutput) -> None:
    for line in stream:
        output.add(line)


def all_at_once(click: Any, clicks: list[tuple[Bot, Any, str]]) -> None:
    """Run click(bot, card, user) for each, every thread released together, then let each bot finish its work."""
    start = threading.Barrier(len(clicks))

    def one(bot: Bot, card: Any, user: str) -> None:
        start.wait()
        click(bot, card, user)

    threads = [threading.Thread(target=one, args=args) for args in clicks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for bot in {id(bot): bot for bot, _, _ in clicks}.values():
        bot.settle()


def outbox_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`invitebot outbox` as an operator runs it, against the bot's database."""
    return subprocess.run(
        [sys.executable, "-m", "app", "outbox", *args],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
