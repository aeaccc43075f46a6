"""A missing or malformed setting stops start-up with one line naming it, and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import settings_env


def _run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SLACK_SIGNING_SECRET", None, "SLACK_SIGNING_SECRET is not set"),
        ("SLACK_ADMIN_TOKEN", "xoxb-a-bot-token", "SLACK_ADMIN_TOKEN is invalid: must start with xoxp-"),
        ("INVITES_CHANNEL", "#approvals", "INVITES_CHANNEL is invalid"),
        ("INVITES_APPROVERS", "grace", "INVITES_APPROVERS is invalid"),
        ("INVITES_SYNC_INTERVAL", "soon", "INVITES_SYNC_INTERVAL is invalid"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL is invalid"),
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
