"""What a reconcile pass costs: Slack's decided lists read only as far as needed, no writes for what did not change."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import Engine, event, select, update

from app.core.audit import now
from app.core.bulk_ingest import CHUNK
from app.store.models import InviteRequest
from tests.support.bots import settings_env
from tests.support.cards import buttons, card_text, wait_for_card
from tests.support.databases import both_databases
from tests.support.stand_in import CHANNEL, SLACK_ADMIN, TEAM, new_request

PAGE = 10  # admin list page size for these tests, so a few dozen decided requests span several pages
DECIDED_LISTS = ("admin.inviteRequests.approved.list", "admin.inviteRequests.denied.list")
_WRITE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("app.slack.api.gateway.ADMIN_PAGE_LIMIT", PAGE)


def _decide_many(fake, count, action, label):
    """Requests the bot never saw, decided outside it (each one is listed before those decided earlier)."""
    for n in range(count):
        request = new_request(fake, f"{label}{n}@example.com")
        fake.decide_outside(request["id"], action, SLACK_ADMIN)


def _decided_list_pages(fake, since):
    """How many pages of each decided list were read after the first `since` calls, all for TEAM."""
    calls = [c for c in fake.calls()[since:] if c.method in DECIDED_LISTS]
    assert {c.params["team_id"] for c in calls} <= {TEAM}
    return {method: sum(c.method == method for c in calls) for method in DECIDED_LISTS}


@pytest.mark.parametrize(
    ("action", "status", "expected"),
    [
        # newest first, 45 decided after it: item 46 of 76 on approved.list, page 5 of 8; denied.list is not needed
        ("approve", "approved", {DECIDED_LISTS[0]: 5, DECIDED_LISTS[1]: 0}),
        # all 8 pages of approved.list (it is not there), then denied.list to page 5 of 8
        ("deny", "denied", {DECIDED_LISTS[0]: 8, DECIDED_LISTS[1]: 5}),
    ],
)
def test_closing_a_request_reads_the_decided_lists_only_until_it_is_found(fake, small_pages, bot, action, status, expected):
    request = new_request(fake)
    assert bot.sync(timeout=60).new == 1
    _decide_many(fake, 30, action, "earlier")
    fake.decide_outside(request["id"], action, SLACK_ADMIN)
    _decide_many(fake, 45, action, "later")
    _decide_many(fake, 76, "deny" if action == "approve" else "approve", "other")
    since = len(fake.calls())

    summary = bot.sync(timeout=60)

    assert (summary.closed, summary.errors) == (1, 0)
    assert _decided_list_pages(fake, since) == expected
    with bot.sessions() as session:
        row = session.get(InviteRequest, request["id"])
        assert (row.status, row.decided_by, row.decision_source) == (status, SLACK_ADMIN, "outside")
    assert f"Already {status} by <@{SLACK_ADMIN}> outside invitebot" in card_text(
        wait_for_card(fake, "ada@example.com", lambda m: not buttons(m))
    )


def test_a_request_gone_from_every_list_still_reads_them_all(fake, small_pages, bot):
    request = new_request(fake)
    bot.sync(timeout=60)
    _decide_many(fake, 25, "approve", "yes")
    _decide_many(fake, 15, "deny", "no")
    fake.remove_request(request["id"])
    since = len(fake.calls())

    summary = bot.sync(timeout=60)

    assert (summary.closed, summary.errors) == (1, 0)
    assert _decided_list_pages(fake, since) == {DECIDED_LISTS[0]: 3, DECIDED_LISTS[1]: 2}
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).status == "gone"


@contextmanager
def _writes(engine: Engine) -> Iterator[list[str]]:
    """The table of every INSERT, UPDATE and DELETE the engine sends while the block runs."""
    tables: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        found = _WRITE.match(statement)
        if found:
            tables.append(found.group(1).lower())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield tables
    finally:
        event.remove(engine, "before_cursor_execute", note)


@both_databases
def test_a_pass_over_known_pending_requests_writes_nothing_for_them(fake, start_bot):
    bot = start_bot(INVITES_DIGEST_OVER="1500")  # a card each, not one digest for the backlog
    for n in range(1500):
        new_request(fake, f"person{n}@example.com")
    with _writes(bot.runtime.engine) as first:
        assert bot.sync(timeout=60).new == 1500
    # the counter sees writes: new requests are inserted a chunk per statement, cards reserved one by one
    assert first.count("invite_requests") == math.ceil(1500 / CHUNK) and first.count("request_cards") >= 1500

    with _writes(bot.runtime.engine) as second:
        summary = bot.sync(timeout=60)

    assert (summary.new, summary.unchanged, summary.errors) == (0, 1500, 0)
    assert second == ["sync_runs"]
    assert len(fake.calls("chat.postMessage")) == 1500


def test_last_seen_is_kept_to_the_day(fake, bot):
    stale, fresh = new_request(fake, "stale@example.com"), new_request(fake, "fresh@example.com")
    bot.sync(timeout=60)
    with bot.runtime.sessions.begin() as session:
        session.execute(
            update(InviteRequest).where(InviteRequest.id == stale["id"]).values(last_seen=now() - timedelta(days=2))
        )
        before = {row.id: row.last_seen for row in session.scalars(select(InviteRequest))}

    with _writes(bot.runtime.engine) as writes:
        bot.sync(timeout=60)

    with bot.sessions() as session:
        after = {row.id: row.last_seen for row in session.scalars(select(InviteRequest))}
    assert after[fresh["id"]] == before[fresh["id"]]
    assert after[stale["id"]] > now() - timedelta(minutes=1)
    assert writes.count("invite_requests") == 1


def _cli(fake, database_url, *args):
    return subprocess.run(
        [sys.executable, *args],
        env={"PATH": "/usr/bin:/bin", **settings_env(fake, database_url)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_sync_command_prints_its_summary_each_time(fake, database_url):
    new_request(fake)

    first = _cli(fake, database_url, "-m", "app", "sync")
    second = _cli(fake, database_url, "-m", "app", "sync")

    assert (first.returncode, first.stdout) == (0, "sync: 1 new, 0 closed elsewhere, 0 unchanged, 0 errors\n"), first.stderr
    assert (second.returncode, second.stdout) == (0, "sync: 0 new, 0 closed elsewhere, 1 unchanged, 0 errors\n"), second.stderr
    assert buttons(wait_for_card(fake, "ada@example.com"))
    assert len(fake.messages(CHANNEL)) == 1


_WITHOUT_SERVER_RUNTIME = """
import sys
import app.main.container

def refuse(*args, **kwargs):
    raise AssertionError("the sync command built the server runtime")

app.main.container.build_runtime = refuse
from app.main.cli import main
sys.exit(main(["sync"]))
"""


def test_the_sync_command_runs_without_the_server_runtime(fake, database_url):
    new_request(fake)

    result = _cli(fake, database_url, "-c", _WITHOUT_SERVER_RUNTIME)

    assert (result.returncode, result.stdout) == (0, "sync: 1 new, 0 closed elsewhere, 0 unchanged, 0 errors\n"), result.stderr
