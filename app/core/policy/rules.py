"""Policy rules (INVITES_POLICY): which rule a request matches first, and what that rule says to do with it.

A policy is a mode (shadow: only say what a rule would do; enforce: let it decide) and an ordered list of rules. The
first rule whose every condition holds wins; no match leaves the request to people, as without a policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterator

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

    @property
    def verdict(self) -> str:
        """'approve', 'deny' or '2 approvals'."""
        return f"{self.count} approvals" if self.then is Then.REQUIRE_APPROVALS else self.then.value


@dataclass(frozen=True)
class Policy:
    mode: Mode
    rules: tuple[Rule, ...]
    path: str = ""
    digest: str = ""  # the first 12 hex digits of the file's SHA-256, shown on the App Home and logged at start

    @property
    def enforcing(self) -> bool:
        return self.mode is Mode.ENFORCE

    def summary(self) -> str:
        """'mode shadow, 3 rules (employees → approve, …, guests → 2 approvals), digest 0123456789ab'."""
        rules = ", ".join(f"{rule.name} → {rule.verdict}" for rule in self.rules)
        count = f"{len(self.rules)} rule{'' if len(self.rules) == 1 else 's'}"
        return f"mode {self.mode.value}, {count} ({rules}), digest {self.digest}"


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


def _email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower().rstrip(".")


def domain_matches(pattern: str, email: str) -> bool:
    """'example.com' matches exactly; '*.example.com' matches any subdomain of it (not example.com itself)."""
    domain = _email_domain(email)
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


def _checks(when: Conditions, facts: Facts, member_of: MemberOf | None) -> Iterator[tuple[bool, str]]:
    """Each condition the rule gives, in order: whether it holds, and why (or why not) in a phrase.

    Lazy, so that evaluate() stops at the first one that does not hold (a user-group lookup can be a Slack call).
    """
    if when.email_domain is not None:
        hit = next((p for p in when.email_domain if domain_matches(p, facts.email)), None)
        if hit is not None:
            yield True, f"email domain matches {hit}"
        else:
            yield False, f"email domain {_email_domain(facts.email)} is not {' or '.join(when.email_domain)}"
    if when.invite_type is not None:
        if facts.invite_type in when.invite_type:
            yield True, f"invite type is {facts.invite_type}"
        else:
            yield False, f"invite type is {facts.invite_type}, not {' or '.join(when.invite_type)}"
    if when.team is not None:
        if facts.team_id in when.team:
            yield True, f"workspace is {facts.team_id}"
        else:
            wanted = " or ".join(when.team)
            yield False, f"workspace is {facts.team_id}, not {wanted}" if facts.team_id else f"the workspace is not known (not {wanted})"
    if when.requester is not None:
        found = _requester_matches(when.requester, facts.requester_ids, member_of)
        if found is not None:
            yield True, found
        elif not facts.requester_ids:
            yield False, "no requester is known"
        else:
            who = f"requester {facts.requester_ids[0]} is" if len(facts.requester_ids) == 1 else f"requesters {', '.join(facts.requester_ids)} are"
            yield False, f"{who} not among {', '.join(when.requester)}"
    if when.reason_present is not None:
        present = bool((facts.reason or "").strip())
        yield present == when.reason_present, "a reason is given" if present else "no reason is given"
    if when.channels is not None:
        hit = next((c for c in facts.channel_ids if c in when.channels), None)
        if hit is not None:
            yield True, f"asks for channel {hit}"
        else:
            yield False, f"asks for none of the channels {', '.join(when.channels)}"


def _why(when: Conditions, facts: Facts, member_of: MemberOf | None) -> tuple[str, ...] | None:
    """Why every condition holds, one phrase each; None as soon as one does not."""
    why: list[str] = []
    for holds, phrase in _checks(when, facts, member_of):
        if not holds:
            return None
        why.append(phrase)
    return tuple(why) or ("the rule has no conditions",)


def evaluate(policy: Policy, facts: Facts, member_of: MemberOf | None = None) -> Match | None:
    """The first rule whose conditions all hold, or None: the request is left to people."""
    for rule in policy.rules:
        why = _why(rule.when, facts, member_of)
        if why is not None:
            return Match(rule, why)
    return None


@dataclass(frozen=True)
class Explanation:
    """Every condition of one rule, held or not (for `invitebot policy test`: why each rule before the match missed)."""

    held: tuple[str, ...]
    missed: tuple[str, ...]

    @property
    def matches(self) -> bool:
        return not self.missed


def explain(rule: Rule, facts: Facts, member_of: MemberOf | None = None) -> Explanation:
    """Unlike evaluate(), looks at every condition: `missed` says all that keeps the rule from matching."""
    checked = list(_checks(rule.when, facts, member_of))
    if not checked:
        return Explanation(held=("the rule has no conditions",), missed=())
    return Explanation(
        held=tuple(phrase for holds, phrase in checked if holds), missed=tuple(phrase for holds, phrase in checked if not holds)
    )
