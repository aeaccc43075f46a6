"""`invitebot policy check` and `invitebot policy test`, run as a person runs them: no Slack tokens, no database."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.core import policy
from tests.support.policies import EXAMPLE

OTHERS = """\
mode: enforce
rules:
  - name: leads-vouch
    when:
      requester: [S0LEADS, W0GRACE]
      reason_present: true
    then: approve
  - name: partners
    when:
      channels: [C0PARTNERS, G0VENDORS]
    then: require_approvals
    count: 3
  - name: no-reason
    when: {reason_present: false}
    then: deny
    reason: "Please say why they should join."
"""


def invitebot(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, with only PATH (and what a test gives) in its environment."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def example(tmp_path) -> Path:
    path = tmp_path / "policy.yml"
    path.write_text(EXAMPLE)
    return path


@pytest.fixture
def others(tmp_path) -> Path:
    path = tmp_path / "others.yml"
    path.write_text(OTHERS)
    return path


def test_check_says_ok_with_the_rules_and_digest(example, tmp_path):
    result = invitebot("policy", "check", str(example), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    digest = policy.load(example).digest
    assert result.stdout == (
        f"{example}: OK — mode shadow, 3 rules (employees → approve, personal-mail → deny, guests → 2 approvals), digest {digest}\n"
    )
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == [example]  # no database, no data folder


def test_check_prints_every_problem_with_its_line_on_stderr(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("mode: enforcing\nrules:\n  - name: a\n    when: {email_domain: [ada@example.com]}\n    then: deny\n")

    result = invitebot("policy", "check", str(bad), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:1: mode is 'enforcing': write shadow (say what a rule would do) or enforce (let rules decide)",
        f"{bad}:3: rule a: a deny rule needs a `reason`: the requester is told it",
        f"{bad}:4: rule a: email_domain: 'ada@example.com' is an email address: write only its domain, example.com",
    ]


@pytest.mark.parametrize("nesting", ["[" * 5000 + "a" + "]" * 5000, "{a: " * 5000 + "b" + "}" * 5000])
def test_check_of_a_file_nested_thousands_deep_names_its_line(tmp_path, nesting):
    """Composing such a file would recurse past Python's limit; it is refused as a problem like any other."""
    deep = tmp_path / "deep.yml"
    deep.write_text(f"mode: shadow\nrules:\n  - name: x\n    when: {{email_domain: {nesting}}}\n    then: approve\n")

    result = invitebot("policy", "check", str(deep), cwd=tmp_path)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{deep}:4: nested more than 20 levels deep; a policy needs only a few"]


def test_check_of_a_missing_file(tmp_path):
    result = invitebot("policy", "check", "nope.yml", cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == ["nope.yml: cannot be read: no such file"]


def test_test_names_the_rule_why_and_what_shadow_mode_means(example, tmp_path):
    result = invitebot("policy", "test", "--email", "ada@example.com", "--team", "T0123", "--file", str(example), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rule employees (line 3) would approve: email domain matches example.com, invite type is full_member, workspace is T0123",
        "mode shadow: a person still decides",
    ]


def test_test_reads_the_file_from_invites_policy_and_needs_no_slack_settings(example, tmp_path):
    result = invitebot("policy", "test", "--email", "bo@gmail.com", cwd=tmp_path, INVITES_POLICY=str(example))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rule employees (line 3) does not match: email domain gmail.com is not example.com or *.example.com; "
        "the workspace is not known (not T0123)",
        "rule personal-mail (line 9) would deny: email domain matches gmail.com",
        "  with the reason: Personal addresses cannot join; please ask for a work address.",
        "mode shadow: a person still decides",
    ]


def test_test_says_why_each_rule_missed_when_none_matches(example, tmp_path):
    result = invitebot("policy", "test", "--email", "bo@other.org", "--team", "T0123", "--file", str(example), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "rule employees (line 3) does not match: email domain other.org is not example.com or *.example.com",
        "rule personal-mail (line 9) does not match: email domain other.org is not gmail.com or outlook.com",
        "rule guests (line 13) does not match: invite type is full_member, not restricted or ultra_restricted",
        "no rule matches: a person decides",
    ]


