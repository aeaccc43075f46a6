"""Run the real bot as `invitebot serve --port 0` in a subprocess, against the stand-in, with its log in a file;
restart it (same folder, same database) when its policy file changes; it never outlives the demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

from app.demo import policy_file, seed
from app.sandbox import FakeSlack
from app.tether import tethered

LISTENING = "invitebot listening on "
SYNC_INTERVAL = "10"
# The stand-in paces nothing unless asked, so the seeded cards need not wait for Slack's one message a second.
DEMO_CARD_POSTS_PER_MINUTE = "3000"
# When the demo ends its data goes with its folder: no work in flight is worth waiting longer for than this.
QUIT_GRACE = 0.5


class BotStartFailed(RuntimeError):
    """`invitebot serve` exited before it was listening."""


def bot_env(fake: FakeSlack, folder: Path, signing_secret: str) -> dict[str, str]:
    """The settings a production deployment would have, pointed at the stand-in and a SQLite file in `folder`."""
    project = str(Path(__file__).resolve().parents[2])
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH", "")) if p),
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_ADMIN_TOKEN": fake.admin_token,
        "SLACK_SIGNING_SECRET": signing_secret,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": f"sqlite:///{folder / 'invitebot.db'}",
        "INVITES_CHANNEL": seed.APPROVALS_CHANNEL,
        "INVITES_APPROVERS": seed.APPROVERS_SETTING,
        "INVITES_TEAM_IDS": ",".join(team_id for team_id, _, _ in seed.TEAMS),
        "INVITES_SYNC_INTERVAL": SYNC_INTERVAL,
        "INVITES_DENY_REASON_REQUIRED": "true",  # so the modal's validation can be seen
        "INVITES_NOTIFY_REQUESTERS": "true",
        "INVITES_POLICY": str(folder / policy_file.FILE_NAME),
        "INVITES_CARD_POSTS_PER_MINUTE": DEMO_CARD_POSTS_PER_MINUTE,
    }


def _stop_when_started(future: Future[subprocess.Popen[str]]) -> None:
    """The bot a start that was interrupted no longer waits for: stopped as soon as it exists."""
    if future.exception() is None:
        os.killpg(future.result().pid, signal.SIGKILL)
        future.result().wait()


class BotProcess:
    """`python -m app serve --host 127.0.0.1 --port 0`, its events URL, and a clean stop."""

    def __init__(self, spawner: ThreadPoolExecutor, fake: FakeSlack, folder: Path, signing_secret: str) -> None:
        self.log_path = folder / "invitebot.log"
        self._log: IO[str] = self.log_path.open("a", encoding="utf-8")
        started = spawner.submit(
            subprocess.Popen,
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=bot_env(fake, folder, signing_secret),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the demo only; the demo stops the bot itself
            preexec_fn=tethered(os.getpid()),
        )
        try:
            self.process: subprocess.Popen[str] = started.result()
        except BaseException:  # Ctrl-C while it starts
            self._log.close()
            started.add_done_callback(_stop_when_started)
            raise
        try:
            self.url = self._wait_until_listening()
        except BaseException:
            self.kill()
            self._log.close()
            raise
        self._copier = threading.Thread(target=self._copy_log, name="demo-bot-log", daemon=True)
        self._copier.start()

    def _wait_until_listening(self) -> str:
        assert self.process.stdout is not None
        printed: list[str] = []
        for line in self.process.stdout:
            self._log.write(line)
            printed.append(line)
            if LISTENING in line:
                self._log.flush()
                return line.split(LISTENING, 1)[1].split('"', 1)[0].strip() + "/slack/events"  # a JSON log line
        self._log.close()
        self.process.wait()
        tail = "".join(printed[-20:])  # the log file goes with the temporary folder
        raise BotStartFailed(f"invitebot serve exited ({self.process.returncode}) before listening:\n{tail}")

    def _copy_log(self) -> None:
        assert self.process.stdout is not None
        with self._log:
            for line in self.process.stdout:
                self._log.write(line)
                self._log.flush()

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL its whole session (its HTTP worker too, which holds its output open), and reap it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already gone, with everything it started
        self.process.wait()

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (invitebot finishes in-flight work), SIGKILL to its session if it takes longer than `timeout`."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._copier.join(timeout=5)  # the log reaches its end once the process has exited
        return self.process.returncode


class DemoBot:
    """The demo's one invitebot: a BotProcess, replaced by a fresh one on the same folder when it must restart.

    Every BotProcess is started by one long-lived thread: the kernel's parent-death signal follows the starting thread,
    and a restart is asked for by a page request whose thread ends with it."""

    def __init__(self, fake: FakeSlack, folder: Path, signing_secret: str) -> None:
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-bot-spawner")
        self._args = (self._spawner, fake, folder, signing_secret)
        self._lock = threading.Lock()
        self._restarting = False
        self.current: BotProcess | None = None

    def start(self) -> str:
        with self._lock:
            self.current = BotProcess(*self._args)
        return self.current.url

    @property
    def url(self) -> str:
        return self._started().url

    @property
    def log_path(self) -> Path:
        return self._started().log_path

    def _started(self) -> BotProcess:
        if self.current is None:
            raise RuntimeError("invitebot has not started")
        return self.current

    @property
    def returncode(self) -> int | None:
        return self._started().process.returncode

    def alive(self) -> bool:
        """Running, or between its stop and its start again."""
        return self._restarting or self._started().alive()

    def restart(self) -> str:
        """Stop the bot (it finishes in-flight work; queued work waits in its database), start it again, return its URL."""
        with self._lock:
            self._restarting = True
            try:
                self._started().stop()
                self.current = BotProcess(*self._args)
            finally:
                self._restarting = False
        return self.current.url

    def stop(self) -> int | None:
        """Stop the bot for good (SIGKILL after QUIT_GRACE) if it started; the starting thread goes with it."""
        with self._lock:
            code = self.current.stop(QUIT_GRACE) if self.current is not None else None
        self._spawner.shutdown()
        return code
