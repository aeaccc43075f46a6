"""Policy rules (INVITES_POLICY): the model and first-match evaluation (rules), and reading the file (loader)."""

from app.core.policy.loader import CHANNEL_ID, INVITE_TYPES, MAX_APPROVALS, MAX_REASON, REQUESTER_ID, TEAM_ID, PolicyError, load
from app.core.policy.rules import (
    HOLD,
    Conditions,
    Explanation,
    Facts,
    Hold,
    Match,
    MemberOf,
    Mode,
    Policy,
    Rule,
    Then,
    evaluate,
    explain,
)

__all__ = [
    "HOLD",
    "Conditions",
    "Explanation",
    "Facts",
    "Hold",
    "Match",
    "MemberOf",
    "Mode",
    "Policy",
    "Rule",
    "Then",
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
