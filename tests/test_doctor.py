"""`invitebot doctor` against the stand-in: all green on a good install, and each fault named with its fix."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from app.store.db import make_engine
from app.store.migrate import upgrade_to_head
from tests.support.bots import settings_env
from tests.support.stand_in import APPROVER, APPROVER_GROUP, CHANNEL, OTHER_TEAM, TEAM
from tests.test_cli_errors import closed_port

# Advice for token and scope problems, which must not be given when Slack simply cannot be reached.
TOKEN_AND_SCOPE_ADVICE = ("OAuth Token", "reinstall", "usergroups:read", "not a user group Slack knows", "Block Kit")


def _doctor(fake, database_url, *, unset=(), cwd=None, **overrides):
    env = settings_env(fake, database_url, **overrides)
    for name in unset:
        del env[name]
    return subprocess.run(
        [sys.executable, "-m", "app", "doctor"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


def _row(stdout, name):
    """The table row of one check: (result, detail)."""
    for line in stdout.splitlines():
        if line.startswith(name + "  "):
            result, _, detail = line[len(name):].strip().partition("  ")
            return result.strip(), detail.strip()
    raise AssertionError(f"no row {name!r} in:\n{stdout}")


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
                 f"post in {CHANNEL}", "approver group S0APPROVE1", "request card (blocks.validate)",
                 "upload files (files.getUploadURLExternal)"):
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
        (("chat.postMessage", "not_in_channel"), "Invite the bot to that channel"),
        (("usergroups.users.list", "no_such_subteam"), "not a user group Slack knows"),
        (("blocks.validate", "invalid_blocks"), "sample invite request card"),
        (("admin.inviteRequests.list", "missing_scope"), "lacks admin.invites:read"),
        (("files.getUploadURLExternal", "missing_scope"), "lacks files:write"),
        (("admin.inviteRequests.list", "internal_error"), "Run `invitebot doctor` again in a minute."),
    ],
)
def test_each_fault_fails_with_its_fix(fake, migrated, fault, says):
    method, code = fault
    # auth.test is asked once per token; internal_error is retried twice before it counts.
    fake.fail_next(method, code, times=2 if method == "auth.test" else 3 if code == "internal_error" else 1)

    result = _doctor(fake, migrated)

    assert result.returncode == 1
    assert code in result.stdout and says in result.stdout
    assert "checks failed." in result.stdout
    assert "Nothing was decided" not in result.stdout  # doctor decides nothing
    assert "cannot reach Slack" not in result.stdout
    assert fake.admin_token not in result.stdout + result.stderr


def test_every_setting_problem_is_a_row_and_the_database_is_still_checked(fake, migrated):
    missing = ("SLACK_BOT_TOKEN", "SLACK_ADMIN_TOKEN", "INVITES_CHANNEL", "INVITES_APPROVERS", "INVITES_TEAM_IDS")

    result = _doctor(fake, migrated, unset=missing, INVITES_SYNC_INTERVAL="5")

    assert result.returncode == 1, result.stdout + result.stderr
    for name in missing:
        assert _row(result.stdout, name) == ("FAIL", "not set")
        assert f"- {name}: Set {name} to " in result.stdout
    assert _row(result.stdout, "INVITES_SYNC_INTERVAL") == (
        "FAIL", "'5' is not a number of seconds from 10 to 86400 (for example 300)"
    )
    assert _row(result.stdout, "database")[0] == "ok"
    assert _row(result.stdout, "SLACK_BOT_TOKEN (auth.test)") == ("skip", "not run: needs SLACK_BOT_TOKEN (see above)")
    assert _row(result.stdout, "post in the approvals channel")[0] == "skip"
    # 18: with the policy's row, those of what `serve` and `socket` need, and the processes running
    assert "6 of 18 checks failed. 7 could not run until those are fixed." in result.stdout
    assert fake.calls() == []  # nothing was sent to Slack with a stand-in for a missing token


@pytest.mark.parametrize(
    "bad",
    [
        {"INVITES_ADMIN_CALLS_PER_MINUTE": "0"},
        {"INVITES_CARD_POSTS_PER_MINUTE": "fast"},
        {"INVITES_ALLOW_SELF_APPROVAL": "sometimes"},
        {"INVITES_REMIND_AFTER": "soon"},
        {"INVITES_ESCALATE_AFTER": "soon", "INVITES_ESCALATE_TO": "C0LEADS01"},
        {"INVITES_ESCALATE_AFTER": "1d", "INVITES_ESCALATE_TO": "#leads"},
    ],
    ids=lambda bad: "+".join(bad),
)
def test_every_later_setting_has_a_stand_in_so_the_other_checks_still_run(fake, migrated, bad):
    result = _doctor(fake, migrated, **bad)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert any(line.startswith(f"{name}  ") and " FAIL " in line for line in result.stdout.splitlines() for name in bad)
    assert _row(result.stdout, "database")[0] == "ok"
    assert _row(result.stdout, "SLACK_BOT_TOKEN (auth.test)")[0] == "ok"


def test_checks_a_bad_setting_does_not_hold_back_still_run(fake, migrated):
    result = _doctor(fake, migrated, INVITES_CHANNEL="#approvals")

    assert result.returncode == 1, result.stdout + result.stderr
    assert _row(result.stdout, "INVITES_CHANNEL")[1].startswith("'#approvals' is a channel's name; write the approvals")
    for name in ("database", "SLACK_BOT_TOKEN (auth.test)", f"list invite requests in {TEAM}", f"approver group {APPROVER_GROUP}"):
        assert _row(result.stdout, name)[0] == "ok", name
    assert _row(result.stdout, "post in the approvals channel") == ("skip", "not run: needs INVITES_CHANNEL (see above)")
    assert fake.calls("chat.postMessage") == []


def test_doctor_creates_no_database(fake, tmp_path):
    result = _doctor(fake, "", unset=("DATABASE_URL",), cwd=tmp_path)

    assert _row(result.stdout, "database") == ("FAIL", f"no database file at {tmp_path / 'data' / 'invitebot.db'} yet")
    assert "- database: Run `invitebot migrate`." in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_slack_out_of_reach_is_told_apart_from_token_problems(fake, migrated):
    api_url = f"http://127.0.0.1:{closed_port()}/api/"

    result = _doctor(fake, migrated, SLACK_API_URL=api_url)

    assert result.returncode == 1
    assert _row(result.stdout, "SLACK_BOT_TOKEN (auth.test)") == (
        "FAIL", f"cannot reach Slack at {api_url} (network_error: Connection refused)"  # the cause the log has
    )
    assert "Nothing answered at that address: check SLACK_API_URL" in result.stdout
    assert _row(result.stdout, "SLACK_ADMIN_TOKEN (auth.test)") == ("skip", f"not run: cannot reach Slack at {api_url}")
    assert _row(result.stdout, "database")[0] == "ok"
    for advice in (*TOKEN_AND_SCOPE_ADVICE, "Nothing was decided"):
        assert advice not in result.stdout, advice


class _NotSlack(BaseHTTPRequestHandler):
    """A web server that is not Slack's Web API: every request gets an HTML 404."""

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = b"<html>Not Found</html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_an_address_that_is_not_slacks_api_is_named_as_such(fake, migrated):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotSlack)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{server.server_port}/api/"
    try:
        result = _doctor(fake, migrated, SLACK_API_URL=api_url)
    finally:
        server.shutdown()
        server.server_close()

    assert result.returncode == 1
    assert _row(result.stdout, "SLACK_BOT_TOKEN (auth.test)") == ("FAIL", f"cannot reach Slack at {api_url} (http_error)")
    assert "Something answered, but not as Slack's Web API" in result.stdout
    for advice in (*TOKEN_AND_SCOPE_ADVICE, "Nothing was decided"):
        assert advice not in result.stdout, advice


