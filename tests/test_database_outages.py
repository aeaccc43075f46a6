"""A database that is full, silent or short of connections: /healthz says so within 2 s, Slack keeps its events, every
clicker hears what happened, and each replica stays within the connections it is given."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from tests.support.cards import card_text, ephemerals_for, wait_for_card
from tests.support.databases import POSTGRES_URL, both_databases
from tests.support.stand_in import APPROVER, CHANNEL, MANY_APPROVERS, TEAM, new_request
from tests.support.tcp_proxy import proxy_to

NOT_RECORDED = "invitebot could not record this — its database is not writable; nothing was decided."
WENT_WRONG = "Something went wrong on invitebot's side (ref "


def _health(bot):
    """/healthz's status and how long it took to answer."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(bot.url.replace("/slack/events", "/healthz"), timeout=30) as answer:
            status = answer.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.monotonic() - started


def _cards(fake, bot, count):
    requests = [new_request(fake, f"person{n}@example.com") for n in range(count)]
    for request in requests:
        bot.slack.invite_requested(request)
    cards = [wait_for_card(fake, request["email"]) for request in requests]
    bot.settle()
    return requests, cards


# -- SQLite: the disk is full --------------------------------------------------------------------------------------


@contextmanager
def _full(path):
    """The file cannot grow (SQLite answers SQLITE_FULL, as on a full disk): every connection opened from now on is held
    to the pages the file has, and those are filled to the last byte."""

    def capped(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    filler = sqlite3.connect(path, isolation_level=None)
    filler.execute("CREATE TABLE filler (b BLOB)")
    filler.execute(f"PRAGMA max_page_count = {filler.execute('PRAGMA page_count').fetchone()[0] + 1}")
    for size in (4096, 512, 64, 8, 1):
        try:
            while True:
                filler.execute("INSERT INTO filler VALUES (zeroblob(?))", (size,))
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
    sqlalchemy.event.listen(sqlalchemy.pool.Pool, "connect", capped)
    try:
        yield
    finally:
        sqlalchemy.event.remove(sqlalchemy.pool.Pool, "connect", capped)
        filler.execute("PRAGMA max_page_count = 1073741823")
        filler.execute("DROP TABLE filler")
        filler.close()


def test_a_full_sqlite_file_is_unhealthy_and_everyone_is_told(fake, bot):
    [request], [card] = _cards(fake, bot, 1)
    home_value = _home_button(fake, bot)

    with _full(bot.runtime.engine.url.database):
        bot.runtime.engine.dispose()
        status, took = _health(bot)
        assert (status, took < 2) == (503, True)
        later = new_request(fake, "grace@example.com")
        event = bot.slack.invite_requested(later, event_id="Ev0FULL0001")
        click = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
        command = bot.slack.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM)
        home = bot.slack.click_in_home(user_id=APPROVER, action_id="invite_approve", value=home_value, team_id=TEAM)

        assert event.status == 503  # Slack delivers it again
        assert (click.status, command.status, home.status) == (200, 200, 200)
        fake.wait_for(lambda: [p for p in fake.response_posts() if NOT_RECORDED in p["text"]], message="the click was not told")
        assert NOT_RECORDED in command.body
        fake.wait_for(lambda: NOT_RECORDED in json.dumps(fake.home_view(APPROVER), ensure_ascii=False), message="Home not told")
        bot.settle()
        assert fake.calls("admin.inviteRequests.approve") == []

    bot.runtime.engine.dispose()
    assert _health(bot)[0] == 200
    retry = bot.slack.invite_requested(later, event_id="Ev0FULL0001", retry_num=1, retry_reason="http_error")
    assert retry.status == 200
    wait_for_card(fake, "grace@example.com")
    assert fake.invite_request_status(request["id"]) == "pending"
    bot.settle()


def _home_button(fake, bot):
    """The value of the first Approve button on the approver's App Home."""
    bot.slack.app_home_opened(APPROVER, team_id=TEAM)
    bot.settle()
    return next(
        element["value"]
        for block in fake.home_view(APPROVER)["blocks"]
        for element in block.get("elements") or []
        if element.get("action_id") == "invite_approve"
    )


# -- PostgreSQL: the server stops answering ---------------------------------------------------------------------------

