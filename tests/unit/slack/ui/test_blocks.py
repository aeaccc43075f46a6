"""The card as data: every state has its own wording, and Slack's block limits hold for any requester text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.slack.ui import blocks
from tests.support.rows import request_row

MOMENT = datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc)


def _request(**kw):
    return request_row(**kw)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        (dict(status="approved", decided_by="U1GRACE", decision_source="button"), "Approved by <@U1GRACE><!date^"),
        (dict(status="denied", decided_by="U1GRACE", decision_source="button"), "Denied by <@U1GRACE><!date^"),
        (dict(status="approved", decided_by="U1MARG", decision_source="outside"), "Already approved by <@U1MARG> outside invitebot"),
        (dict(status="denied", decided_by=None, decision_source="outside"), "Already denied by someone outside invitebot"),
        (dict(status="approved_invite_failed", decided_by="U1GRACE", decision_source="button"), "could not send the invitation"),
        (dict(status="gone", decision_source="sync"), "Slack no longer has this request"),
    ],
)
def test_each_closed_state_reads_differently_and_drops_the_buttons(changes, says):
    request = _request(decided_at=MOMENT, **changes)

    card = blocks.request_card(request)

    assert says in blocks.outcome_line(request)
    assert says in blocks.card_text(request)
    assert not [b for b in card if b["type"] == "actions"]


def test_a_decision_date_joins_its_sentence_as_slack_words_it():
    """Slack writes "Today at 10:42 PM" where the pretty date opens its format and "today" further in: so a date in a
    sentence carries the words that join it ("Approved by @grace, today at 10:42 PM"), and nothing puts "at" before it."""
    ts = int(MOMENT.timestamp())
    assert blocks.slack_date(MOMENT) == f"<!date^{ts}^{{date_short_pretty}} at {{time}}|2026-11-22 09:14 UTC>"
    approved = _request(status="approved", decided_by="U1GRACE", decision_source="button", decided_at=MOMENT)
    assert blocks.outcome_line(approved) == (
        f":white_check_mark: Approved by <@U1GRACE><!date^{ts}^, {{date_short_pretty}} at {{time}}|, 2026-11-22 09:14 UTC>"
    )
    gone = _request(status="gone", decision_source="sync", decided_at=MOMENT)
    assert blocks.outcome_line(gone) == (
        ":wastebasket: Slack no longer has this request (expired, withdrawn or removed)"
        f"<!date^{ts}^; noticed {{date_short_pretty}} at {{time}}|; noticed 2026-11-22 09:14 UTC>."
    )
    for status, source in [("approved", "button"), ("denied", "button"), ("approved", "outside"), ("denied", "outside"),
                           ("approved_invite_failed", "button"), ("gone", "sync")]:
        line = blocks.outcome_line(_request(status=status, decided_by="U1GRACE", decision_source=source, decided_at=MOMENT))
        assert " at <!date" not in line and f"<!date^{ts}^{{date" not in line, line


@pytest.mark.parametrize(
    ("call_in", "slack_until", "says"),
    [
        (40, None, "Approving… <@U1ADA>, queued: Slack allows 20 decisions a minute (about 40 s)"),
        (60, 3600, "Approving… <@U1ADA>, queued: Slack asked us to wait (about 1 h); invitebot asks again in about 60 s"),
        (30, 28, "Approving… <@U1ADA>, queued: Slack asked us to wait (about 30 s)"),
        (40, -5, "Approving… <@U1ADA>, queued: Slack allows 20 decisions a minute (about 40 s)"),  # Slack's wait is over
    ],
)
def test_a_queued_card_says_whose_wait_it_is(call_in, slack_until, says):
    request = _request(
        status="deciding",
        claim_action="approve",
        claim_actor="U1ADA",
        call_at=MOMENT + timedelta(seconds=call_in),
        slack_wait_until=MOMENT + timedelta(seconds=slack_until) if slack_until is not None else None,
    )

    assert blocks.is_queued(request, MOMENT)
    assert blocks.queued_line(request, 20, MOMENT) == f":hourglass_flowing_sand: {says}"


def test_pending_and_deciding_cards_keep_their_buttons():
    for status in ("pending", "deciding"):
        card = blocks.request_card(_request(status=status))
        [actions] = [b for b in card if b["type"] == "actions"]
        assert [e["action_id"] for e in actions["elements"]] == ["invite_approve", "invite_deny"]


def test_long_requester_text_stays_within_slacks_block_limits():
    many = [f"U{n:08d}" for n in range(500)]
    long = dict(reason="<\n" * 5_000, real_name="&" * 1_000, requester_ids=many, channel_ids=many, email="<" * 320 + "@x.io")

    checked_confirm = False
    for request in (_request(**long), _request(**long, status="denied", deny_reason=">" * 10_000, decided_at=MOMENT)):
        for block in blocks.request_card(request):
            if "text" in block:
                assert len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert len(field["text"]) <= 2000
            for element in block.get("elements", []):
                if isinstance(element.get("text"), str):
                    assert len(element["text"]) <= 3000
                if "confirm" in element:
                    assert len(element["confirm"]["text"]["text"]) <= 300
                    checked_confirm = True
    assert checked_confirm


def test_unknown_invite_type_is_shown_in_words_not_dropped():
    assert blocks.invite_type_words("some_<new>_type") == "Some &lt;new&gt; type"
