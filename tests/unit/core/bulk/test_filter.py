"""Which requests a bulk decision takes: the email domain, as a policy file writes it."""

from __future__ import annotations

import pytest

from app.core.bulk.batches import Filter
from app.store.models import Action

EMAILS = ("a@example.com", "b@EXAMPLE.com", "c@mail.example.com", "d@a.b.example.com", "e@notexample.com", "f@..example.com")


@pytest.mark.parametrize("action", [Action.APPROVE, Action.DENY])
def test_the_domain_rule_is_the_policy_files(action):
    """example.com exactly; *.example.com any subdomain of it but not itself; case does not matter; malformed, never."""
    exact = {e for e in EMAILS if Filter("example.com").takes(e, action)}
    below = {e for e in EMAILS if Filter("*.example.com").takes(e, action)}

    assert exact == {"a@example.com", "b@EXAMPLE.com"}
    assert below == {"c@mail.example.com", "d@a.b.example.com"}


@pytest.mark.parametrize(
    ("domain", "look_alike"),
    [("kpmg.com", "ada@\u212apmg.com"), ("gmail.com", "ada@\uff47mail.com"), ("gmail.com", "ada@gmail\u3002com")],
)
def test_a_look_alike_is_denied_with_its_domain_but_never_approved_with_it(domain, look_alike):
    assert Filter(domain).takes(look_alike, Action.DENY)
    assert not Filter(domain).takes(look_alike, Action.APPROVE)
    assert Filter(domain).takes(f"ada@{domain}", Action.APPROVE)
