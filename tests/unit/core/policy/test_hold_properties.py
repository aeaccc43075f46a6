"""Whatever the rules and the request, what the policy cannot check never lets a rule decide that knowing more could
overturn, and no approve rule ever approves an address by a look-alike of its domain."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.core import domains
from app.core.policy import Conditions, Facts, Hold, Match, Mode, Policy, Rule, Then, evaluate

GROUPS = ("S0ONE", "S0TWO")
USERS = ("U0ADA", "U0BOB")
EMAILS = (
    "ada@example.com", "ada@mail.example.com", "ada@gmail.com", "ada@\uff47mail.com", "ada@gmail\u3002com",
    "ada@\u212apmg.com", "ada@kpmg.com", "ada@..example.com", "ada@example..com", "ada@KPMG.COM", "ada@b\u00fccher.de",
)
PATTERNS = ("example.com", "*.example.com", "gmail.com", "kpmg.com", "xn--bcher-kva.de")


def maybe(values: st.SearchStrategy) -> st.SearchStrategy:
    return st.none() | values


CONDITIONS = st.builds(
    Conditions,
    email_domain=maybe(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True).map(tuple)),
    invite_type=maybe(st.sampled_from((("full_member",), ("restricted",)))),
    requester=maybe(st.lists(st.sampled_from(GROUPS + USERS), min_size=1, max_size=2, unique=True).map(tuple)),
    reason_present=maybe(st.booleans()),
)


def _rules(drawn: list[tuple[Conditions, Then]]) -> tuple[Rule, ...]:
    return tuple(Rule(f"r{n}", when, then, count=2 if then is Then.REQUIRE_APPROVALS else None) for n, (when, then) in enumerate(drawn))


RULES = st.lists(st.tuples(CONDITIONS, st.sampled_from(list(Then))), min_size=1, max_size=5).map(_rules)
FACTS = st.builds(
    Facts,
    email=st.sampled_from(EMAILS),
    invite_type=st.sampled_from(("full_member", "restricted")),
    team_id=st.just("T0123"),
    requester_ids=st.lists(st.sampled_from(USERS), max_size=2, unique=True).map(tuple),
    reason=st.sampled_from((None, "", "works with us")),
)
MEMBERSHIP = st.dictionaries(st.tuples(st.sampled_from(GROUPS), st.sampled_from(USERS)), st.booleans())


@given(RULES, FACTS, MEMBERSHIP)
def test_what_cannot_be_checked_holds_or_decides_as_knowing_it_would(rules, facts, members):
    policy = Policy(Mode.ENFORCE, rules)

    unknown = evaluate(policy, facts, lambda group, user: None)
    known = evaluate(policy, facts, lambda group, user: members.get((group, user), False))

    if not isinstance(unknown, Hold):  # the same rule decides, whichever of its listed requesters it matched on
        assert type(unknown) is type(known) and getattr(unknown, "rule", None) == getattr(known, "rule", None)
    assert not isinstance(known, Hold) or known.rule is None or known.rule.when.email_domain is not None


@given(RULES, FACTS, MEMBERSHIP)
def test_no_rule_approves_by_a_look_alike_or_a_malformed_domain(rules, facts, members):
    found = evaluate(Policy(Mode.ENFORCE, rules), facts, lambda group, user: members.get((group, user), False))

    if isinstance(found, Match) and found.rule.then is Then.APPROVE and found.rule.when.email_domain is not None:
        assert domains.of_email(facts.email).plain
    if domains.of_email(facts.email).malformed:
        assert found == Hold(None, f"the address's domain {domains.shown(facts.domain)} is malformed")
