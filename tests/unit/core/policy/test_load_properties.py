"""Whatever a policy file holds, load() gives a policy or names each problem as `file:line: what`; it never crashes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import policy
from app.core.policy import Policy, PolicyError

# Pieces of policy files, right and wrong, for YAML-ish text that gets past the parser often enough to reach the rules.
KEYS = ["mode", "rules", "name", "when", "then", "reason", "count", "email_domain", "invite_type", "team", "requester",
        "channels", "reason_present", "modes", "owner"]
VALUES = ["shadow", "enforce", "approve", "deny", "require_approvals", "approved", "example.com", "*.example.com", "gmail.com",
          "full_member", "restricted", "T0123", "E0ORG", "S0LEADS", "U0ADA", "C0ONE", "#general", "yes", "no", "2", "0x3", "-1",
          "!!int x", "!!bool maybe", "~", "''", '"a b"', "[a, b]", "{}", "[]", "&a x", "*a", "*b", "|", ">"]
LINE = st.builds(
    lambda indent, dash, key, value: " " * indent + ("- " if dash else "") + f"{key}: {value}",
    st.integers(0, 6),
    st.booleans(),
    st.sampled_from(KEYS),
    st.sampled_from(VALUES) | st.text(max_size=8),
)
YAMLISH = st.lists(LINE | st.text(max_size=20), max_size=12).map("\n".join)


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory):
    return tmp_path_factory.mktemp("policy") / "policy.yml"


@settings(max_examples=300)
@given(text=YAMLISH | st.text())
def test_any_text_loads_or_is_reported_line_by_line(policy_file, text):
    policy_file.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        loaded = policy.load(policy_file)
    except PolicyError as error:
        assert error.problems, "a PolicyError names at least one problem"
        for problem in error.problems:
            assert re.fullmatch(rf"{re.escape(str(policy_file))}:\d+: \S.*", problem, re.DOTALL), problem
    else:
        assert isinstance(loaded, Policy) and loaded.rules


@given(st.binary(max_size=60))
def test_any_bytes_load_or_are_reported_with_a_line(policy_file, data):
    policy_file.write_bytes(data)
    try:
        policy.load(policy_file)
    except PolicyError as error:
        assert all(re.match(rf"{re.escape(str(policy_file))}:\d+: ", problem) for problem in error.problems), error.problems
