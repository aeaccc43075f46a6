"""Requests that did not come from Slack are refused with 401 and change nothing."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.cards import card_text, wait_for_card
from tests.support.stand_in import CHANNEL, TEAM, new_request


def _event_body(request):
    return json.dumps(
        {"type": "event_callback", "team_id": TEAM, "event": {"type": "invite_requested", "invite_request": request}}
    ).encode()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(dict(sign=False), id="missing signature"),
        pytest.param(dict(headers={"X-Slack-Signature": "v0=" + "0" * 64}), id="forged signature"),
        pytest.param(dict(timestamp=int(time.time()) - 6 * 60), id="stale timestamp"),
    ],
)
def test_unsigned_forged_or_stale_requests_get_401_and_do_nothing(fake, bot, tamper):
    request = new_request(fake)

    reply = bot.slack.post(_event_body(request), content_type="application/json", **tamper)

    assert reply.status == 401
    # A correctly signed request sent afterwards is processed, so nothing was queued before it.
    bot.slack.invite_requested(new_request(fake, "later@example.com"))
    fake.wait_for(lambda: fake.messages(CHANNEL))
    assert all("ada@example.com" not in m["text"] for m in fake.messages(CHANNEL))


def test_healthz_reports_the_database(bot):
    import urllib.request

    with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz")) as answer:
        assert answer.status == 200


CONTROLS_AND_BIDI = ["\x00", "\x1b", "\x07", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def test_a_requesters_name_cannot_forge_lines_formatting_or_hidden_characters_on_the_card(fake, bot):
    """A real name with newlines and mrkdwn marks must stay one bold name, not a fake email and "Approved" line."""
    request = new_request(
        fake,
        real_name="Eve*\n*Email:* boss@example.com\n:white_check_mark: *Approved by* _grace_ ~x~ `y`\u202e\x00\x1b[31m",
        request_reason="First line\u202e\x00\x1b[2J\nSecond   line\x07",
    )

    bot.slack.invite_requested(request)
    card = wait_for_card(fake, "ada@example.com")

    text = card_text(card)
    [head] = [line for line in text.splitlines() if "ada@example.com" in line]
    assert head.endswith(
        "*Eve Email: boss@example.com :white check mark: Approved by grace x y [31m* (ada@example.com)"
    )
    assert "boss@example.com" not in text.replace(head, "")  # no line of its own
    assert not [line for line in text.splitlines() if "Approved by" in line and line != head]
    assert ">First line[2J\n>Second   line" in text  # a reason keeps its lines, nothing else
    shown = json.dumps(card, ensure_ascii=False)
    assert not [c for c in CONTROLS_AND_BIDI if c in shown]