QUICK = {"INVITES_DB_CONNECT_TIMEOUT": "2", "INVITES_DB_STATEMENT_TIMEOUT": "2", "INVITES_DB_NETWORK_TIMEOUT": "2"}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_while_postgresql_is_silent_healthz_answers_in_two_seconds_and_every_clicker_hears(fake, start_bot, database_url):
    with proxy_to(database_url) as proxy:
        bot = start_bot(DATABASE_URL=proxy.url(database_url), **QUICK)
        requests, cards = _cards(fake, bot, 4)
        assert _health(bot)[0] == 200

        proxy.black_hole()  # connections stay open, nothing comes back: a failover, a host that drops every packet
        clickers = MANY_APPROVERS[:4]
        first = bot.slack.click(user_id=clickers[0], channel=CHANNEL, message_ts=cards[0]["ts"], action_id="invite_approve")
        status, took = _health(bot)
        assert (status, took < 2) == (503, True)
        later = [
            bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
            for user, card in zip(clickers[1:], cards[1:])
        ]
        event = bot.slack.invite_requested(new_request(fake, "grace@example.com"))

        assert [reply.status for reply in [first, *later]] == [200] * 4
        assert event.status == 503
        for user in clickers:  # the first was taken before the outage showed; the others are turned away at once
            fake.wait_for(lambda: [t for t in ephemerals_for(fake, user) if NOT_RECORDED in t or WENT_WRONG in t], timeout=30,
                          message=f"{user} was never told")
        assert fake.calls("admin.inviteRequests.approve") == []

        proxy.restore()
        fake.wait_for(lambda: _health(bot)[0] == 200, timeout=30, message="healthz never recovered")
        bot.slack.click(user_id=clickers[0], channel=CHANNEL, message_ts=cards[0]["ts"], action_id="invite_approve")
        wait_for_card(fake, requests[0]["email"], lambda m: "Approved by" in card_text(m), timeout=30)
        bot.settle()
        assert [fake.invite_request_status(r["id"]) for r in requests] == ["approved", "pending", "pending", "pending"]


# -- connections: a bounded pool, and replicas within the server's limit ----------------------------------------------


@both_databases
def test_a_click_whose_work_finds_no_free_connection_is_answered(fake, start_bot):
    bot = start_bot(INVITES_DB_POOL_SIZE="2", INVITES_DB_POOL_TIMEOUT="1")
    [request], [card] = _cards(fake, bot, 1)
    held = [bot.runtime.engine.connect() for _ in range(2)]  # every connection the bot may have, busy elsewhere
    try:
        reply = bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
        assert reply.status == 200
        [told] = fake.wait_for(lambda: [t for t in ephemerals_for(fake, APPROVER) if WENT_WRONG in t], timeout=15)
    finally:
        for connection in held:
            connection.close()
    bot.settle()
    assert fake.calls("admin.inviteRequests.approve") == []
    assert fake.invite_request_status(request["id"]) == "pending"

    bot.slack.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id="invite_approve")
    fake.wait_for(lambda: [t for t in ephemerals_for(fake, APPROVER) if "You approved" in t])
    assert fake.invite_request_status(request["id"]) == "approved"


@contextmanager
def _limited_role(database_url, connections):
    """A role that may open `connections` connections at once, owning the test's database (as an operator's would)."""
    role = f"invitebot_limited_{uuid.uuid4().hex[:8]}"
    name = make_url(database_url).database
    admin = sqlalchemy.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    inside = sqlalchemy.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=sqlalchemy.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT {connections}')
        connection.exec_driver_sql(f'ALTER DATABASE "{name}" OWNER TO "{role}"')
    with inside.connect() as connection:
        connection.exec_driver_sql(f'ALTER SCHEMA public OWNER TO "{role}"')
    try:
        yield make_url(database_url).set(username=role, password=None).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'DROP ROLE IF EXISTS "{role}"')
        admin.dispose()
        inside.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no connection limit to keep within
def test_replicas_sized_to_the_connection_limit_decide_every_click_once(fake, start_bot, database_url):
    """Three replicas with INVITES_DB_POOL_SIZE=3, each a web process and a worker in one, hold at most 3 × (3 + 2)
    connections (the pool, the probe's, the worker's LISTEN): a role allowed exactly that many decides 30 clicks, each
    once, and tells each clicker (the old pools opened up to 30 each)."""
    with _limited_role(database_url, 3 * (3 + 2)) as url:
        bots = [start_bot(DATABASE_URL=url, INVITES_DB_POOL_SIZE="3") for _ in range(3)]
        requests, cards = _cards(fake, bots[0], 30)

        def click(n):
            bots[n % 3].slack.click(
                user_id=MANY_APPROVERS[n % 20], channel=CHANNEL, message_ts=cards[n]["ts"], action_id="invite_approve"
            )

        threads = [threading.Thread(target=click, args=(n,)) for n in range(30)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for request in requests:
            wait_for_card(fake, request["email"], lambda m: "Approved by" in card_text(m), timeout=60)
        for one in bots:
            one.settle(60)

        assert sorted(call.params["invite_request_id"] for call in fake.calls("admin.inviteRequests.approve")) == sorted(
            r["id"] for r in requests
        )
        answers = [t for user in MANY_APPROVERS for t in ephemerals_for(fake, user)]
        assert len(answers) == 30 and all("You approved" in t for t in answers), answers
