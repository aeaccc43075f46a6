"""A database that cannot be opened ends `serve`, `work`, `socket`, `sync` and `migrate` with one line naming it, exit
status 2."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "s3cret-db-pw"
COMMANDS = [["serve", "--host", "127.0.0.1", "--port", "0"], ["work"], ["socket"], ["sync"], ["migrate"], ["outbox"]]


def closed_port() -> int:
    """A port nothing listens on: bound by us for a moment, then let go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(args: list[str], database_url: str, cwd: Path, **more: str) -> subprocess.CompletedProcess[str]:
    # Slack is never asked: the database is checked before anything starts. A closed port stands in for Slack too.
    env = {
        "PATH": "/usr/bin:/bin",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_ADMIN_TOKEN": "xoxp-test",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "SLACK_APP_TOKEN": "xapp-test",
        "SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api/",
        "DATABASE_URL": database_url,
        "INVITES_CHANNEL": "C0INVITES1",
        "INVITES_APPROVERS": "W0APPROV01",
        "INVITES_TEAM_IDS": "T0ALPHA01",
        **more,
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_postgresql_on_a_closed_port_is_one_line_with_the_password_hidden(tmp_path, args):
    port = closed_port()

    result = _run(args, f"postgresql://invitebot:{PASSWORD}@127.0.0.1:{port}/invitebot", tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"invitebot: cannot open the database postgresql+psycopg://invitebot:***@127.0.0.1:{port}/invitebot: connection refused"
    ]
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: args[0])
def test_sqlite_in_a_missing_folder_is_one_line_and_creates_nothing(tmp_path, args):
    folder = tmp_path / "nope"

    result = _run(args, f"sqlite:///{folder / 'invitebot.db'}", tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"invitebot: cannot open the database sqlite:///{folder / 'invitebot.db'}: the folder {folder} does not exist"
    ]
    assert list(tmp_path.iterdir()) == []  # no folder, no database, no .migrate.lock


def test_serve_on_a_port_in_use_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = _run(["serve", "--host", "127.0.0.1", "--port", str(port)], f"sqlite:///{tmp_path / 'invitebot.db'}", tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"invitebot: cannot listen on 127.0.0.1:{port}: Address already in use; choose another --port (0 picks a free one)"
    ]
    assert result.stdout == ""


def test_version_and_every_subcommands_help_say_what_it_does_and_where_settings_come_from(tmp_path):
    version = _run(["--version"], "sqlite://", tmp_path)
    assert (version.returncode, version.stdout) == (0, "invitebot 0.1.0\n")
    for command in ["serve", "work", "socket", "sync", "migrate", "outbox", "doctor", "export", "demo", "policy", "policy check"]:
        shown = _run([*command.split(), "--help"], "sqlite://", tmp_path)
        assert shown.returncode == 0, shown.stderr
        usage, description = shown.stdout.split("\n\n")[:2]
        assert description.strip() and not description.startswith(("positional", "options")), (command, shown.stdout)
        assert "Settings come from the environment" in " ".join(shown.stdout.split()), command
