"""Policy rules (INVITES_POLICY): the model and first-match evaluation (rules), and reading the file (loader)."""

from app.core.policy.loader import CHANNEL_ID, INVITE_TYPES, MAX_APPROVALS, MAX_REASON, REQUESTER_ID, TEAM_ID, PolicyError, load
from app.core.policy.rules import (
    Conditions,
    Explanation,
    Facts,
    Match,
    MemberOf,
    Mode,
    Policy,
    Rule,
    Then,
    domain_matches,
    evaluate,
    explain,
)

__all__ = [
    "Conditions",
    "Explanation",
    "Facts",
    "Match",
    "MemberOf",
    "Mode",
    "Policy",
    "Rule",
    "Then",
    "domain_matches",
    "evaluate",
    "explain",
    "CHANNEL_ID",
    "INVITE_TYPES",
    "MAX_APPROVALS",
    "MAX_REASON",
    "REQUESTER_ID",
    "TEAM_ID",
    "PolicyError",
    "load",
]
