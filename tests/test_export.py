"""The audit export: `invitebot export` for auditors, `/invites export` for approvers, the same columns from one module."""

from __future__ import annotations

import csv
import gc
import io
import json
import re
import socket
import subprocess
import sys
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from app.core import export
from app.slack.api.errors import documented_codes
from app.store.db import make_engine, make_session_factory
from app.store.migrate import upgrade_to_head
from app.store.models import DecisionLog, InviteRequest, WorkspaceName
from tests.support.databases import both_databases
from tests.support.rows import request_row
from tests.support.stand_in import (
    APPROVER,
    CHANNEL,
    GROUP_APPROVER,
    MANY_APPROVERS,
    OTHER_TEAM,
    OUTSIDER,
    SLACK_ADMIN,
    TEAM,
    new_request,
)

AUDIT_PAGE = Path(__file__).resolve().parents[1] / "docs" / "audit.md"
HEADER = (
    '"at","request_id","workspace","workspace_name","email","invite_type","expires","action","actor","source","outcome",'
    '"slack_error","rule","batch_id","detail","status","decided_by","decided_at"'
)
SINCE = datetime(2026, 1, 1, tzinfo=timezone.utc)
UNTIL = datetime(2026, 2, 1, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def entry(at: datetime, request_id: str = "Ir0000TEST", **kw: Any) -> DecisionLog:
    values: dict[str, Any] = dict(
        request_id=request_id, actor_id=APPROVER, action="approve", source="button", outcome="ok", detail=None, at=at
    )
    values.update(kw)
    return DecisionLog(**values)


def the_log() -> list[Any]:
    """A month of attempts on two requests, with a row just outside each end of January."""
    decided = datetime(2026, 1, 5, 9, 30, 12, tzinfo=timezone.utc)
    approved = request_row(
        id="Ir0000TEST", team_name="Alpha Corp", status="approved", decided_by=APPROVER, decided_at=decided,
        policy_rule="employees", first_seen=SINCE, last_seen=SINCE,
    )
    hostile = request_row(
        id="Ir0000EVIL", email="=HYPERLINK(\"http://evil.example\")@example.com", status="pending",
        first_seen=SINCE, last_seen=SINCE,
    )
    return [
        WorkspaceName(id=TEAM, name="Alpha Corp", domain="alpha", updated_at=SINCE),
        approved,
        hostile,
        entry(SINCE - SECOND, outcome="not_allowed", actor_id=OUTSIDER),  # just before the window
        entry(SINCE, outcome="not_allowed", actor_id=OUTSIDER),  # refused, at the window's first instant
        entry(datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc), outcome="missing_scope", detail="+SUM(A1:A9)"),
        entry(datetime(2026, 1, 5, 9, 30, 5, tzinfo=timezone.utc), outcome="network_error"),
        entry(decided, actor_id="employees", source="policy", outcome="ok"),  # an enforced rule decided it
        entry(datetime(2026, 1, 20, tzinfo=timezone.utc), "Ir0000EVIL", action="deny", outcome="calling", batch_id=7,
              actor_id="@admin", detail="-1 bulk"),
        entry(UNTIL - SECOND, "(direct invite)", action="invite", source="slash", detail="grace@example.com to T0ALPHA01"),
        entry(UNTIL, outcome="ok"),  # the window's end is not in it
    ]


@pytest.fixture
def log_db(database_url: str) -> str:
    engine = make_engine(database_url)
    upgrade_to_head(engine)
    with make_session_factory(engine).begin() as session:
        session.add_all(the_log())
    engine.dispose()
    return database_url


def exported(database_url: str, since: datetime = SINCE, until: datetime | None = UNTIL) -> list[export.ExportRow]:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return list(export.rows(session, since, until, slack_codes=documented_codes()))
    finally:
        engine.dispose()


def as_csv(rows: list[export.ExportRow]) -> str:
    out = io.StringIO()
    export.write_csv(rows, out)
    return out.getvalue()


