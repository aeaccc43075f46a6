"""Shared fixtures: a seeded Slack stand-in, a database (SQLite or PostgreSQL), and the bot over real HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings
from app.core.sync import SyncSummary
from app.main.container import build_runtime
from app.main.http import create_wsgi_app
from app.sandbox import FakeSlack, SlackSender
from app.slack.runtime import Runtime
from app.store.migrate import upgrade_to_head

SIGNING_SECRET = "test-signing-secret"
CHANNEL = "C0INVITES1"
TEAM = "T0ALPHA01"
OTHER_TEAM = "T0BETA001"
APPROVER = "W0APPROV01"
GROUP_APPROVER = "W0GROUPAP1"
OUTSIDER = "W0OUTSID01"
REQUESTER = "W0REQUES01"
SLACK_ADMIN = "W0SLACKAD1"
APPROVER_GROUP = "S0APPROVE1"
MANY_APPROVERS = [f"W0MANY{n:04d}" for n in range(20)]
POSTGRES_URL = os.environ.get("INVITEBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


# -- Slack stand-in ---------------------------------------------------------------------------


def seed(fake: FakeSlack) -> None:
    """A small Enterprise org: two workspaces, approvers, a user group, an outsider, an approvals channel."""
    fake.add_team(TEAM, "Alpha Corp", "alpha")
    fake.add_team(OTHER_TEAM, "Beta Labs", "beta")
    fake.add_channel(CHANNEL, name="invite-approvals", team_id=TEAM)
    fake.add_channel("C0GENERAL1", name="general", team_id=TEAM)
    fake.add_channel("C0DESIGN01", name="design", team_id=TEAM)
    for user_id, name in [
        (APPROVER, "grace"),
        (GROUP_APPROVER, "linus"),
        (OUTSIDER, "mallory"),
        (REQUESTER, "alan"),
        (SLACK_ADMIN, "margaret"),
        *[(user_id, user_id.lower()) for user_id in MANY_APPROVERS],
    ]:
        fake.add_user(user_id, name=name, team_id=TEAM, real_name=name.capitalize())
    fake.add_usergroup(APPROVER_GROUP, team_id=TEAM, handle="invite-approvers", user_ids=[GROUP_APPROVER, *MANY_APPROVERS])


@contextmanager
def running_fake() -> Iterator[FakeSlack]:
    """A started, seeded stand-in (also used by the benchmarks)."""
    with FakeSlack(admin_user_id="W0INVBOTAD") as slack:
        seed(slack)
        yield slack


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with running_fake() as slack:
        yield slack


def new_request(fake: FakeSlack, email: str = "ada@example.com", **kw: Any) -> dict[str, Any]:
    """A pending request in the stand-in, with sensible defaults."""
    params: dict[str, Any] = {
        "team_id": TEAM,
        "email": email,
        "real_name": "Ada Lovelace",
        "requester_ids": [REQUESTER],
        "channel_ids": ["C0GENERAL1", "C0DESIGN01"],
        "request_reason": "Joining the analytical engine project",
        "date_expire": 1_900_000_000,
    }
    params.update(kw)
    return fake.add_invite_request(**params)


# -- databases ----------------------------------------------------------------------------------


def _postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"invitebot_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLite by default; tests of races and migrations parametrize it with "postgresql" too."""
    if request.param == "postgresql":
        yield from _postgres_database()
    else:
        yield f"sqlite:///{tmp_path / 'invitebot.db'}"


both_databases = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


# -- the bot --------------------------------------------------------------------------------------


def settings_env(fake: FakeSlack, database_url: str, **overrides: str) -> dict[str, str]:
    env = {
        "SLACK_BOT_TOKEN": fake.bot_token,
        "SLACK_ADMIN_TOKEN": fake.admin_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "DATABASE_URL": database_url,
        "INVITES_CHANNEL": CHANNEL,
        "INVITES_APPROVERS": f"{APPROVER},{APPROVER_GROUP}",
        "INVITES_TEAM_IDS": f"{TEAM},{OTHER_TEAM}",
        "INVITES_SYNC_INTERVAL": "300",
        # Paced like Slack only where a test asks for it (the stand-in enforces no limits unless told to).
        "INVITES_ADMIN_CALLS_PER_MINUTE": "60000",
        "INVITES_CARD_POSTS_PER_MINUTE": "60000",
    }
    env.update(overrides)
    return env


