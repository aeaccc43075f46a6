"""Policy rules (INVITES_POLICY): which rule a request matches first, and what that rule says to do with it.

A policy is a mode (shadow: only say what a rule would do; enforce: let it decide) and an ordered list of rules. The
first rule whose every condition holds wins; no match leaves the request to people, as without a policy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterator

from app.core import domains
from app.core.domains import Domain
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

    email_domain: tuple[str, ...] | None = None  # "example.com" exactly, or "*.example.com" any subdomain; A-label form
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

    @property
    def domain(self) -> Domain:
        return domains.of_email(self.email)

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


# Is user (second) a member of user group (first)? None when it cannot be found out now (Slack would not list the group).
MemberOf = Callable[[str, str], "bool | None"]
# What a condition comes to: it holds (True), it does not (False), or it cannot be checked now (None).
Checked = tuple["bool | None", str]


HOLD = "hold"  # the stored verdict (policy_verdict) of a request held for people: no rule may decide it now


@dataclass(frozen=True)
class Hold:
    """No rule may decide now: `rule` (None: no rule at all) might match but cannot be checked; people decide, or wait.

    A later rule must not fire in its place: a deny that cannot be checked would otherwise let an approve after it win.
    """

    rule: Rule | None
    why: str


def _domain_check(rule: Rule, patterns: tuple[str, ...], domain: Domain) -> Checked:
    hit = next((p for p in patterns if domains.matches(p, domain)), None)
    if hit is None:
        return False, f"email domain {domains.shown(domain)} is not {' or '.join(patterns)}"
    if domain.plain:
        return True, f"email domain matches {hit}"
    look_alike = f"email domain {domains.shown(domain)} is written in a look-alike form of {domain.ascii}"
    if rule.then is Then.APPROVE:  # approve only what is typed as it is read: see app.core.domains
        return None, f"{look_alike}, which a rule never approves"
    return True, f"{look_alike}, matching {hit}"


def _requester_check(wanted: tuple[str, ...], requesters: tuple[str, ...], member_of: MemberOf | None) -> Checked:
    unread: list[str] = []
    for requester in requesters:
        for ref in wanted:
            if ref == requester:
                return True, f"requester {requester} is listed"
            if ref.startswith("S"):
                member = member_of(ref, requester) if member_of is not None else None
                if member:
                    return True, f"requester {requester} is in user group {ref}"
                if member is None and ref not in unread:
                    unread.append(ref)
    if unread:
        groups = " and ".join(unread)
        return None, f"the user group{'s' if len(unread) > 1 else ''} {groups} could not be read"
    if not requesters:
        return False, "no requester is known"
    who = f"requester {requesters[0]} is" if len(requesters) == 1 else f"requesters {', '.join(requesters)} are"
    return False, f"{who} not among {', '.join(wanted)}"


def _checks(rule: Rule, facts: Facts, member_of: MemberOf | None) -> Iterator[Checked]:
    """Each condition the rule gives, in order: whether it holds (None: cannot be checked now), and why in a phrase.

    Lazy, so that evaluate() stops at the first one that does not hold (a user-group lookup can be a Slack call).
    """
    when = rule.when
    if when.email_domain is not None:
        yield _domain_check(rule, when.email_domain, facts.domain)
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
        yield _requester_check(when.requester, facts.requester_ids, member_of)
    if when.reason_present is not None:
        present = bool((facts.reason or "").strip())
        yield present == when.reason_present, "a reason is given" if present else "no reason is given"
    if when.channels is not None:
        hit = next((c for c in facts.channel_ids if c in when.channels), None)
        if hit is not None:
            yield True, f"asks for channel {hit}"
        else:
            yield False, f"asks for none of the channels {', '.join(when.channels)}"


def evaluate(policy: Policy, facts: Facts, member_of: MemberOf | None = None) -> Match | Hold | None:
    """The first rule whose conditions all hold; a Hold when a rule before any match cannot be checked (or the address's
    domain is malformed); None: no rule matches and the request is left to people."""
    if facts.domain.malformed:
        return Hold(None, f"the address's domain {domains.shown(facts.domain)} is malformed")
    for rule in policy.rules:
        held: list[str] = []
        unchecked: list[str] = []
        for holds, phrase in _checks(rule, facts, member_of):
            if holds is False:
                break
            (held if holds else unchecked).append(phrase)
        else:
            if unchecked:
                return Hold(rule, "; ".join(unchecked))
            return Match(rule, tuple(held) or ("the rule has no conditions",))
    return None


@dataclass(frozen=True)
class Explanation:
    """Every condition of one rule, held or not (for `invitebot policy test`: why each rule before the match missed)."""

    held: tuple[str, ...]
    missed: tuple[str, ...]
    unchecked: tuple[str, ...] = ()  # conditions that cannot be checked now: the rule might match

    @property
    def matches(self) -> bool:
        return not self.missed and not self.unchecked


def explain(rule: Rule, facts: Facts, member_of: MemberOf | None = None) -> Explanation:
    """Unlike evaluate(), looks at every condition: `missed` says all that keeps the rule from matching."""
    checked = list(_checks(rule, facts, member_of))
    if not checked:
        return Explanation(held=("the rule has no conditions",), missed=())
    return Explanation(
        held=tuple(phrase for holds, phrase in checked if holds),
        missed=tuple(phrase for holds, phrase in checked if holds is False),
        unchecked=tuple(phrase for holds, phrase in checked if holds is None),
    )
