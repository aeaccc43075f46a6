"""`invitebot doctor` against the stand-in: all green on a good install, and each fault named with its fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.store.db import make_engine
from app.store.migrate import upgrade_to_head
from tests.conftest import APPROVER, APPROVER_GROUP, CHANNEL, OTHER_TEAM, TEAM, settings_env


def _doctor(fake, database_url, **overrides):
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor"],
        env={"PATH": "/usr/bin:/bin", **settings_env(fake, database_url, **overrides)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def migrated(database_url):
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    engine.dispose()
    return database_url


def test_a_good_installation_passes_every_check(fake, migrated):
    result = _doctor(fake, migrated)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout
    for name in ("database", "SLACK_BOT_TOKEN (auth.test)", "SLACK_ADMIN_TOKEN (auth.test)", "list invite requests in T0ALPHA01",
                 f"post in {CHANNEL}", "approver group S0APPROVE1", "request card (blocks.validate)"):
        assert name in result.stdout
    assert fake.messages(CHANNEL) == []  # the test post was removed again


def test_pending_migrations_are_reported(fake, database_url):
    result = _doctor(fake, database_url)

    assert result.returncode == 1
    assert "Run `invitebot migrate`." in result.stdout


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        (("auth.test", "invalid_auth"), "User OAuth Token (xoxp-)"),
        (("admin.inviteRequests.list", "not_an_admin"), "org admin or owner"),
        (("chat.postMessage", "not_in_channel"), "Invite the bot to the approvals channel"),
        (("usergroups.users.list", "no_such_subteam"), "not a user group Slack knows"),
        (("blocks.validate", "invalid_blocks"), "sample invite request card"),
    ],
)
def test_each_fault_fails_with_its_fix(fake, migrated, fault, says):
    method, code = fault
    fake.fail_next(method, code, times=2 if method == "auth.test" else 1)

    result = _doctor(fake, migrated)

    assert result.returncode == 1
    assert code in result.stdout and says in result.stdout
    assert "checks failed." in result.stdout
    assert fake.admin_token not in result.stdout + result.stderr


def test_a_group_named_in_the_wrong_workspace_gets_the_s_at_t_fix(fake, migrated):
    result = _doctor(fake, migrated, INVITES_APPROVERS=f"{APPROVER},{APPROVER_GROUP}@{OTHER_TEAM}")

    assert result.returncode == 1
    assert f"no_such_subteam in {OTHER_TEAM}" in result.stdout
    assert f"names {APPROVER_GROUP}@{OTHER_TEAM}, but {OTHER_TEAM} has no such user group" in result.stdout


def test_a_group_found_by_searching_suggests_naming_its_workspace(fake, migrated):
    result = _doctor(fake, migrated)

    assert f"in {TEAM} (write {APPROVER_GROUP}@{TEAM} to skip the search)" in result.stdout
