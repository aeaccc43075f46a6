"""Policy rules (INVITES_POLICY): which rule a request matches first, and what that rule says to do with it.

A policy is a mode (shadow: only say what a rule would do; enforce: let it decide) and an ordered list of rules. The
first rule whose every condition holds wins; no match leaves the request to people, as without a policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable

from app.store.models import InviteRequest


class Mode(str, enum.Enum):
    SHADOW = "shadow"
    ENFORCE = "enforce"


class Then(str, enum.Enum):
    APPROVE = "approve"
    DENY = "deny"
    REQUIRE_APPROVALS = "require_approvals"


@dataclass(frozen=True)
class Conditions:
    """A rule's `when`: every condition given must hold; one not given holds for every request."""

    email_domain: tuple[str, ...] | None = None  # "example.com" exactly, or "*.example.com" for any subdomain
    invite_type: tuple[str, ...] | None = None
    team: tuple[str, ...] | None = None
    requester: tuple[str, ...] | None = None  # user ids (U…/W…) or user-group ids (S…): any requester in any of them
    reason_present: bool | None = None
    channels: tuple[str, ...] | None = None  # any of these channel ids among the request's channels


@dataclass(frozen=True)
class Rule:
    name: str
    when: Conditions
    then: Then
    reason: str | None = None  # a deny rule's reason, sent to the requester
    count: int | None = None  # require_approvals: how many distinct approvers
    line: int = 0  # where the rule starts in its file, for messages


@dataclass(frozen=True)
class Policy:
    mode: Mode
    rules: tuple[Rule, ...]
    path: str = ""
    digest: str = ""  # the first 12 hex digits of the file's SHA-256, shown on the App Home and logged at start

    @property
    def enforcing(self) -> bool:
        return self.mode is Mode.ENFORCE


@dataclass(frozen=True)
class Facts:
    """What a rule can look at, as the request was stored."""

    email: str
    invite_type: str
    team_id: str | None
    requester_ids: tuple[str, ...] = ()
    reason: str | None = None
    channel_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, request: InviteRequest) -> "Facts":
        return cls(
            email=request.email,
            invite_type=request.invite_type,
            team_id=request.team_id,
            requester_ids=tuple(request.requester_ids or ()),
            reason=request.reason,
            channel_ids=tuple(request.channel_ids or ()),
        )


@dataclass(frozen=True)
class Match:
    """The rule that fired, and why each of its conditions held (for `policy test` and `/invites show`)."""

    rule: Rule
    why: tuple[str, ...] = field(default=())


# Is user (second) a member of user group (first)? Answers False when it cannot be found out.
MemberOf = Callable[[str, str], bool]


def domain_matches(pattern: str, email: str) -> bool:
    """'example.com' matches exactly; '*.example.com' matches any subdomain of it (not example.com itself)."""
    domain = email.rsplit("@", 1)[-1].strip().lower().rstrip(".")
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return domain.endswith(pattern[1:]) and len(domain) > len(pattern) - 1
    return domain == pattern


def _requester_matches(wanted: tuple[str, ...], requesters: tuple[str, ...], member_of: MemberOf | None) -> str | None:
    for requester in requesters:
        for ref in wanted:
            if ref == requester:
                return f"requester {requester} is listed"
            if ref.startswith("S") and member_of is not None and member_of(ref, requester):
                return f"requester {requester} is in user group {ref}"
    return None


def _why(when: Conditions, facts: Facts, member_of: MemberOf | None) -> tuple[str, ...] | None:
    """Why every condition holds, one phrase each; None as soon as one does not."""
    why: list[str] = []
    if when.email_domain is not None:
        hit = next((p for p in when.email_domain if domain_matches(p, facts.email)), None)
        if hit is None:
            return None
        why.append(f"email domain matches {hit}")
    if when.invite_type is not None:
        if facts.invite_type not in when.invite_type:
            return None
        why.append(f"invite type is {facts.invite_type}")
    if when.team is not None:
        if facts.team_id not in when.team:
            return None
        why.append(f"workspace is {facts.team_id}")
    if when.requester is not None:
        found = _requester_matches(when.requester, facts.requester_ids, member_of)
        if found is None:
            return None
        why.append(found)
    if when.reason_present is not None:
        present = bool((facts.reason or "").strip())
        if present != when.reason_present:
            return None
        why.append("a reason is given" if present else "no reason is given")
    if when.channels is not None:
        hit = next((c for c in facts.channel_ids if c in when.channels), None)
        if hit is None:
            return None
        why.append(f"asks for channel {hit}")
    return tuple(why) or ("the rule has no conditions",)


def evaluate(policy: Policy, facts: Facts, member_of: MemberOf | None = None) -> Match | None:
    """The first rule whose conditions all hold, or None: the request is left to people."""
    for rule in policy.rules:
        why = _why(rule.when, facts, member_of)
        if why is not None:
            return Match(rule, why)
    return None
