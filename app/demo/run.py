"""`invitebot demo`: start the stand-in, the bot and the page; seed the org; run until Ctrl-C, SIGTERM or SIGHUP; clean up."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from app.demo import policy_file, seed
from app.demo.api import DemoApi
from app.demo.bot import BotStartFailed, DemoBot
from app.demo.feed import ChangeFeed
from app.demo.screen import Screens
from app.demo.server import DemoServer
from app.sandbox import FakeSlack, SlackSender

STARTUP_WAIT = 30.0
POLL = 0.5  # how often a wait looks whether the demo is stopping
# Ctrl-C, a polite kill, and the terminal closing
STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while the demo starts: whatever it was waiting for is abandoned and everything stops."""


class StopSignal:
    """SIGINT/SIGTERM: while starting, interrupts what the demo is waiting for; once running, ends its wait."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.starting = True

    def __call__(self, *_: object) -> None:
        first = not self.event.is_set()
        self.event.set()
        if first and self.starting:  # a second Ctrl-C does not interrupt the clean-up the first one started
            raise Interrupted


def announce(text: str) -> None:
    print(f"invitebot demo: {text}", flush=True)


def _wait_for(fake: FakeSlack, predicate: Callable[[], object], stop: threading.Event, message: str) -> bool:
    """True once predicate() holds, False if the demo is stopping first; AssertionError after STARTUP_WAIT."""
    deadline = time.monotonic() + STARTUP_WAIT
    while not stop.is_set():
        try:
            fake.wait_for(predicate, POLL, message)
            return True
        except AssertionError:
            if time.monotonic() > deadline:
                raise
    return False


def seed_requests(fake: FakeSlack, sender: SlackSender, screens: Screens, stop: threading.Event) -> None:
    """Once the bot's first sync has looked (and found nothing), the seeded requests arrive as Slack sends them."""
    teams = len(seed.TEAMS)
    if not _wait_for(fake, lambda: len(fake.calls("admin.inviteRequests.list")) >= teams, stop, "the bot never synced"):
        return
    now = time.time()
    for number, request in enumerate(seed.REQUESTS, start=1):
        item = fake.add_invite_request(**seed.request_fields(request, now))
        screens.remember_request(item)
        sender.invite_requested(item)
        # one at a time, so the cards stand in the channel oldest first
        if not _wait_for(fake, lambda: len(fake.messages(seed.APPROVALS_CHANNEL)) >= number, stop, "no card posted"):
            return


class Seeding(threading.Thread):
    """Seeds the requests while the page is already open (its cards appear as they are posted)."""

    def __init__(self, fake: FakeSlack, sender: SlackSender, screens: Screens, stop: threading.Event) -> None:
        super().__init__(name="demo-seed", daemon=True)
        self._args = (fake, sender, screens, stop)
        self._stop_event = stop
        self.failure: str | None = None

    def run(self) -> None:
        try:
            seed_requests(*self._args)
        except Exception as exc:  # a stopping demo takes the stand-in and the bot away mid-seed: not a failure
            if not self._stop_event.is_set():
                self.failure = str(exc) or type(exc).__name__


def run_demo(port: int) -> int:
    """Run until Ctrl-C, SIGTERM or SIGHUP; 0 after a clean stop, 1 if something could not start or the bot died."""
    logging.getLogger("websockets").setLevel(logging.WARNING)  # the stand-in's Socket Mode server is not used here
    stop = StopSignal()
    previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
    try:
        with ExitStack() as cleanup:
            return _run(port, stop, cleanup)
    except Interrupted:
        return 0
    except OSError as exc:
        announce(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; try --port 0 for any free port")
        return 1
    except BotStartFailed as exc:
        announce(f"could not start: {exc}")
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(port: int, stop: StopSignal, cleanup: ExitStack) -> int:
    server = DemoServer(port)  # first, so a port in use stops the demo before anything starts
    cleanup.callback(announce, "stopped, and cleaned up")
    cleanup.callback(server.server_close)
    folder = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="invitebot-demo-")))
    fake = FakeSlack(admin_user_id=seed.TOKEN_OWNER).start()
    cleanup.callback(fake.stop)
    seed.seed_org(fake)
    screens = Screens(fake, seed.APPROVALS_CHANNEL)
    feed = ChangeFeed(fake, on_change=screens.observe).start()
    cleanup.callback(server.drain)  # after the feed closes: the open long polls are answered before the demo ends
    cleanup.callback(feed.close)
    announce(f"data in {folder} (removed on exit)")
    policy = policy_file.write(folder)
    secret = secrets.token_hex(16)
    bot = DemoBot(fake, folder, secret)
    cleanup.callback(bot.stop)
    bot.start()
    sender = SlackSender(bot.url, secret, fake)
    server.api = DemoApi(fake, sender, screens, feed, bot, policy)
    server.start()
    cleanup.callback(server.stop)
    cleanup.callback(stop.event.set)  # first of all: the seeding gives up rather than fail
    seeding = Seeding(fake, sender, screens, stop.event)
    seeding.start()
    announce(f"invitebot is {bot.url}; its log is {bot.log_path}")
    announce(f"open {server.url}")
    announce("Ctrl-C stops it")
    stop.starting = False
    return _wait(stop.event, bot, seeding)


def _wait(stop: threading.Event, bot: DemoBot, seeding: Seeding) -> int:
    while not stop.wait(POLL):
        if seeding.failure is not None:
            announce(f"could not seed the demo's requests: {seeding.failure}; the end of invitebot's log")
            _print_tail(bot.log_path)
            return 1
        if not bot.alive():
            announce(f"invitebot exited unexpectedly ({bot.returncode}); the end of its log")
            _print_tail(bot.log_path)
            return 1
    return 0


def _print_tail(path: Path, lines: int = 20) -> None:
    try:
        tail: Any = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        print(line, file=sys.stderr)
