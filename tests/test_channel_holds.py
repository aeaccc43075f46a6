"""An approvals channel that refuses a card as a whole (gone, the bot not in it) is asked once, not once per card: the
other cards wait for it, the sync says once what is wrong and how to fix it, and once it is fixed every card posts once."""

from __future__ import annotations

import subprocess
import sys

from tests.support.bots import settings_env
from tests.support.databases import both_databases
from tests.support.stand_in import CHANNEL, OTHER_TEAM, TEAM, new_request

PENDING = 13
NOT_FOUND_FIX = "INVITES_CHANNEL=C0NOPE0001 names no channel the bot can see: check the id (C…) and invite the bot."
NOT_IN_FIX = "Invite the bot to that channel (/invite @invitebot in it); INVITES_CHANNEL=C0OUTSIDE1 names it."


def _sync(fake, database_url, **overrides):
    """`invitebot sync`, its posts a fifth of a second apart (Slack's answer to one comes back before the next leaves)."""
    env = {"PATH": "/usr/bin:/bin", **settings_env(fake, database_url, INVITES_CARD_POSTS_PER_MINUTE="300", **overrides)}
    return subprocess.run(
        [sys.executable, "-m", "app", "sync"], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _posts(fake, channel):
    return [call for call in fake.calls("chat.postMessage") if call.params.get("channel") == channel]


def _cards(fake, channel):
    return [m for m in fake.messages(channel) if (m.get("metadata") or {}).get("event_type") == "invitebot_card"]


def _pending(fake, count=PENDING, team=TEAM):
    return [new_request(fake, f"{team.lower()}{n}@example.com", team_id=team) for n in range(count)]


@both_databases
def test_a_channel_the_bot_is_not_in_is_asked_once_and_every_card_posts_once_the_bot_is_invited(fake, database_url):
    fake.add_channel("C0OUTSIDE1", name="approvals", team_id=TEAM, bot_member=False)
    requests = _pending(fake)

    first = _sync(fake, database_url, INVITES_CHANNEL="C0OUTSIDE1")

    assert first.returncode == 1, first.stdout + first.stderr
    assert [call.error for call in _posts(fake, "C0OUTSIDE1")] == ["not_in_channel"]
    lines = first.stdout.splitlines()
    assert lines[:2] == [f"sync: {PENDING} new, 0 closed elsewhere, 0 unchanged, 0 errors", "outbox: 1 failed for good, 12 posts held until their channel takes posts"]
    assert len(lines) == 3 and lines[2].endswith(f"after 1 attempts: not_in_channel — {NOT_IN_FIX}"), lines
    assert first.stdout.count(NOT_IN_FIX) == 1 and first.stderr.count(NOT_IN_FIX) == 1  # said once, in the summary and the log

    fake.add_channel("C0OUTSIDE1", name="approvals", team_id=TEAM)  # the bot is invited
    second = _sync(fake, database_url, INVITES_CHANNEL="C0OUTSIDE1")

    assert (second.returncode, second.stdout) == (0, f"sync: 0 new, 0 closed elsewhere, {PENDING} unchanged, 0 errors\n"), second.stderr
    assert len(_posts(fake, "C0OUTSIDE1")) == 1 + PENDING
    posted = sorted(m["metadata"]["event_payload"]["request_id"] for m in _cards(fake, "C0OUTSIDE1"))
    assert posted == sorted(request["id"] for request in requests)  # each card once


@both_databases
def test_a_channel_id_naming_no_channel_is_asked_once_and_the_right_setting_posts_every_card_once(fake, database_url):
    requests = _pending(fake)

    first = _sync(fake, database_url, INVITES_CHANNEL="C0NOPE0001")

    assert first.returncode == 1, first.stdout + first.stderr
    assert [call.error for call in _posts(fake, "C0NOPE0001")] == ["channel_not_found"]
    assert first.stdout.splitlines()[1] == "outbox: 1 failed for good, 12 posts held until their channel takes posts"
    assert first.stdout.count(NOT_FOUND_FIX) == 1 and first.stderr.count(NOT_FOUND_FIX) == 1

    second = _sync(fake, database_url)  # restarted with the right INVITES_CHANNEL

    assert (second.returncode, second.stdout) == (0, f"sync: 0 new, 0 closed elsewhere, {PENDING} unchanged, 0 errors\n"), second.stderr
    assert len(_posts(fake, "C0NOPE0001")) == 1  # the cards held for the wrong id are not tried there again
    assert len(_posts(fake, CHANNEL)) == PENDING
    posted = sorted(m["metadata"]["event_payload"]["request_id"] for m in _cards(fake, CHANNEL))
    assert posted == sorted(request["id"] for request in requests)


def test_a_bad_route_holds_only_its_own_channel(fake, database_url):
    good = _pending(fake, 5, TEAM)
    _pending(fake, 5, OTHER_TEAM)

    result = _sync(fake, database_url, INVITES_ROUTES=f"{TEAM}:{CHANNEL},{OTHER_TEAM}:C0NOPE0002")

    assert result.returncode == 1, result.stdout + result.stderr
    assert len(_posts(fake, "C0NOPE0002")) == 1
    assert sorted(m["metadata"]["event_payload"]["request_id"] for m in _cards(fake, CHANNEL)) == sorted(r["id"] for r in good)
    fix = f"the INVITES_ROUTES entry {OTHER_TEAM}:C0NOPE0002 names no channel the bot can see"
    assert result.stdout.count(fix) == 1, result.stdout
