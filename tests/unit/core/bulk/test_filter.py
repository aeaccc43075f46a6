"""Which requests a bulk decision takes: the email domain, as a policy file writes it."""

from __future__ import annotations

from app.core.bulk.batches import Filter
from tests.support.rows import request_row


def test_the_domain_rule_is_the_policy_files():
    """example.com exactly; *.example.com any subdomain of it but not itself; case does not matter."""
    rows = {e: request_row(email=e) for e in ("a@example.com", "b@EXAMPLE.com", "c@mail.example.com", "d@a.b.example.com", "e@notexample.com")}
    exact = {e for e, r in rows.items() if Filter("example.com").matches(r)}
    below = {e for e, r in rows.items() if Filter("*.example.com").matches(r)}
    assert exact == {"a@example.com", "b@EXAMPLE.com"}
    assert below == {"c@mail.example.com", "d@a.b.example.com"}