# -- the rows -------------------------------------------------------------------------------------------------------


def test_the_csv_header_is_the_contract_and_the_audit_page_documents_each_column() -> None:
    assert as_csv([]).splitlines() == [HEADER]
    section = AUDIT_PAGE.read_text().split("\n## Columns\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)
    assert tuple(documented) == export.COLUMNS


def test_the_window_includes_since_and_excludes_until_oldest_first(log_db: str) -> None:
    rows = exported(log_db)

    assert [r.at for r in rows] == [
        "2026-01-01T00:00:00Z",
        "2026-01-05T09:30:00Z",
        "2026-01-05T09:30:05Z",
        "2026-01-05T09:30:12Z",
        "2026-01-20T00:00:00Z",
        "2026-01-31T23:59:59Z",
    ]
    assert [r.at for r in exported(log_db, since=UNTIL - SECOND, until=None)] == ["2026-01-31T23:59:59Z", "2026-02-01T00:00:00Z"]


def test_refused_policy_bulk_and_failed_attempts_carry_actor_rule_batch_and_slack_error(log_db: str) -> None:
    refused, scope, wire, by_rule, bulk, direct = exported(log_db)

    assert (refused.actor, refused.outcome, refused.slack_error) == (OUTSIDER, "not_allowed", None)
    assert (refused.workspace, refused.workspace_name, refused.email, refused.invite_type) == (
        TEAM, "Alpha Corp", "ada@example.com", "full_member"
    )
    assert (scope.outcome, scope.slack_error) == ("missing_scope", "missing_scope")
    assert (wire.outcome, wire.slack_error) == ("network_error", None)  # invitebot's label: Slack never answered
    assert (by_rule.actor, by_rule.source, by_rule.rule) == ("employees", "policy", "employees")
    assert (by_rule.status, by_rule.decided_by, by_rule.decided_at) == ("approved", APPROVER, "2026-01-05T09:30:12Z")
    assert (bulk.batch_id, bulk.action, bulk.status, bulk.rule) == (7, "deny", "pending", None)
    # logged before direct invitations named whom they were for
    assert (direct.request_id, direct.action, direct.workspace, direct.email) == ("(direct invite)", "invite", None, None)


def test_csv_escapes_formula_like_text_and_agrees_with_jsonl(log_db: str) -> None:
    rows = exported(log_db)
    lines = io.StringIO()
    export.write_jsonl(rows, lines)
    objects = [json.loads(line) for line in lines.getvalue().splitlines()]
    cells = list(csv.DictReader(io.StringIO(as_csv(rows))))

    bulk = objects[4]
    assert bulk["email"].startswith("=HYPERLINK") and bulk["actor"] == "@admin" and bulk["batch_id"] == 7
    assert (cells[4]["email"], cells[4]["actor"], cells[4]["detail"]) == (
        "'=HYPERLINK(\"http://evil.example\")@example.com", "'@admin", "'-1 bulk"
    )
    assert cells[1]["detail"] == "'+SUM(A1:A9)"
    assert all(list(obj) == list(export.COLUMNS) for obj in objects)
    unescaped = [{k: (v[1:] if v.startswith("'") else v) for k, v in row.items()} for row in cells]
    assert unescaped == [{k: "" if v is None else str(v) for k, v in obj.items()} for obj in objects]


# -- invitebot export -----------------------------------------------------------------------------------------------


def _invitebot(database_url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Only DATABASE_URL: no Slack token is needed for an export."""
    return subprocess.run(
        [sys.executable, "-m", "app", "export", *args],
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": database_url},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@both_databases
def test_the_command_writes_the_window_as_csv_or_jsonl(log_db: str, tmp_path: Path) -> None:
    result = _invitebot(log_db, "--since", "2026-01-01", "--until", "2026-02-01")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER and len(lines) == 7
    assert lines[1].startswith('"2026-01-01T00:00:00Z","Ir0000TEST","T0ALPHA01","Alpha Corp","ada@example.com"')

    out = tmp_path / "audit.jsonl"
    result = _invitebot(log_db, "--since", "2026-01-05T09:30:05Z", "--format", "jsonl", "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr.splitlines()[-1] == f"invitebot export: 5 rows written to {out}"
    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert [o["at"] for o in objects] == [
        "2026-01-05T09:30:05Z", "2026-01-05T09:30:12Z", "2026-01-20T00:00:00Z", "2026-01-31T23:59:59Z", "2026-02-01T00:00:00Z"
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        ([], "--since is needed: write a date like 2026-01-01 (midnight UTC) or a time like 2026-01-05T09:30:00Z"),
        (["--since", "2026-13-01"], "--since '2026-13-01' is neither a date nor a time: write a date like 2026-01-01 "
                                    "(midnight UTC) or a time like 2026-01-05T09:30:00Z"),
        (["--since", "2026-01-01", "--until", "next week"], "--until 'next week' is neither a date nor a time: write a "
                                                             "date like 2026-01-01 (midnight UTC) or a time like 2026-01-05T09:30:00Z"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until 2026-01-01 is not after --since 2026-02-01: the window would be empty"),
        (["--since", "2026-01-01", "--format", "xlsx"], "--format 'xlsx' is not one of csv, jsonl"),
        (["--since", "2026-01-01", "--out", "/nonexistent-folder/audit.csv"], "cannot write /nonexistent-folder/audit.csv: No such file or directory"),
    ],
)
def test_arguments_it_cannot_use_are_one_line_and_exit_2(log_db: str, args: list[str], line: str) -> None:
    result = _invitebot(log_db, *args)

    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"invitebot export: {line}"]
    assert result.stdout == ""


def test_a_database_it_cannot_open_is_one_line_and_no_file(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "audit.csv"

    result = _invitebot(f"postgresql://invitebot:pw@127.0.0.1:{port}/invitebot", "--since", "2026-01-01", "--out", str(out))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"invitebot: cannot open the database postgresql+psycopg://invitebot:***@127.0.0.1:{port}/invitebot: connection refused"
    ]
    assert not out.exists()


# -- /invites export ------------------------------------------------------------------------------------------------


def slash(fake: Any, bot: Any, text: str, user: str = APPROVER) -> tuple[str, list[dict[str, Any]]]:
    """The ack's body and what was posted to the command's response_url after it."""
    before = len(fake.response_posts())
    reply = bot.slack.slash(text=text, user_id=user, channel_id=CHANNEL, team_id=TEAM)
    assert reply.status == 200
    bot.settle()
    return reply.body, fake.response_posts()[before:]


def shared_csv(fake: Any, user: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The one file invitebot sent a user in their direct messages with it, and its rows."""
    [message] = [m for m in fake.direct_messages(user) if m.get("files")]
    [shared] = message["files"]
    content = fake.uploaded_file(shared["id"])["content"].decode("utf-8")
    assert content.splitlines()[0] == HEADER
    return message, list(csv.DictReader(io.StringIO(content)))


def test_invites_export_sends_the_askers_dm_a_csv_of_the_days_asked_for(fake: Any, bot: Any) -> None:
    now = datetime.now(timezone.utc)
    with bot.runtime.sessions.begin() as session:
        session.add(request_row(first_seen=now, last_seen=now))
        session.add(entry(now - timedelta(days=3), detail="within the week"))
        session.add(entry(now - timedelta(days=8), detail="before the week"))
    _, [refused] = slash(fake, bot, "export 7", user=OUTSIDER)
    assert refused["text"].startswith("Only invite approvers can use `/invites export`")

    _, [answer] = slash(fake, bot, "export 7")

    message, rows = shared_csv(fake, APPROVER)
    assert [(r["detail"], r["actor"], r["outcome"]) for r in rows] == [
        ("within the week", APPROVER, "ok"),
        ("", OUTSIDER, "not_allowed"),  # the refused attempt just now, audited and exported
    ]
    assert (rows[1]["action"], rows[1]["source"]) == ("export", "slash")
    [shared] = message["files"]
    assert re.fullmatch(r"invitebot-audit-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.csv", shared["name"])
    assert "2 rows, oldest first" in message["text"]
    assert answer["text"] == f"The audit export of the last 7 days is in your direct messages with invitebot: {shared['name']}, 2 rows."
    assert [c.method for c in fake.calls() if c.method.startswith(("conversations.", "files."))] == [
        "conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"
    ]
    assert fake.direct_messages(OUTSIDER) == []


def test_direct_invitations_are_exported_with_workspace_address_guest_type_and_expiry(fake: Any, bot: Any) -> None:
    expiry = date.today() + timedelta(days=30)
    slash(fake, bot, f"invite grace@example.com <#C0GENERAL1|general> single-channel-guest expires {expiry.isoformat()}")
    fake.fail_next("admin.users.invite", "already_in_team")
    slash(fake, bot, "invite linus@example.com <#C0GENERAL1|general>")
    slash(fake, bot, "invite mallory@example.com <#C0GENERAL1|general> guest", user=OUTSIDER)

    slash(fake, bot, "export 7")

    _, rows = shared_csv(fake, APPROVER)
    assert [(r["request_id"], r["workspace"], r["email"], r["invite_type"], r["expires"], r["outcome"]) for r in rows] == [
        ("(direct invite)", TEAM, "grace@example.com", "ultra_restricted", f"{expiry.isoformat()}T23:59:59Z", "ok"),
        ("(direct invite)", TEAM, "linus@example.com", "full_member", "", "already_in_team"),
        ("(direct invite)", TEAM, "mallory@example.com", "restricted", "", "not_allowed"),
    ]
    [invite] = fake.invites()
    assert int(invite["guest_expiration_ts"]) == int(datetime.fromisoformat(rows[0]["expires"]).timestamp())


def test_each_export_sent_from_slack_is_audited_with_who_how_many_days_and_rows(fake: Any, bot: Any) -> None:
    now = datetime.now(timezone.utc)
    with bot.runtime.sessions.begin() as session:
        session.add(request_row(first_seen=now, last_seen=now))
        session.add(entry(now - timedelta(days=3), detail="-"))
    slash(fake, bot, "export 7")
    fake.fail_next("files.completeUploadExternal", "file_uploads_disabled")
    slash(fake, bot, "export 30")

    slash(fake, bot, "export 2", user=GROUP_APPROVER)

    _, rows = shared_csv(fake, GROUP_APPROVER)
    assert [(r["request_id"], r["actor"], r["action"], r["source"], r["outcome"], r["detail"]) for r in rows] == [
        ("-", APPROVER, "export", "slash", "ok", "the last 7 days, 1 rows"),
        ("-", APPROVER, "export", "slash", "file_uploads_disabled", "the last 30 days, 2 rows"),
    ]
    _, first = shared_csv(fake, APPROVER)
    assert first[0]["detail"] == "-"  # the placeholder as written, not '-
    with bot.sessions() as session:
        [audited] = session.scalars(select(DecisionLog).where(DecisionLog.actor_id == GROUP_APPROVER)).all()
    assert (audited.action, audited.outcome, audited.detail) == ("export", "ok", "the last 2 days, 2 rows")


def test_a_decision_made_in_slacks_admin_pages_is_exported_as_outside_like_the_request_says(fake: Any, bot: Any) -> None:
    request = new_request(fake, "no@example.com")
    bot.slack.invite_requested(request)
    bot.settle()
    fake.decide_outside(request["id"], "deny", SLACK_ADMIN)

    bot.sync(timeout=60)
    slash(fake, bot, "export 1")

    _, rows = shared_csv(fake, APPROVER)
    [closed] = [r for r in rows if r["outcome"] == "closed_elsewhere"]
    assert (closed["actor"], closed["action"], closed["source"]) == (SLACK_ADMIN, "deny", "outside")
    with bot.sessions() as session:
        assert session.get(InviteRequest, request["id"]).decision_source == closed["source"]


def test_a_workspace_approver_exports_only_their_workspaces_and_their_own_attempts(fake: Any, start_bot: Any) -> None:
    bot = start_bot(INVITES_APPROVERS=APPROVER, **{f"INVITES_APPROVERS_{OTHER_TEAM}": SLACK_ADMIN})
    now = datetime.now(timezone.utc)
    with bot.runtime.sessions.begin() as session:
        session.add(request_row(id="Ir0000ALFA", first_seen=now, last_seen=now))
        session.add(request_row(id="Ir0000BETA", team_id=OTHER_TEAM, first_seen=now, last_seen=now))
        session.add(entry(now - timedelta(hours=2), "Ir0000ALFA", detail="alpha's"))
        session.add(entry(now - timedelta(hours=1), "Ir0000BETA", actor_id=SLACK_ADMIN, detail="beta's"))

    slash(fake, bot, "export 7", user=SLACK_ADMIN)

    _, rows = shared_csv(fake, SLACK_ADMIN)
    assert [(r["request_id"], r["detail"]) for r in rows] == [("Ir0000BETA", "beta's")]
    slash(fake, bot, "export 7")
    _, every = shared_csv(fake, APPROVER)
    assert [r["request_id"] for r in every] == ["Ir0000ALFA", "Ir0000BETA", "-"]  # "-": the workspace approver's export


def test_non_approvers_are_refused_and_audited_and_get_no_file(fake: Any, bot: Any) -> None:
    _, [answer] = slash(fake, bot, "export", user=OUTSIDER)

    assert answer["text"] == "Only invite approvers can use `/invites export`. You can use `/invites mine` and `/invites help`."
    with bot.sessions() as session:
        [logged] = session.scalars(select(DecisionLog)).all()
    assert (logged.actor_id, logged.action, logged.source, logged.outcome) == (OUTSIDER, "export", "slash", "not_allowed")
    assert not [c for c in fake.calls() if c.method.startswith("files.")]


@pytest.mark.parametrize(
    ("method", "code", "says"),
    [
        ("files.completeUploadExternal", "file_uploads_disabled", "file uploads are turned off in this workspace"),
        ("files.getUploadURLExternal", "missing_scope", "lacks files:write or im:write"),
        ("conversations.open", "user_not_visible", "would not open a direct message between you and invitebot"),
    ],
)
def test_a_slack_error_is_a_sentence_with_the_way_to_retry(fake: Any, bot: Any, method: str, code: str, says: str) -> None:
    with bot.runtime.sessions.begin() as session:
        session.add(entry(datetime.now(timezone.utc) - timedelta(hours=1)))
    fake.fail_next(method, code)

    _, [answer] = slash(fake, bot, "export 7")

    assert says in answer["text"] and answer["text"].endswith("Then try `/invites export 7` again.")
    assert not [m for m in fake.direct_messages(APPROVER) if m.get("files")]


def test_an_empty_window_sends_no_file_and_bad_days_are_answered_in_the_ack(fake: Any, bot: Any) -> None:
    _, [answer] = slash(fake, bot, "export 1")
    assert answer["text"] == "invitebot recorded no decisions or attempts in the last 1 day, so there is no file to send."

    for text in ("export 0", "export 366", "export seven", "export 7 days"):
        ack, posts = slash(fake, bot, text)
        assert ack.startswith("`/invites export` takes a number of days from 1 to 365, like `/invites export 7`.")
        assert "Usage: `/invites export [days]`" in ack and posts == []
    assert not [c for c in fake.calls() if c.method.startswith("files.")]


# -- a large export, and several at once -------------------------------------------------------------------------------


def add_log(bot: Any, count: int, start: int = 0) -> None:
    """`count` attempts over the last days, each with a detail a spreadsheet would read as a formula."""
    now = datetime.now(timezone.utc)
    rows = [
        dict(request_id="Ir0000TEST", actor_id=APPROVER, action="approve", source="button", outcome="ok",
             detail=f"=cmd|' /C calc'!A{n} attempt {n:07d} " + "x" * 120, at=now - timedelta(days=300, seconds=-n))
        for n in range(start, start + count)
    ]
    with bot.runtime.sessions.begin() as session:
        if start == 0:
            session.add(request_row(first_seen=now, last_seen=now))
        session.execute(insert(DecisionLog), rows)


def export_peak(fake: Any, bot: Any) -> tuple[int, list[dict[str, str]]]:
    """The most memory Python held while `/invites export 365` ran (the bot and the stand-in alike), and the file."""
    gc.collect()
    tracemalloc.start()
    try:
        slash(fake, bot, "export 365")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    messages = [m for m in fake.direct_messages(APPROVER) if m.get("files")]
    content = fake.uploaded_file(messages[-1]["files"][0]["id"])["content"]
    return peak, list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


@both_databases
def test_a_large_export_is_streamed_so_memory_does_not_grow_with_its_rows(fake: Any, bot: Any) -> None:
    add_log(bot, 2_000)
    small_peak, small = export_peak(fake, bot)
    add_log(bot, 18_000, start=2_000)
    large_peak, large = export_peak(fake, bot)

    assert len(small) == 2_000 and len(large) == 20_001  # and the first export's own audit row
    assert large[-2]["detail"].startswith("'=cmd|' /C calc'!A19999 attempt 0019999")  # defused, and the last row is there
    assert (large[-1]["action"], large[-1]["detail"]) == ("export", "the last 365 days, 2000 rows")
    size = sum(len(",".join(row.values())) for row in large)
    assert size > 3_000_000
    assert large_peak < size / 2, f"peak {large_peak} bytes for a {size}-byte file"
    assert large_peak < small_peak + 1_000_000, f"peak {small_peak} bytes for 2,000 rows, {large_peak} for 20,000"


def test_exports_asked_for_at_once_run_one_at_a_time_and_each_asker_hears_its_turn(fake: Any, bot: Any) -> None:
    add_log(bot, 50)
    fake.set_latency("files.getUploadURLExternal", 0.5)  # each export takes a while: the others must wait for it
    askers = [APPROVER, GROUP_APPROVER, MANY_APPROVERS[0]]
    before = len(fake.response_posts())

    for user in askers:
        assert bot.slack.slash(text="export 365", user_id=user, channel_id=CHANNEL, team_id=TEAM).status == 200
    bot.settle()

    methods = [c.method for c in fake.calls() if c.method.startswith(("conversations.open", "files."))]
    assert methods == ["conversations.open", "files.getUploadURLExternal", "files.completeUploadExternal"] * 3
    posts = [p["text"] for p in fake.response_posts()[before:]]
    queued = sorted(p for p in posts if " is queued: " in p)
    assert queued == [
        "Your audit export of the last 365 days is queued: 2 other audit exports are being written first, one at a "
        "time. It comes to your direct messages with invitebot when it is ready; there is no need to ask again.",
        "Your audit export of the last 365 days is queued: another audit export is being written first, one at a "
        "time. It comes to your direct messages with invitebot when it is ready; there is no need to ask again.",
    ]
    assert len([p for p in posts if p.startswith("The audit export of the last 365 days is in your direct messages")]) == 3
    # each export sees the ones sent before it, audited
    assert sorted(len(shared_csv(fake, user)[1]) for user in askers) == [50, 51, 52]
