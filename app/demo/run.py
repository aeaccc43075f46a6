"""`invitebot demo`: start the stand-in, the bot and the page; seed the org; run until Ctrl-C or SIGTERM; clean up."""

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
from typing import Any

from app.demo import policy_file, seed
from app.demo.api import DemoApi
from app.demo.bot import BotStartFailed, DemoBot
from app.demo.feed import ChangeFeed
from app.demo.screen import Screens
from app.demo.server import DemoServer
from app.sandbox import FakeSlack, SlackSender

STARTUP_WAIT = 30.0


def announce(text: str) -> None:
    print(f"invitebot demo: {text}", flush=True)


def seed_requests(fake: FakeSlack, sender: SlackSender, screens: Screens) -> None:
    """Once the bot's first sync has looked (and found nothing), the seeded requests arrive as Slack sends them."""
    teams = len(seed.TEAMS)
    fake.wait_for(lambda: len(fake.calls("admin.inviteRequests.list")) >= teams, STARTUP_WAIT, "the bot never synced")
    now = time.time()
    for number, request in enumerate(seed.REQUESTS, start=1):
        item = fake.add_invite_request(**seed.request_fields(request, now))
        screens.remember_request(item)
        sender.invite_requested(item)
        # one at a time, so the cards stand in the channel oldest first
        fake.wait_for(lambda: len(fake.messages(seed.APPROVALS_CHANNEL)) >= number, STARTUP_WAIT, "no card posted")


def run_demo(port: int) -> int:
    """Run until Ctrl-C or SIGTERM; 0 after a clean stop, 1 if something could not start or the bot died."""
    logging.getLogger("websockets").setLevel(logging.WARNING)  # the stand-in's Socket Mode server is not used here
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with ExitStack() as cleanup:
            return _run(port, stop, cleanup)
    except OSError as exc:
        announce(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; try --port 0 for any free port")
        return 1
    except (BotStartFailed, AssertionError) as exc:
        announce(f"could not start: {exc}")
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(port: int, stop: threading.Event, cleanup: ExitStack) -> int:
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
    sender = SlackSender(bot.url, secret, fake)
    server.api = DemoApi(fake, sender, screens, feed, bot, policy)
    server.start()
    cleanup.callback(server.stop)
    announce(f"invitebot is {bot.url}; its log is {bot.log_path}")
    seed_requests(fake, sender, screens)
    announce(f"open {server.url}")
    announce("Ctrl-C stops it")
    return _wait(stop, bot)


def _wait(stop: threading.Event, bot: DemoBot) -> int:
    while not stop.wait(0.5):
        if not bot.alive():
            announce(f"invitebot exited unexpectedly ({bot.current.process.returncode}); the end of its log")
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
