"""Policies the tests use: the documented example file, a file with a rule of each kind in either mode, and rules as data."""

from __future__ import annotations

from pathlib import Path

from app.core.policy import Conditions, Mode, Policy, Rule, Then

EXAMPLE = """\
mode: shadow            # shadow (default) or enforce
rules:                  # first match wins; no match = decided by people, as today
  - name: employees
    when:
      email_domain: [example.com, "*.example.com"]   # exact, or any subdomain with "*."
      invite_type: [full_member]                     # full_member | restricted | ultra_restricted
      team: [T0123]                                  # workspace ids
    then: approve
  - name: personal-mail
    when: {email_domain: [gmail.com, outlook.com]}
    then: deny
    reason: "Personal addresses cannot join; please ask for a work address."
  - name: guests
    when: {invite_type: [restricted, ultra_restricted]}
    then: require_approvals
    count: 2
"""

# A policy with a rule of each kind: work addresses approved, personal ones denied, guests needing two approvers.
POLICY_YAML = """\
mode: {mode}
rules:
  - name: employees
    when: {{email_domain: [example.com, "*.example.com"], invite_type: [full_member]}}
    then: approve
  - name: personal-mail
    when: {{email_domain: [gmail.com, outlook.com]}}
    then: deny
    reason: "Personal addresses cannot join; please ask for a work address."
  - name: guests
    when: {{invite_type: [restricted, ultra_restricted]}}
    then: require_approvals
    count: 2
"""


def write_policy(folder: Path, mode: str = "shadow") -> str:
    """POLICY_YAML in `mode`, written to a file of its own in `folder`; returns its path for INVITES_POLICY."""
    path = folder / f"policy-{mode}.yml"
    path.write_text(POLICY_YAML.format(mode=mode), encoding="utf-8")
    return str(path)


# The same three rules as data, in shadow mode, for builders that show a policy.
RULES = (
    Rule("employees", Conditions(email_domain=("example.com",), invite_type=("full_member",)), Then.APPROVE),
    Rule("personal-mail", Conditions(email_domain=("gmail.com",)), Then.DENY, reason="Use a work address."),
    Rule("guests", Conditions(invite_type=("restricted", "ultra_restricted")), Then.REQUIRE_APPROVALS, count=2),
)
SHADOW = Policy(Mode.SHADOW, RULES, path="/etc/invitebot/policy.yml", digest="3f2a9c01b7e4")