def make_settings(fake: FakeSlack, database_url: str, **overrides: str) -> Settings:
    return Settings(**settings_env(fake, database_url, **overrides))  # type: ignore[arg-type]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class Bot:
    """A running bot: its URL, its runtime (for reading the database), and a sender that signs like Slack."""

    url: str
    runtime: Runtime
    slack: SlackSender

    def sessions(self):  # type: ignore[no-untyped-def]
        return self.runtime.sessions()

    def settle(self, timeout: float = 30) -> None:
        """Wait until everything the bot accepted (after its ack) has finished."""
        assert self.runtime.wait_until_idle(timeout=timeout), "the bot's background work did not finish"

    def sync(self, timeout: float = 30) -> SyncSummary:
        """One reconcile pass, then the Slack work it queued (cards, digests, DMs): what a person sees once it is done."""
        summary = self.runtime.sync()
        self.settle(timeout)
        return summary


@pytest.fixture
def start_bot(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    """Start the WSGI app on a real port in this process; call it again for a second instance on the same database."""
    started: list[tuple[Any, Runtime]] = []

    def start(**overrides: str) -> Bot:
        settings = make_settings(fake, database_url, **overrides)
        runtime = build_runtime(settings)
        upgrade_to_head(runtime.engine)
        runtime.start()
        server = make_server("127.0.0.1", 0, create_wsgi_app(runtime), _ThreadingWSGIServer, _QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((server, runtime))
        url = f"http://127.0.0.1:{server.server_port}/slack/events"
        return Bot(url=url, runtime=runtime, slack=SlackSender(url, SIGNING_SECRET, fake))

    yield start
    for server, runtime in started:
        server.shutdown()
        server.server_close()
        runtime.close()


@pytest.fixture
def bot(start_bot: Any) -> Bot:
    return start_bot()


@contextmanager
def serve_processes(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    """Start real `invitebot serve --port 0` processes on demand; each call returns its events URL."""
    processes: list[subprocess.Popen[str]] = []
    output: dict[str, ProcessOutput] = {}

    def start(**overrides: str) -> str:
        env = {**os.environ, **settings_env(fake, database_url, **overrides)}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        seen = ProcessOutput()
        for line in process.stdout:
            seen.add(line)
            if "invitebot listening on " in line:
                url = line.split("invitebot listening on ", 1)[1].split('"', 1)[0].strip() + "/slack/events"  # a JSON line
                output[url] = seen
                threading.Thread(target=_drain, args=(process.stdout, seen), daemon=True).start()
                return url
        raise AssertionError("serve exited before listening:\n" + seen.text())

    start.output = output  # type: ignore[attr-defined]  # events URL -> every line the process printed
    start.processes = processes  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        for process in processes:
            stop_process(process)


@pytest.fixture
def serve_process(fake: FakeSlack, database_url: str) -> Iterator[Any]:
    with serve_processes(fake, database_url) as start:
        yield start


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM, a grace period for a clean shutdown, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def assert_approved_by_click(fake: FakeSlack, request: dict[str, Any], card: dict[str, Any], approver: str) -> None:
    """What an admin sees after one Approve click, however it travelled: one call, the card rewritten, an answer."""
    decided = wait_for_card(fake, request["email"], lambda m: not buttons(m))
    assert f"Approved by <@{approver}><!date^" in card_text(decided)
    assert decided["ts"] == card["ts"]
    [call] = fake.calls("admin.inviteRequests.approve")
    assert call.params == {"invite_request_id": request["id"], "team_id": request["team"]["id"]}
    assert call.token == fake.admin_token
    assert fake.invite_request_status(request["id"]) == "approved"
    [answer] = fake.wait_for(lambda: ephemerals_for(fake, approver))
    assert f"You approved the invite request for {request['email']}" in answer


class ProcessOutput:
    """Lines a child process printed, with a way to wait for one (no sleeps)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def add(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float = 15.0) -> str:
        with self._changed:
            found = self._changed.wait_for(lambda: next((l for l in self.lines if needle in l), None), timeout)
        if not found:
            raise AssertionError(f"the process never printed {needle!r}:\n{self.text()}")
        return found


def _drain(stream: Any, output: ProcessOutput) -> None:
    for line in stream:
        output.add(line)


# -- reading what the admin sees ------------------------------------------------------------------


def card_text(message: dict[str, Any]) -> str:
    """All the text a person reads on a card, in order."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if block.get("text"):
            parts.append(block["text"]["text"])
        for field in block.get("fields") or []:
            parts.append(field["text"])
        for element in block.get("elements") or []:
            if element.get("type") in ("mrkdwn", "plain_text"):
                parts.append(element["text"])
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block["elements"]
        if element.get("type") == "button"
    ]


def wait_for_card(fake: FakeSlack, email: str, predicate: Any = None, timeout: float = 10.0) -> dict[str, Any]:
    """The card for `email` in the approvals channel, once it exists (and satisfies predicate)."""

    def find() -> dict[str, Any] | None:
        for message in fake.messages(CHANNEL):
            if email in card_text(message) and (predicate is None or predicate(message)):
                return message
        return None

    return fake.wait_for(find, timeout=timeout, message=f"no card for {email}")


def ephemerals_for(fake: FakeSlack, user: str) -> list[str]:
    return [e["text"] for e in fake.ephemerals(channel=CHANNEL, user=user)]


def deny_through_modal(fake: FakeSlack, bot: Bot, card: dict[str, Any], user: str, reason: str | None = None, **click: Any) -> Any:
    """Click Deny on a card, wait for the reason modal to be filled in, and submit it."""
    opened = len(fake.views_opened())
    bot.slack.click(user_id=user, channel=CHANNEL, message_ts=card["ts"], action_id="invite_deny", **click)
    view = fake.wait_for(lambda: fake.views_opened()[opened:], message="no deny modal opened")[0]
    bot.settle()
    values = {"reason": {"reason_input": {"type": "plain_text_input", "value": reason}}}
    return bot.slack.submit_view(user_id=user, view=fake.modal(view["id"]), values=values, team_id=TEAM)


# A policy with a rule of each kind: work addresses approved, personal ones denied, guests needing two approvers.
POLICY_YAML = """\
mode: {mode}
rules:
  - name: employees
    when: {{email_domain: [example.com, "*.example.com"], invite_type: [full_member]}}
    then: approve
  - name: personal-mail
    when: {{email_domain: [gmail.com, outlook.com]}}
    then: deny
    reason: "Personal addresses cannot join; please ask for a work address."
  - name: guests
    when: {{invite_type: [restricted, ultra_restricted]}}
    then: require_approvals
    count: 2
"""


def write_policy(folder: Path, mode: str = "shadow") -> str:
    """POLICY_YAML in `mode`, written to a file of its own in `folder`; returns its path for INVITES_POLICY."""
    path = folder / f"policy-{mode}.yml"
    path.write_text(POLICY_YAML.format(mode=mode), encoding="utf-8")
    return str(path)


def request_row(**kw: Any) -> Any:
    """An unsaved InviteRequest with plain defaults, for testing builders as data."""
    from datetime import datetime, timezone

    from app.store.models import InviteRequest

    values: dict[str, Any] = dict(
        id="Ir0000TEST",
        team_id=TEAM,
        team_name=None,
        email="ada@example.com",
        real_name=None,
        requester_ids=[REQUESTER],
        channel_ids=[],
        invite_type="full_member",
        reason=None,
        date_created=datetime(2026, 11, 22, 9, 14, tzinfo=timezone.utc),
        date_expire=None,
        status="pending",
        decided_by=None,
        decided_at=None,
        decision_source=None,
        deny_reason=None,
        claim_action=None,
        claim_actor=None,
    )
    values.update(kw)
    return InviteRequest(**values)


def poll_until(predicate: Any, timeout: float = 15.0, message: str = "") -> Any:
    """Poll the database (which the stand-in cannot watch) until predicate() is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, message or "gave up waiting"
        time.sleep(0.05)
