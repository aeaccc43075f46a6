"""The policy file: each condition and first-match order, domain patterns, and every problem load() reports, with its
line."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from app.core import policy
from app.core.policy import Conditions, Facts, Hold, Mode, Policy, PolicyError, Rule, Then, evaluate, explain
from tests.support.policies import EXAMPLE
from tests.support.rows import request_row


def facts(email: str = "ada@example.com", **kw: object) -> Facts:
    values: dict[str, object] = {"invite_type": "full_member", "team_id": "T0123"}
    values.update(kw)
    return Facts(email=email, **values)  # type: ignore[arg-type]


def rule(name: str = "r", then: Then = Then.APPROVE, **when: object) -> Rule:
    return Rule(name=name, when=Conditions(**when), then=then)  # type: ignore[arg-type]


def one(**when: object) -> Policy:
    return Policy(Mode.SHADOW, (rule(**when),))


def write(tmp_path, text: str, name: str = "policy.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems(tmp_path, text: str) -> list[str]:
    """load()'s problems for `text`, with the file's path taken off the front: 'LINE: what'."""
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        policy.load(path)
    assert str(caught.value) == "\n".join(caught.value.problems)
    prefix = f"{path}:"
    assert all(line.startswith(prefix) for line in caught.value.problems), caught.value.problems
    return [line[len(prefix):] for line in caught.value.problems]


# -- loading ------------------------------------------------------------------------------------------------------------


def test_the_example_file_loads_with_its_lines_and_digest(tmp_path):
    path = write(tmp_path, EXAMPLE)

    loaded = policy.load(path)

    assert loaded.mode is Mode.SHADOW and not loaded.enforcing
    assert loaded.path == str(path)
    assert loaded.digest == hashlib.sha256(EXAMPLE.encode()).hexdigest()[:12]
    assert [(r.name, r.then, r.line) for r in loaded.rules] == [
        ("employees", Then.APPROVE, 3),
        ("personal-mail", Then.DENY, 9),
        ("guests", Then.REQUIRE_APPROVALS, 13),
    ]
    employees, personal, guests = loaded.rules
    assert employees.when == Conditions(email_domain=("example.com", "*.example.com"), invite_type=("full_member",), team=("T0123",))
    assert personal.reason == "Personal addresses cannot join; please ask for a work address." and personal.count is None
    assert guests.count == 2 and guests.reason is None
    assert loaded.summary() == (
        f"mode shadow, 3 rules (employees → approve, personal-mail → deny, guests → 2 approvals), digest {loaded.digest}"
    )


def test_the_other_conditions_load(tmp_path):
    path = write(
        tmp_path,
        """\
        mode: enforce
        rules:
          - name: leads-vouch
            when:
              requester: [S0LEADS, W0GRACE, U0ADA]
              reason_present: yes
              channels: C0PARTNERS
            then: approve
          - name: catch-all
            then: require_approvals
            count: 0x3
        """,
    )

    loaded = policy.load(path)

    assert loaded.enforcing
    vouch, catch_all = loaded.rules
    assert vouch.when == Conditions(requester=("S0LEADS", "W0GRACE", "U0ADA"), reason_present=True, channels=("C0PARTNERS",))
    assert catch_all.when == Conditions() and catch_all.count == 3  # no `when`: every request


def test_mode_defaults_to_shadow_and_domains_are_kept_in_lower_case(tmp_path):
    loaded = policy.load(write(tmp_path, "rules:\n  - {name: a, when: {email_domain: [Example.COM]}, then: approve}\n"))

    assert loaded.mode is Mode.SHADOW
    assert loaded.rules[0].when.email_domain == ("example.com",)


def test_the_digest_changes_with_any_byte(tmp_path):
    first = policy.load(write(tmp_path, EXAMPLE, "a.yml")).digest
    second = policy.load(write(tmp_path, EXAMPLE + "# a comment\n", "b.yml")).digest

    assert len(first) == 12 and first != second


# -- evaluation ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "holds", "misses", "why"),
    [
        ({"email_domain": ("example.com",)}, facts(), facts("ada@gmail.com"), "email domain matches example.com"),
        ({"invite_type": ("restricted",)}, facts(invite_type="restricted"), facts(), "invite type is restricted"),
        ({"team": ("T0123",)}, facts(), facts(team_id="T0999"), "workspace is T0123"),
        ({"team": ("T0123",)}, facts(), facts(team_id=None), "workspace is T0123"),
        ({"requester": ("U0ADA",)}, facts(requester_ids=("U0BOB", "U0ADA")), facts(requester_ids=("U0BOB",)), "requester U0ADA is listed"),
        ({"requester": ("U0ADA",)}, facts(requester_ids=("U0ADA",)), facts(), "requester U0ADA is listed"),
        ({"reason_present": True}, facts(reason="a colleague"), facts(reason="   "), "a reason is given"),
        ({"reason_present": False}, facts(reason=None), facts(reason="a colleague"), "no reason is given"),
        ({"channels": ("C0ONE", "C0TWO")}, facts(channel_ids=("C0X", "C0TWO")), facts(channel_ids=("C0X",)), "asks for channel C0TWO"),
    ],
)
def test_each_condition(when, holds, misses, why):
    match = evaluate(one(**when), holds)
    assert match is not None and match.why == (why,)
    assert evaluate(one(**when), misses) is None


def test_a_requester_in_a_listed_group_matches_and_a_lookup_is_not_made_without_need():
    asked: list[tuple[str, str]] = []

    def member_of(group: str, user: str) -> bool:
        asked.append((group, user))
        return (group, user) == ("S0LEADS", "U0ADA")

    grouped = one(requester=("S0LEADS",))
    match = evaluate(grouped, facts(requester_ids=("U0BOB", "U0ADA")), member_of)
    assert match is not None and match.why == ("requester U0ADA is in user group S0LEADS",)
    assert evaluate(grouped, facts(requester_ids=("U0ADA",))) == Hold(grouped.rules[0], "the user group S0LEADS could not be read")

    asked.clear()
    mixed = Policy(Mode.SHADOW, (rule(email_domain=("gmail.com",), requester=("S0LEADS",)),))
    assert evaluate(mixed, facts(requester_ids=("U0ADA",)), member_of) is None
    assert asked == []  # the domain already failed: no user-group lookup (it can be a Slack call)


CONTRACTORS = Policy(
    Mode.ENFORCE,
    (
        rule("contractors", Then.DENY, requester=("S0CONTRACT",)),
        rule("employees", Then.APPROVE, email_domain=("example.com",)),
    ),
)


@pytest.mark.parametrize(("member", "expected"), [(True, "contractors"), (False, "employees")])
def test_a_group_that_can_be_read_decides_which_rule_fires(member, expected):
    found = evaluate(CONTRACTORS, facts(requester_ids=("U0ADA",)), lambda group, user: member)

    assert isinstance(found, policy.Match) and found.rule.name == expected


def test_a_deny_that_cannot_be_checked_holds_the_request_instead_of_letting_a_later_approve_fire():
    unreadable = evaluate(CONTRACTORS, facts(requester_ids=("U0ADA",)), lambda group, user: None)

    assert unreadable == Hold(CONTRACTORS.rules[0], "the user group S0CONTRACT could not be read")


def test_a_rule_that_misses_on_another_condition_needs_no_group_and_holds_nothing():
    limited = rule("contractors", Then.DENY, requester=("S0CONTRACT",), team=("T0OTHER",))
    elsewhere = Policy(Mode.ENFORCE, (limited, CONTRACTORS.rules[1]))

    found = evaluate(elsewhere, facts(requester_ids=("U0ADA",)), lambda group, user: None)

    assert isinstance(found, policy.Match) and found.rule.name == "employees"


def test_a_look_alike_domain_is_caught_by_a_deny_but_never_approved(tmp_path):
    loaded = policy.load(write(tmp_path, """\
        mode: enforce
        rules:
          - {name: personal, when: {email_domain: [gmail.com]}, then: deny, reason: Use a work address.}
          - {name: kpmg, when: {email_domain: [kpmg.com]}, then: approve}
          - {name: subsidiaries, when: {email_domain: ["*.example.com"]}, then: approve}
        """))

    for look_alike in ("ada@\uff47mail.com", "ada@gmail\u3002com", "ada@GMAIL.com"):
        found = evaluate(loaded, facts(look_alike))
        assert isinstance(found, policy.Match) and found.rule.name == "personal", look_alike
    assert evaluate(loaded, facts("ada@kpmg.com")).rule.name == "kpmg"
    assert evaluate(loaded, facts("ada@\u212apmg.com")) == Hold(
        loaded.rules[1], "email domain \\u212apmg.com is written in a look-alike form of kpmg.com, which a rule never approves"
    )
    assert evaluate(loaded, facts("ada@..example.com")) == Hold(None, "the address's domain ..example.com is malformed")
    assert evaluate(loaded, facts("ada@mail.example.com")).rule.name == "subsidiaries"


def test_a_malformed_domain_matches_no_rule_at_all():
    catch_all = Policy(Mode.ENFORCE, (rule("everyone", Then.APPROVE),))

    assert evaluate(catch_all, facts("ada@example..com")) == Hold(None, "the address's domain example..com is malformed")


def test_rule_domains_are_kept_in_their_ascii_form(tmp_path):
    domains = "[B\u00fccher.de, '*.\uff47mail.com']"
    loaded = policy.load(write(tmp_path, f"rules:\n  - {{name: a, when: {{email_domain: {domains}}}, then: deny, reason: r}}\n"))

    assert loaded.rules[0].when.email_domain == ("xn--bcher-kva.de", "*.gmail.com")
    assert evaluate(loaded, facts("ada@b\u00fccher.de")).rule.name == "a"


def test_explain_names_what_cannot_be_checked():
    explained = explain(CONTRACTORS.rules[0], facts(requester_ids=("U0ADA",)), lambda group, user: None)

    assert not explained.matches and explained.missed == ()
    assert explained.unchecked == ("the user group S0CONTRACT could not be read",)


def test_every_condition_of_a_rule_must_hold():
    both = one(email_domain=("example.com",), invite_type=("full_member",))

    assert evaluate(both, facts()).why == ("email domain matches example.com", "invite type is full_member")
    assert evaluate(both, facts(invite_type="restricted")) is None
    assert evaluate(both, facts("ada@gmail.com")) is None


def test_the_first_matching_rule_wins_and_no_match_is_none(tmp_path):
    loaded = policy.load(write(tmp_path, EXAMPLE))

    assert evaluate(loaded, facts()).rule.name == "employees"
    assert evaluate(loaded, facts("bo@gmail.com", invite_type="restricted")).rule.name == "personal-mail"  # before guests
    assert evaluate(loaded, facts("bo@example.com", invite_type="restricted")).rule.name == "guests"  # employees missed
    assert evaluate(loaded, facts("bo@other.org")) is None


def test_a_rule_without_conditions_matches_everything():
    match = evaluate(Policy(Mode.SHADOW, (rule(), rule("never"))), facts("x@y.org", team_id=None))

    assert match.rule.name == "r" and match.why == ("the rule has no conditions",)


def test_facts_come_from_the_stored_request():
    stored = request_row(email="ada@example.com", requester_ids=["U0ADA"], channel_ids=["C0ONE"], reason="hi", invite_type="restricted")

    assert Facts.of(stored) == Facts("ada@example.com", "restricted", stored.team_id, ("U0ADA",), "hi", ("C0ONE",))


def test_explain_says_every_condition_that_missed():
    two = rule(email_domain=("example.com", "*.example.com"), invite_type=("full_member",), team=("T0123",))

    missed = explain(two, facts("bo@gmail.com", invite_type="restricted", team_id=None))

    assert not missed.matches
    assert missed.missed == (
        "email domain gmail.com is not example.com or *.example.com",
        "invite type is restricted, not full_member",
        "the workspace is not known (not T0123)",
    )
    assert explain(two, facts()).matches and explain(two, facts()).held == (
        "email domain matches example.com", "invite type is full_member", "workspace is T0123",
    )
    nobody = lambda group, user: False  # noqa: E731
    assert explain(rule(requester=("S0LEADS", "U0ADA")), facts(requester_ids=("U0BOB", "U0CY")), nobody).missed == (
        "requesters U0BOB, U0CY are not among S0LEADS, U0ADA",
    )
    assert explain(rule(requester=("U0ADA",)), facts()).missed == ("no requester is known",)
    assert explain(rule(channels=("C0ONE",)), facts()).missed == ("asks for none of the channels C0ONE",)


# -- problems -------------------------------------------------------------------------------------------------------------


def test_a_missing_file_and_a_folder_cannot_be_read(tmp_path):
    for path, why in ((tmp_path / "nope.yml", "no such file"), (tmp_path, "it is a folder, not a file")):
        with pytest.raises(PolicyError) as caught:
            policy.load(path)
        assert caught.value.problems == [f"{path}: cannot be read: {why}"]


def test_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "policy.yml"
    path.write_bytes(b"mode: shadow\nrules:\n  - name: caf\xe9\n")

    with pytest.raises(PolicyError) as caught:
        policy.load(str(path))

    assert caught.value.problems == [f"{path}:3: not UTF-8 text (byte 0xe9): save the file as UTF-8"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mode: shadow\nrules: [\n", "3: not valid YAML: while parsing a flow node, expected the node content, but found '<stream end>'"),
        ("mode: shadow\nrules:\n\t- name: x\n", "3: not valid YAML: a tab character: YAML indents with spaces only"),
        ("mode: shadow\n  rules: x\n", "2: not valid YAML: mapping values are not allowed here"),
        ("mode: shadow\n---\nrules: []\n", "2: not valid YAML: expected a single document in the stream, but found another document"),
        ("mode: shadow\nrules: \x07\n", "2: not valid YAML: character #x0007 is not allowed (a control character?)"),
    ],
    ids=["unclosed", "tab", "indent", "two-documents", "control-character"],
)
def test_not_yaml_names_its_line(tmp_path, text, expected):
    path = tmp_path / "policy.yml"
    path.write_text(text)

    with pytest.raises(PolicyError) as caught:
        policy.load(path)

    assert caught.value.problems == [f"{path}:{expected}"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["1: the file is empty: it should hold `mode` and a list of `rules`"]),
        ("# only a comment\n", ["1: the file is empty: it should hold `mode` and a list of `rules`"]),
        ("\n- name: a\n", ["2: the file should be a mapping with `mode` and `rules`, not a list"]),
        ("enforce\n", ["1: the file should be a mapping with `mode` and `rules`, not 'enforce'"]),
        ("# policy\nmode: shadow\n", ["2: no `rules`: add a list of rules, each with a name, when and then"]),
        ("mode: shadow\nrules:\n", ["2: rules is empty: add at least one rule, or unset INVITES_POLICY"]),
        ("mode: shadow\nrules: []\n", ["2: rules is empty: add at least one rule, or unset INVITES_POLICY"]),
        ("rules: {name: a}\n", ["1: rules should be a list of rules (each starting with '- name:'), not a mapping"]),
    ],
    ids=["empty", "comment-only", "a-list", "a-word", "no-rules", "rules-null", "rules-empty", "rules-mapping"],
)
def test_the_shape_of_the_file(tmp_path, text, expected):
    assert problems(tmp_path, text) == expected


RULE = "  - name: a\n    when: {email_domain: [example.com]}\n    then: approve\n"


@pytest.mark.parametrize(
    ("top", "expected"),
    [
        ("mode: enforcing\n", "1: mode is 'enforcing': write shadow (say what a rule would do) or enforce (let rules decide)"),
        ("mode: Shadow\n", "1: mode is 'Shadow': write shadow (say what a rule would do) or enforce (let rules decide)"),
        ("mode:\n", "1: mode is empty: write shadow (say what a rule would do) or enforce (let rules decide)"),
        ("mode: [shadow]\n", "1: mode is a list: write shadow (say what a rule would do) or enforce (let rules decide)"),
        ("modes: shadow\n", "1: unknown top-level key 'modes': did you mean mode? expected mode, rules"),
        ("owner: ops\n", "1: unknown top-level key 'owner': expected mode, rules"),
        ("mode: shadow\nmode: enforce\n", "2: mode is given twice (first at line 1)"),
    ],
    ids=["mode-word", "mode-case", "mode-empty", "mode-list", "near-key", "unknown-key", "twice"],
)
def test_top_level_problems(tmp_path, top, expected):
    assert problems(tmp_path, top + "rules:\n" + RULE) == [expected]


@pytest.mark.parametrize(
    ("rule_text", "expected"),
    [
        # names
        ("  - when: {team: [T0123]}\n    then: approve\n", ["2: rule 1: it has no name: add `name:` (up to 32 letters, digits, '-', '_' or '.')"]),
        ("  - name:\n    then: approve\n", ["2: rule 1: name is empty: write up to 32 letters, digits, '-', '_' or '.'"]),
        ("  - name: ''\n    then: approve\n", ["2: rule 1: name is empty: write up to 32 letters, digits, '-', '_' or '.'"]),
        ("  - name: [a]\n    then: approve\n", ["2: rule 1: name is a list: write up to 32 letters, digits, '-', '_' or '.'"]),
        ("  - name: personal mail\n    then: approve\n",
         ["2: rule 1: name 'personal mail' may hold only letters, digits, '-', '_' and '.' (it is stored as the decider's id)"]),
        (f"  - name: {'n' * 33}\n    then: approve\n",
         [f"2: rule 1: name '{'n' * 33}' is longer than 32 characters (it is stored as the decider's id)"]),
        # then
        ("  - name: a\n    when: {team: [T0123]}\n", ["2: rule a: it has no `then`: write approve, deny, require_approvals"]),
        ("  - name: a\n    then: approved\n", ["3: rule a: then is 'approved': did you mean approve? write approve, deny, require_approvals"]),
        ("  - name: a\n    then: ignore\n", ["3: rule a: then is 'ignore': write approve, deny, require_approvals"]),
        ("  - name: a\n    then:\n", ["3: rule a: then is empty: write approve, deny, require_approvals"]),
        # reason
        ("  - name: a\n    then: deny\n", ["2: rule a: a deny rule needs a `reason`: the requester is told it"]),
        ("  - name: a\n    then: deny\n    reason: '  '\n", ["4: rule a: reason is empty: write what the requester should be told"]),
        ("  - name: a\n    then: deny\n    reason:\n", ["4: rule a: reason is empty: write what the requester should be told"]),
        ("  - name: a\n    then: deny\n    reason: [no]\n", ["4: rule a: reason should be text, not a list"]),
        (f"  - name: a\n    then: deny\n    reason: {'x' * 2001}\n", ["4: rule a: reason is 2001 characters long: at most 2000"]),
        ("  - name: a\n    then: approve\n    reason: welcome\n", ["4: rule a: reason is only for deny rules (this rule's then is approve)"]),
        ("  - name: a\n    then: require_approvals\n    count: 2\n    reason: why\n",
         ["5: rule a: reason is only for deny rules (this rule's then is require_approvals)"]),
        # count
        ("  - name: a\n    then: require_approvals\n",
         ["2: rule a: require_approvals needs `count`: a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: require_approvals\n    count: 1\n",
         ["4: rule a: count is 1: write a whole number of different approvers from 2 to 10 (one approval is what happens without a rule)"]),
        ("  - name: a\n    then: require_approvals\n    count: 11\n", ["4: rule a: count is 11: at most 10 different approvers"]),
        ("  - name: a\n    then: require_approvals\n    count: two\n",
         ["4: rule a: count is 'two': write a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: require_approvals\n    count: '2'\n",
         ["4: rule a: count is '2': write a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: require_approvals\n    count: 2.5\n",
         ["4: rule a: count is '2.5': write a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: require_approvals\n    count: true\n",
         ["4: rule a: count is 'true': write a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: require_approvals\n    count: !!int x\n",
         ["4: rule a: count is 'x': write a whole number of different approvers from 2 to 10"]),
        ("  - name: a\n    then: approve\n    count: 2\n", ["4: rule a: count is only for require_approvals rules (this rule's then is approve)"]),
        ("  - name: a\n    then: deny\n    reason: no\n    count: 2\n",
         ["5: rule a: count is only for require_approvals rules (this rule's then is deny)"]),
        # keys
        ("  - name: a\n    then: approve\n    thne: deny\n", ["4: rule a: unknown key 'thne': did you mean then? expected name, when, then, reason, count"]),
        ("  - name: a\n    then: approve\n    then: deny\n", ["4: rule a: then is given twice (first at line 3)"]),
        ("  - just-a-word\n", ["2: rule 1 should be a mapping with name, when and then, not 'just-a-word'"]),
    ],
)
def test_rule_problems(tmp_path, rule_text, expected):
    assert problems(tmp_path, "rules:\n" + rule_text) == expected


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("{}", "rule a: when is empty: add conditions, or leave `when` out for a rule that matches every request"),
        ("", "rule a: when is empty: add conditions, or leave `when` out for a rule that matches every request"),
        ("[example.com]", "rule a: when should be a mapping of conditions (such as email_domain: [example.com]), not a list"),
        ("{domain: [example.com]}",
         "rule a: unknown condition 'domain': did you mean email_domain? expected email_domain, invite_type, team, requester, "
         "reason_present, channels"),
        ("{team: [T0123], team: [T0456]}", "rule a: team is given twice (first at line 3)"),
        ("{email_domain: []}", "rule a: email_domain is empty: list at least one, or leave the condition out"),
        ("{email_domain: }", "rule a: email_domain is empty: list at least one, or leave the condition out"),
        ("{email_domain: {example.com: 1}}", "rule a: email_domain should be a list, not a mapping"),
        ("{email_domain: [[example.com]]}", "rule a: email_domain: a list is not a value"),
        ("{email_domain: [ada@example.com]}", "rule a: email_domain: 'ada@example.com' is an email address: write only its domain, example.com"),
        ("{email_domain: ['@example.com']}", "rule a: email_domain: '@example.com' is an email address: write only its domain, example.com"),
        ("{email_domain: ['example .com']}",
         "rule a: email_domain: 'example .com' has a space in it: write a domain like example.com or *.example.com"),
        ("{email_domain: ['*example.com']}",
         "rule a: email_domain: '*example.com': a wildcard may only stand at the start, as *. (as in *.example.com, any subdomain)"),
        ("{email_domain: ['mail.*.example.com']}",
         "rule a: email_domain: 'mail.*.example.com': a wildcard may only stand at the start, as *. (as in *.example.com, any "
         "subdomain)"),
        ("{email_domain: ['*.*.example.com']}",
         "rule a: email_domain: '*.*.example.com': a wildcard may only stand at the start, as *. (as in *.example.com, any "
         "subdomain)"),
        ("{email_domain: ['*']}",
         "rule a: email_domain: '*': a wildcard may only stand at the start, as *. (as in *.example.com, any subdomain)"),
        ("{email_domain: ['*.com']}", "rule a: email_domain: '*.com' is not a domain like example.com or *.example.com"),
        ("{email_domain: [localhost]}", "rule a: email_domain: 'localhost' is not a domain like example.com or *.example.com"),
        ("{email_domain: [example.com.]}", "rule a: email_domain: 'example.com.' is not a domain like example.com or *.example.com"),
        ("{email_domain: [exa_mple.com]}", "rule a: email_domain: 'exa_mple.com' is not a domain like example.com or *.example.com"),
        ("{invite_type: [guest]}", "rule a: invite_type: 'guest' is not an invite type: write full_member, restricted, ultra_restricted"),
        ("{invite_type: [full_members]}",
         "rule a: invite_type: 'full_members' is not an invite type: did you mean full_member? write full_member, restricted, "
         "ultra_restricted"),
        ("{team: [E0ORG]}", "rule a: team: 'E0ORG' is the Enterprise org, not a workspace: write workspace ids (T…)"),
        ("{team: [t0123]}", "rule a: team: 't0123' is not a workspace id (T…)"),
        ("{requester: [ada]}", "rule a: requester: 'ada' is not a user id (U…/W…) or user-group id (S…)"),
        ("{requester: ['@ada']}", "rule a: requester: '@ada' is a name: write the user id (U…/W…) or user-group id (S…)"),
        ("{requester: [S0LEADS@T0123]}", "rule a: requester: 'S0LEADS@T0123': write the user-group id alone (S0LEADS)"),
        ("{requester: [C0123]}", "rule a: requester: 'C0123' is not a user id (U…/W…) or user-group id (S…)"),
        ("{channels: ['#general']}",
         "rule a: channels: '#general' is a channel's name: write its id (C…/G…, at the bottom of the channel's details)"),
        ("{channels: [D0123]}", "rule a: channels: 'D0123' is not a channel id (C…/G…)"),
        ("{reason_present: 'true'}", "rule a: reason_present is 'true': write true or false"),
        ("{reason_present: 1}", "rule a: reason_present is '1': write true or false"),
        ("{reason_present: !!bool maybe}", "rule a: reason_present is 'maybe': write true or false"),
        ("{reason_present: }", "rule a: reason_present is empty: write true or false"),
        ("{reason_present: [true]}", "rule a: reason_present is a list: write true or false"),
    ],
)
def test_condition_problems(tmp_path, when, expected):
    assert problems(tmp_path, f"rules:\n  - name: a\n    when: {when}\n    then: approve\n") == [f"3: {expected}"]


def test_a_condition_list_item_names_its_own_line(tmp_path):
    found = problems(
        tmp_path,
        """\
        rules:
          - name: a
            when:
              email_domain:
                - example.com
                - ada@example.com
              team:
                - T0123
                - E0ORG
            then: approve
        """,
    )

    assert found == [
        "6: rule a: email_domain: 'ada@example.com' is an email address: write only its domain, example.com",
        "9: rule a: team: 'E0ORG' is the Enterprise org, not a workspace: write workspace ids (T…)",
    ]


def test_names_are_unique_regardless_of_case(tmp_path):
    found = problems(
        tmp_path,
        """\
        rules:
          - name: employees
            when: {team: [T0123]}
            then: approve
          - name: Employees
            when: {team: [T0456]}
            then: approve
        """,
    )

    assert found == ["5: rule 2: the name Employees is already used by the rule at line 2"]


def test_rules_after_one_without_when_can_never_match(tmp_path):
    found = problems(
        tmp_path,
        """\
        rules:
          - name: everyone
            then: require_approvals
            count: 2
          - name: employees
            when: {email_domain: [example.com]}
            then: approve
        """,
    )

    assert found == ["5: rule employees: it can never match: rule everyone (line 2) has no `when`, so it matches every request first"]


def test_every_problem_is_reported_in_line_order(tmp_path):
    found = problems(
        tmp_path,
        """\
        mode: enforcing
        rules:
          - name: employees
            when:
              email_domain: [example.com, "*example.com"]
              invite_type: [full]
            then: approve
            reason: welcome
          - name: personal-mail
            when: {email_domain: [gmail.com]}
            then: deny
          - name: guests
            when: {invite_type: [restricted]}
            then: require_approvals
            count: 1
        extra: true
        """,
    )

    assert found == [
        "1: mode is 'enforcing': write shadow (say what a rule would do) or enforce (let rules decide)",
        "5: rule employees: email_domain: '*example.com': a wildcard may only stand at the start, as *. (as in *.example.com, "
        "any subdomain)",
        "6: rule employees: invite_type: 'full' is not an invite type: write full_member, restricted, ultra_restricted",
        "8: rule employees: reason is only for deny rules (this rule's then is approve)",
        "9: rule personal-mail: a deny rule needs a `reason`: the requester is told it",
        "15: rule guests: count is 1: write a whole number of different approvers from 2 to 10 (one approval is what happens "
        "without a rule)",
        "16: unknown top-level key 'extra': expected mode, rules",
    ]
