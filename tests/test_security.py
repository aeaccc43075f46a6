"""Requests that did not come from Slack are refused with 401 and change nothing."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import CHANNEL, TEAM, new_request


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
