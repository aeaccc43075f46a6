"""INVITES_POLICY at start-up: a file that cannot be used stops `serve`, `socket` and `sync` before anything starts, with
its `file:line: what` lines and exit status 2; doctor shows each problem; `serve` logs the policy in force once."""

from __future__ import annotations

import json
import re

import pytest

from app.core import policy
from tests.support.policies import EXAMPLE
from tests.test_cli_errors import _run
from tests.test_doctor import _doctor, _row, migrated  # noqa: F401  (migrated is a fixture)

BAD = "mode: shadow\nrules:\n  - name: guests\n    when: {invite_type: [guest]}\n    then: require_approvals\n"


@pytest.fixture
def bad_file(tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text(BAD)
    return path


def bad_lines(path) -> list[str]:
    return [
        f"{path}:3: rule guests: require_approvals needs `count`: a whole number of different approvers from 2 to 10",
        f"{path}:4: rule guests: invite_type: 'guest' is not an invite type: write full_member, restricted, ultra_restricted",
    ]


@pytest.mark.parametrize("args", [["serve", "--host", "127.0.0.1", "--port", "0"], ["socket"], ["sync"]], ids=lambda a: a[0])
def test_a_bad_policy_stops_the_command_before_anything_starts(tmp_path, bad_file, args):
    database = tmp_path / "invitebot.db"  # its folder exists: only the policy can stop the command

    result = _run(args, f"sqlite:///{database}", tmp_path, INVITES_POLICY=str(bad_file))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == bad_lines(bad_file)
    assert result.stdout == ""
    assert not database.exists()  # checked before the database is opened or migrated


def test_serve_refuses_a_policy_nested_thousands_deep_with_its_line(tmp_path):
    deep = tmp_path / "policy.yml"
    deep.write_text("mode: shadow\nrules: " + "[" * 5000 + "]" * 5000 + "\n")
    database = tmp_path / "invitebot.db"

    result = _run(["serve", "--host", "127.0.0.1", "--port", "0"], f"sqlite:///{database}", tmp_path, INVITES_POLICY=str(deep))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"{deep}:2: nested more than 20 levels deep; a policy needs only a few"]
    assert not database.exists()


def test_doctor_shows_each_problem_and_still_runs_the_other_checks(fake, migrated, bad_file):  # noqa: F811
    result = _doctor(fake, migrated, INVITES_POLICY=str(bad_file))

    assert result.returncode == 1, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("policy  ")]
    assert [row.split("FAIL", 1)[1].strip() for row in rows] == bad_lines(bad_file)
    assert result.stdout.count("- policy: ") == 1  # the fix is given once
    assert "`invitebot policy check FILE` checks it again" in result.stdout
    assert _row(result.stdout, "database")[0] == "ok"
    assert _row(result.stdout, "SLACK_BOT_TOKEN (auth.test)")[0] == "ok"
    assert re.search(r"^2 of \d+ checks failed\.$", result.stdout, re.MULTILINE)


def test_doctor_shows_a_good_policy(fake, migrated, tmp_path):  # noqa: F811
    path = tmp_path / "good.yml"
    path.write_text(EXAMPLE)

    result = _doctor(fake, migrated, INVITES_POLICY=str(path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert _row(result.stdout, "policy") == ("ok", f"{path}: {policy.load(path).summary()}")


def test_doctor_without_a_policy(fake, migrated):  # noqa: F811
    result = _doctor(fake, migrated)

    assert _row(result.stdout, "policy") == ("ok", "none (INVITES_POLICY is not set): people decide every request")


def test_serve_logs_the_policy_in_force_once(serve_process, tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text(EXAMPLE)

    url = serve_process(INVITES_POLICY=str(path))

    lines = serve_process.output[url].text().splitlines()  # up to "invitebot listening on …"
    logged = [json.loads(line) for line in lines if '"policy active' in line]
    assert [entry["message"] for entry in logged] == [f"policy active: {path}, {policy.load(path).summary()}"]
    assert logged[0]["level"] == "info"