def test_a_group_named_in_the_wrong_workspace_gets_the_s_at_t_fix(fake, migrated):
    result = _doctor(fake, migrated, INVITES_APPROVERS=f"{APPROVER},{APPROVER_GROUP}@{OTHER_TEAM}")

    assert result.returncode == 1
    assert f"no_such_subteam in {OTHER_TEAM}" in result.stdout
    assert f"names {APPROVER_GROUP}@{OTHER_TEAM}, but {OTHER_TEAM} has no such user group" in result.stdout


def test_a_group_found_by_searching_suggests_naming_its_workspace(fake, migrated):
    result = _doctor(fake, migrated)

    assert f"in {TEAM} (write {APPROVER_GROUP}@{TEAM} to skip the search)" in result.stdout


def test_an_org_level_group_is_checked_in_the_org(fake, migrated):
    fake.add_usergroup("S0IDPADMIN", team_id=fake.enterprise_id, handle="idp-invite-admins", user_ids=[APPROVER])

    result = _doctor(fake, migrated, INVITES_APPROVERS=f"S0IDPADMIN@{fake.enterprise_id}")

    assert result.returncode == 0, result.stdout
    assert _row(result.stdout, "approver group S0IDPADMIN") == ("ok", f"1 members in the org {fake.enterprise_id} (an org-level group)")
    assert {c.params["team_id"] for c in fake.calls("usergroups.users.list")} == {fake.enterprise_id}


