"""A missing or malformed setting stops start-up with one line naming it, and exit status 2.

The line says what the variable holds, in words a person can act on (the unit, the accepted range or values, an
example), never pydantic's, and never a token. Each setting's own line is checked in tests/unit/test_config.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.bots import settings_env
from tests.unit.test_config import PYDANTIC_WORDS


def _run(env, *args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SLACK_SIGNING_SECRET", None, "SLACK_SIGNING_SECRET is not set: it should be the Signing Secret"),
        ("SLACK_ADMIN_TOKEN", "xoxb-a-bot-token", "SLACK_ADMIN_TOKEN is invalid: it is a bot token (xoxb-…), but it must be"),
        ("INVITES_CHANNEL", "#approvals", "INVITES_CHANNEL is invalid: '#approvals' is a channel's name"),
        ("INVITES_APPROVERS", "grace", "INVITES_APPROVERS is invalid: 'grace' is not a user id"),
        ("INVITES_SYNC_INTERVAL", "soon", "INVITES_SYNC_INTERVAL is invalid: 'soon' is not a number of seconds from 10"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is invalid: mysql://x is not a sqlite:// or postgresql:// URL"),
    ],
)
def test_bad_setting_is_named_in_one_line(fake, tmp_path, variable, value, says):
    env = settings_env(fake, f"sqlite:///{tmp_path / 'x.db'}")
    if value is None:
        del env[variable]
    else:
        env[variable] = value

    result = _run(env, "serve", "--port", "0")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert says in result.stderr
    for secret in (fake.admin_token, fake.bot_token):
        assert secret not in result.stderr
    assert not any(words in result.stderr for words in PYDANTIC_WORDS), result.stderr


def test_the_default_database_lives_in_a_data_folder_git_ignores(tmp_path):
    result = _run({}, "migrate", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # nothing beside it in the working folder
    made = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert "invitebot.db" in made and "invitebot.db.migrate.lock" in made
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *(f"data/{name}" for name in made), "invitebot.db.migrate.lock"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ignored.stdout.split() == [*(f"data/{name}" for name in made), "invitebot.db.migrate.lock"], ignored.stderr
