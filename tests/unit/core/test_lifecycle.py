"""The table of moves as data: which status each move leaves from and goes to, and how a request that ended reads."""

from __future__ import annotations

import itertools

import pytest

from app.core import lifecycle
from app.core.lifecycle import Closing
from app.store.models import Status

STATUSES = [status.value for status in Status]
CLOSED = ["approved", "denied", "approved_invite_failed", "gone"]

# The table as design.md §2 and §7 describe it, written out independently of app.core.lifecycle.
EXPECTED_MOVES = {
    "claim": ({"pending"}, {"deciding"}),
    "settle": ({"deciding"}, set(CLOSED)),
    "release": ({"deciding"}, {"pending"}),
    "close": ({"pending", "deciding"}, set(CLOSED)),
}
EXPECTED_ALLOWED = {
    ("pending", "deciding"),
    *(("deciding", target) for target in CLOSED),
    ("deciding", "pending"),
    *(("pending", target) for target in CLOSED),
}


# -- the table ----------------------------------------------------------------------------------------------------


def test_the_moves_are_the_designed_table():
    table = {move.name: (set(move.sources), set(move.targets)) for move in lifecycle.MOVES}
    assert table == EXPECTED_MOVES
    assert set(STATUSES) == {"pending", "deciding", *CLOSED}
    assert sorted(lifecycle.OPEN + lifecycle.CLOSED) == sorted(STATUSES)  # lifecycle names every status, each once


def test_allowed_matches_the_table_for_every_pair_of_statuses():
    wrong = [
        (source, target, lifecycle.allowed(source, target))
        for source, target in itertools.product(STATUSES, STATUSES)
        if lifecycle.allowed(source, target) != ((source, target) in EXPECTED_ALLOWED)
    ]
    assert wrong == []


# -- how a request ended ------------------------------------------------------------------------------------------


def test_the_open_and_closed_statuses_split_every_status():
    assert set(lifecycle.OPEN) | set(lifecycle.CLOSED) == set(STATUSES)
    assert set(lifecycle.OPEN) & set(lifecycle.CLOSED) == set()
    assert set(lifecycle.DECIDED) == set(CLOSED) - {"gone"}


def test_a_decision_slack_carried_out_leaves_the_request_approved_or_denied():
    assert (lifecycle.status_after("approve"), lifecycle.status_after("deny")) == ("approved", "denied")
    with pytest.raises(KeyError):
        lifecycle.status_after("escalate")


@pytest.mark.parametrize(
    ("status", "source", "by_a_person"),
    [
        ("approved", "button", True),
        ("denied", "slash", True),
        ("approved_invite_failed", "home", True),
        ("denied", "outside", True),  # decided in Slack's admin pages: still a person
        ("approved", "policy", False),  # the rule itself cannot agree with itself
        ("gone", "sync", False),  # nobody decided it
    ],
)
def test_only_a_persons_decision_is_compared_with_the_policy(status, source, by_a_person):
    closing = Closing(status, "W0APPROV01", source)

    assert closing.by_a_person is by_a_person
    assert ("policy_agreed" in closing.values()) is by_a_person


def test_closing_clears_the_claim():
    values = Closing("denied", "W0APPROV01", "button", reason="Use a work address").values()

    assert (values["decided_by"], values["decision_source"], values["deny_reason"]) == ("W0APPROV01", "button", "Use a work address")
    assert all(values[name] is None for name in ("claim_owner", "claim_action", "claim_actor", "claim_source", "claimed_at", "call_at"))