def test_test_in_enforce_mode_says_what_invitebot_does(others, tmp_path):
    def run(*args: str) -> list[str]:
        result = invitebot("policy", "test", "--file", str(others), *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert run("--email", "a@x.org", "--requester", "W0GRACE", "--reason", "works with us") == [
        "rule leads-vouch (line 3) would approve: requester W0GRACE is listed, a reason is given",
        "mode enforce: invitebot approves it at once",
    ]
    assert run("--email", "a@x.org", "--channel", "C0OTHER", "--channel", "G0VENDORS", "--reason", "vendor")[1:] == [
        "rule partners (line 8) would require 3 approvals: asks for channel G0VENDORS",
        "mode enforce: it is approved once 3 different approvers approve (one deny still denies it)",
    ]
    assert run("--email", "a@x.org")[-3:] == [
        "rule no-reason (line 13) would deny: no reason is given",
        "  with the reason: Please say why they should join.",
        "mode enforce: invitebot denies it at once, with the rule's reason",
    ]


def test_test_holds_a_look_alike_domain_for_a_person_and_leaves_a_malformed_one_to_people(example, tmp_path):
    def run(email: str) -> list[str]:
        result = invitebot("policy", "test", "--file", str(example), "--team", "T0123", "--email", email, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert run("ada@\uff45xample.com") == [  # a fullwidth e: it reads as example.com, but no rule may approve it as that
        "rule employees (line 3) cannot be checked: email domain \\uff45xample.com is written in a look-alike form of "
        "example.com, which a rule never approves",
        "held for a person: no later rule decides",
    ]
    assert run("bo@gmail\u3002com")[:2] == [  # an ideographic full stop
        "rule employees (line 3) does not match: email domain gmail\\u3002com is not example.com or *.example.com",
        "rule personal-mail (line 9) would deny: email domain gmail\\u3002com is written in a look-alike form of gmail.com, "
        "matching gmail.com",
    ]
    assert run("ada@..example.com") == ["the address's domain ..example.com is malformed: no rule applies, a person decides"]


def test_a_user_group_is_not_checked_offline_unless_the_requester_is_said_to_be_in_it(others, tmp_path):
    offline = invitebot("policy", "test", "--file", str(others), "--email", "a@x.org", "--requester", "U0ADA", "--reason", "hi",
                        cwd=tmp_path)
    vouched = invitebot("policy", "test", "--file", str(others), "--email", "a@x.org", "--requester", "U0ADA",
                        "--requester", "S0LEADS", "--reason", "hi", cwd=tmp_path)

    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.splitlines()[0] == (
        "rule leads-vouch (line 3) does not match: requester U0ADA is not among S0LEADS, W0GRACE (group S0LEADS not checked offline)"
    )
    assert offline.stdout.splitlines()[-1] == "no rule matches: a person decides"
    assert vouched.stdout.splitlines() == [
        "rule leads-vouch (line 3) would approve: requester U0ADA is in user group S0LEADS, a reason is given",
        "mode enforce: invitebot approves it at once",
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--email", "a@x.org"], "invitebot policy: no policy file: give --file FILE, or set INVITES_POLICY"),
        (["--email", "ada", "--file", "p.yml"], "invitebot policy: --email 'ada' is not an address like ada@example.com"),
        (["--email", "a@x.org", "--team", "E0ORG", "--file", "p.yml"], "invitebot policy: --team 'E0ORG' is not a workspace id (T…)"),
        (["--email", "a@x.org", "--requester", "@ada", "--file", "p.yml"],
         "invitebot policy: --requester '@ada' is not a user id (U…/W…) or user-group id (S…)"),
        (["--email", "a@x.org", "--requester", "S0LEADS", "--file", "p.yml"],
         "invitebot policy: --requester S… says the requester is in that group: give the requester's user id (U…/W…) too"),
        (["--email", "a@x.org", "--channel", "#general", "--file", "p.yml"],
         "invitebot policy: --channel '#general' is not a channel id (C…/G…)"),
    ],
    ids=["no-file", "email", "team", "requester", "group-alone", "channel"],
)
def test_test_refuses_wrong_arguments(tmp_path, args, says):
    result = invitebot("policy", "test", *args, cwd=tmp_path)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [says]


def test_test_with_a_bad_file_prints_its_problems(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("rules:\n  - name: a\n    then: require_approvals\n")

    result = invitebot("policy", "test", "--email", "a@x.org", cwd=tmp_path, INVITES_POLICY=str(bad))

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{bad}:2: rule a: require_approvals needs `count`: a whole number of different approvers from 2 to 10"
    ]


def test_an_unknown_invite_type_is_refused_by_argparse(example, tmp_path):
    result = invitebot("policy", "test", "--email", "a@x.org", "--type", "guest", "--file", str(example), cwd=tmp_path)

    assert result.returncode == 2
    assert "invalid choice: 'guest'" in result.stderr


def _documented_policies() -> str:
    """The Policies section of the configuration page (its ### subsections included)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()
    return text.split("\n## Policies\n", 1)[1].split("\n## ", 1)[0]


def test_the_documented_examples_load_and_their_commands_print_what_the_page_says(tmp_path):
    section = _documented_policies()
    files = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert len(files) == 2 and files[0] == EXAMPLE
    for n, text in enumerate(files):
        path = tmp_path / f"example-{n}.yml"
        path.write_text(text)
        policy.load(path)  # raises PolicyError if the page's file is wrong
    (tmp_path / "policy.yml").write_text(files[0])
    script = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)[0].splitlines()
    commands = [(n, line) for n, line in enumerate(script) if not line.startswith("#")]
    digest = policy.load(tmp_path / "policy.yml").digest
    for index, (n, line) in enumerate(commands):
        end = commands[index + 1][0] if index + 1 < len(commands) else len(script)
        said = [shown.removeprefix("# ") for shown in script[n + 1 : end]]
        words = shlex.split(line)
        assert words[0] == "invitebot"
        result = invitebot(*words[1:], cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [re.sub(r"digest [0-9a-f]{12}$", f"digest {digest}", shown) for shown in said]