def test_an_org_level_group_named_with_another_org_gets_the_orgs_id(fake, migrated):
    fake.add_usergroup("S0IDPADMIN", team_id=fake.enterprise_id, handle="idp-invite-admins", user_ids=[APPROVER])

    result = _doctor(fake, migrated, INVITES_APPROVERS="S0IDPADMIN@E0ANOTHER")

    assert result.returncode == 1
    assert _row(result.stdout, "approver group S0IDPADMIN") == ("FAIL", "E0ANOTHER is not invitebot's org")
    assert f"invitebot is installed on the org {fake.enterprise_id}: write S0IDPADMIN@{fake.enterprise_id}." in result.stdout


def test_an_escalation_channel_the_bot_is_not_in_fails_with_the_invite_fix(fake, migrated):
    fake.add_channel("C0LEADS001", name="invite-leads", team_id=TEAM, bot_member=False)
    escalating = {"INVITES_ESCALATE_AFTER": "1d", "INVITES_ESCALATE_TO": "C0LEADS001"}

    result = _doctor(fake, migrated, **escalating)

    assert result.returncode == 1, result.stdout
    outcome, detail = _row(result.stdout, "post in C0LEADS001")
    assert outcome == "FAIL" and "not_in_channel" in detail, detail
    assert "Invite the bot to that channel (/invite @invitebot in it); INVITES_ESCALATE_TO names it." in result.stdout
    assert _row(result.stdout, f"post in {CHANNEL}")[0] == "ok"

    fake.add_channel("C0LEADS001", name="invite-leads", team_id=TEAM)  # the bot is invited
    assert _doctor(fake, migrated, **escalating).returncode == 0


def test_escalating_by_mentioning_a_group_needs_no_channel_check(fake, migrated):
    result = _doctor(fake, migrated, INVITES_ESCALATE_AFTER="1d", INVITES_ESCALATE_TO=APPROVER_GROUP)

    assert result.returncode == 0, result.stdout
    assert f"post in {APPROVER_GROUP}" not in result.stdout


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_doctor_warns_when_the_replicas_running_would_hold_more_connections_than_the_server_allows(fake, migrated):
    """Each replica's heartbeat says how many connections it may hold (INVITES_DB_POOL_SIZE + 1); doctor adds them up."""
    engine = make_engine(migrated)
    with engine.begin() as connection:
        limit = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
        reserved += int(connection.exec_driver_sql("SELECT current_setting('reserved_connections', true)").scalar() or 0)
        replicas = (limit - reserved) // 11 + 1
        for n in range(replicas):
            connection.execute(
                text("INSERT INTO replicas (id, connections, seen_at) VALUES (:id, 11, now())"), {"id": f"host-{n}:1:ab"}
            )

    crowded = _doctor(fake, migrated)

    result, detail = _row(crowded.stdout, "database connections")
    assert result == "FAIL" and f"{replicas} replicas seen in the last minute may hold {replicas * 11} connections" in detail
    assert f"max_connections {limit}" in detail
    assert "database connections: Each replica holds up to INVITES_DB_POOL_SIZE + 1 connections" in crowded.stdout

    with engine.begin() as connection:
        connection.execute(text("DELETE FROM replicas WHERE id <> 'host-0:1:ab'"))
    engine.dispose()
    result, detail = _row(_doctor(fake, migrated).stdout, "database connections")
    assert result == "ok" and "1 replica seen in the last minute may hold 11 of the" in detail
    assert f"room for {(limit - reserved - 11) // 11} more replicas of INVITES_DB_POOL_SIZE=10" in detail


def test_a_command_that_would_refuse_to_start_is_a_failure_naming_the_command(fake, migrated):
    result = _doctor(fake, migrated, unset=["SLACK_SIGNING_SECRET"])  # and no SLACK_APP_TOKEN: neither can start

    assert result.returncode == 1
    assert _row(result.stdout, "start `invitebot serve`") == ("FAIL", "it refuses to start: SLACK_SIGNING_SECRET is not set")
    assert _row(result.stdout, "start `invitebot socket`") == ("FAIL", "it refuses to start: SLACK_APP_TOKEN is not set")
    assert "All checks passed." not in result.stdout


def test_the_command_that_can_start_is_named_when_the_other_is_not_set_up(fake, migrated):
    result = _doctor(fake, migrated)

    assert _row(result.stdout, "start `invitebot serve`") == ("ok", "SLACK_SIGNING_SECRET is set")
    assert _row(result.stdout, "start `invitebot socket`") == (
        "ok", "not set up (SLACK_APP_TOKEN is not set): run `invitebot serve`, which is"
    )
