"""A policy (INVITES_POLICY) in words: what a rule says, how often people agreed, what it said of one request."""

from __future__ import annotations

from pathlib import PurePath

from app.core.lifecycle import OPEN
from app.core.policy import HOLD, Mode, Policy, Rule, Then
from app.core.policy.stats import AGREEMENT_DAYS, RuleAgreement
from app.slack.ui import blocks
from app.store.models import InviteRequest

NO_POLICY = "No policy is set: people decide every request. INVITES_POLICY names a policy file that lets rules decide or advise."
_MODE_WORDS = {
    Mode.SHADOW.value: "the rules only say what they would do; people decide",
    Mode.ENFORCE.value: "the rules decide",
}


def rule_words(rule: Rule) -> str:
    """employees → approve; guests → 2 approvals."""
    then = f"{rule.count} approvals" if rule.then is Then.REQUIRE_APPROVALS else rule.then.value
    return f"{blocks.safe(rule.name, 64)} → {then}"


def policy_words(policy: Policy) -> str:
    """The policy in force: its file, digest and mode."""
    name = blocks.safe(PurePath(policy.path).name or policy.path or "policy file", 200)
    digest = f" · digest `{blocks.safe(policy.digest, 64)}`" if policy.digest else ""
    return f"`{name}`{digest} · *{policy.mode.value}* mode: {_MODE_WORDS[policy.mode.value]}"


def agreement_words(agreement: RuleAgreement) -> str:
    """employees: 41/42 agreed."""
    return f"{blocks.safe(agreement.rule, 64)}: {agreement.agreed}/{agreement.total} agreed"


def in_policy_order(agreement: list[RuleAgreement], policy: Policy | None) -> list[RuleAgreement]:
    """The policy's rules in its own order, then rules it no longer has (their decisions still count)."""
    order = {rule.name: n for n, rule in enumerate(policy.rules)} if policy else {}
    return sorted(agreement, key=lambda a: (order.get(a.rule, len(order)), a.rule))


def agreement_text(agreement: list[RuleAgreement], policy: Policy | None) -> str:
    """`/invites stats`: how often people agreed with each rule over the last 30 days."""
    head = f"*Agreement with the policy ({AGREEMENT_DAYS} days):*"
    if not agreement:
        none = "no policy is set (INVITES_POLICY)" if policy is None else "no request a rule had a verdict on was decided by a person yet"
        return f"{head} {none}"
    return f"{head} " + ", ".join(agreement_words(a) for a in in_policy_order(agreement, policy))


def request_policy(request: InviteRequest, approvers: list[str], policy: Policy | None) -> str | None:
    """`/invites show`: which rule matched, what it says and in which mode; once closed, who approved (the card says it before)."""
    if request.policy_verdict == HOLD:
        mode = blocks.safe(request.policy_mode or Mode.SHADOW.value, 16)
        if request.status in OPEN:
            return f"*Policy*\n{blocks.held_line(request)} ({mode} mode)"
        return f"*Policy*\nNo rule could decide it, so people did: {blocks.safe(request.policy_note or 'it could not be checked', 400)}."
    if not request.policy_rule or not request.policy_verdict:
        return None if policy is None else "*Policy*\nNo rule of the policy matches it; people decide it."
    mode = request.policy_mode or Mode.SHADOW.value
    verdict = blocks.safe(request.policy_verdict, 32)
    if request.policy_verdict == Then.REQUIRE_APPROVALS.value:
        verdict = f"require {request.approvals_needed or 'several'} approvals"
    lines = [
        "*Policy*",
        f"Rule *{blocks.safe(request.policy_rule, 64)}* matched: {verdict} "
        f"({blocks.safe(mode, 16)} mode{': ' + _MODE_WORDS[mode] if mode in _MODE_WORDS else ''}).",
    ]
    if approvers and request.status not in OPEN:
        lines.append(blocks.approvals_line(approvers, request.approvals_needed))
    return "\n".join(lines)
