"""Run the real bot as `invitebot serve --port 0` in a subprocess, against the stand-in, with its log in a file;
restart it (same folder, same database) when its policy file changes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from app.demo import policy_file, seed
from app.sandbox import FakeSlack

LISTENING = "invitebot listening on "
SYNC_INTERVAL = "10"


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
    }


class BotProcess:
    """`python -m app serve --host 127.0.0.1 --port 0`, its events URL, and a clean stop."""

    def __init__(self, fake: FakeSlack, folder: Path, signing_secret: str) -> None:
        self.log_path = folder / "invitebot.log"
        self._log: IO[str] = self.log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=bot_env(fake, folder, signing_secret),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # Ctrl-C reaches the demo only; the demo stops the bot itself
        )
        self.url = self._wait_until_listening()
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

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (invitebot finishes in-flight work), SIGKILL if it takes longer than `timeout`."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._copier.join(timeout=5)  # the log reaches its end once the process has exited
        return self.process.returncode


class DemoBot:
    """The demo's one invitebot: a BotProcess, replaced by a fresh one on the same folder when it must restart."""

    def __init__(self, fake: FakeSlack, folder: Path, signing_secret: str) -> None:
        self._args = (fake, folder, signing_secret)
        self._lock = threading.Lock()
        self._restarting = False
        self.current = BotProcess(*self._args)

    @property
    def url(self) -> str:
        return self.current.url

    @property
    def log_path(self) -> Path:
        return self.current.log_path

    def alive(self) -> bool:
        """Running, or between its stop and its start again."""
        return self._restarting or self.current.alive()

    def restart(self) -> str:
        """Stop the bot (it finishes in-flight work; queued work waits in its database), start it again, return its URL."""
        with self._lock:
            self._restarting = True
            try:
                self.current.stop()
                self.current = BotProcess(*self._args)
            finally:
                self._restarting = False
        return self.current.url

    def stop(self) -> int | None:
        with self._lock:
            return self.current.stop()
