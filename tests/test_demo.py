"""`invitebot demo`: the seeded org and policy, decisions through the demo's JSON API (signed as Slack signs), the policy
switch, a quick start, a clean stop at any moment, and a bot that never outlives the demo."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

from app.demo import policy_file, seed
from tests.support.bots import stop_process
from tests.support.cards import card_text

GRACE, KATHERINE, ALAN = "U0GRACEHOP", "U0KATHJOHN", "U0ALANTURI"
APPROVE, DENY = "admin.inviteRequests.approve", "admin.inviteRequests.deny"
PROJECT = Path(__file__).resolve().parents[1]
URL_WITHIN = 10.0  # seconds from start to the page's address (about 3 with the virtualenv present)
STOPPED_WITHIN = 3.0  # seconds from Ctrl-C to the demo and its bot gone
ORPHAN_STOPPED_WITHIN = 30.0  # seconds from the demo's SIGKILL to its bot gone (serve's graceful timeout)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Demo:
    """A running `invitebot demo --port 0`: its page URL, its temporary folder, the bot's URL, everything it printed."""

    process: subprocess.Popen[str]
    url: str
    folder: Path
    bot_url: str
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def printed(self) -> str:
        """Everything the demo printed, once it has exited (its output is read to the end first)."""
        assert self.process.poll() is not None, "the demo is still running"
        if self.reader is not None:
            self.reader.join(timeout=30)
        return "".join(self.lines)

    def get(self, path: str, timeout: float = 35) -> dict[str, Any]:
        with _OPENER.open(self.url + path.lstrip("/"), timeout=timeout) as response:
            return json.loads(response.read())

    def post(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}api/{name}", data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with _OPENER.open(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def state(self, user: str, since: str = "") -> dict[str, Any]:
        return self.get(f"/api/state?user={user}&since={since}")

    def wait_for(self, user: str, predicate: Callable[[dict[str, Any]], Any], timeout: float = 20.0) -> Any:
        """Long-poll the user's screen until predicate(state) is truthy (no sleeping: the server blocks until a change)."""
        deadline = time.monotonic() + timeout
        state = self.state(user)
        while not (found := predicate(state)):
            if time.monotonic() > deadline:
                raise AssertionError(f"the demo never showed it; last state: {json.dumps(state)[:2000]}")
            state = self.state(user, since=state["version"])
        return found


def start_demo(cwd: Path | None = None, own_session: bool = False) -> subprocess.Popen[str]:
    """`python -m app demo --port 0` (in `cwd`; in a session of its own, as a terminal's foreground job, if asked)."""
    pythonpath = os.pathsep.join(p for p in (str(PROJECT), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "app", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": pythonpath},
        start_new_session=own_session,
    )


def read_until(process: subprocess.Popen[str], prefix: str, lines: list[str]) -> str:
    """The first line the demo prints that starts with `prefix` (everything printed is kept in `lines`)."""
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith(prefix):
            return line
    raise AssertionError(f"the demo exited before printing {prefix!r}:\n" + "".join(lines))


def demo_folder(line: str) -> Path:
    return Path(line.removeprefix("invitebot demo: data in ").split(" (removed on exit)")[0])


def bots_of(folder: Path) -> list[int]:
    """The live invitebot processes of the demo whose folder is `folder` (known by their database), zombies aside."""
    marker = f"DATABASE_URL=sqlite:///{folder / 'invitebot.db'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or marker not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def wait_until_gone(folder: Path, timeout: float) -> list[int]:
    """Poll until no bot of `folder` is alive; what is still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while (alive := bots_of(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling a process table: nothing to wait on
    return alive


@contextmanager
def running_demo(cwd: Path | None = None) -> Iterator[Demo]:
    """Start `python -m app demo --port 0` (in `cwd`), read its folder and URL lines, and stop it afterwards."""
    process = start_demo(cwd)
    assert process.stdout is not None
    lines: list[str] = []
    folder = bot_url = None
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("invitebot demo: data in "):
                folder = demo_folder(line)
            if line.startswith("invitebot demo: invitebot is "):
                bot_url = line.removeprefix("invitebot demo: invitebot is ").split(";")[0]
            if line.startswith("invitebot demo: open "):
                url = line.removeprefix("invitebot demo: open ").strip()
                break
        else:
            raise AssertionError("the demo exited before printing its URL:\n" + "".join(lines))
        assert folder is not None and bot_url is not None, "".join(lines)
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
        reader.start()
        yield Demo(process, url, folder, bot_url, lines, reader)
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    """A demo whose seeded cards are all posted, whichever of these tests runs first on its worker."""
    with running_demo() as running:
        running.wait_for(GRACE, lambda s: len(cards(s)) >= len(seed.REQUESTS))
        yield running


def cards(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["message"] for item in state["channel"]["items"] if item["kind"] == "message"]


def card_for(state: dict[str, Any], email: str) -> dict[str, Any]:
    return next(card for card in cards(state) if email in card_text(card))


def posted_card(demo: Demo, user: str, email: str) -> dict[str, Any]:
    """The card for `email` as `user` sees it, once invitebot has posted it (the demo posts its cards after it starts)."""
    return demo.wait_for(user, lambda s: next((c for c in cards(s) if email in card_text(c)), None))


def ephemerals(state: dict[str, Any]) -> list[str]:
    return [item["text"] for item in state["channel"]["items"] if item["kind"] == "ephemeral"]


def test_the_seeded_org_has_a_card_per_request_of_every_type_with_the_hostile_reason_escaped(demo: Demo) -> None:
    state = demo.wait_for(GRACE, lambda s: s if len(cards(s)) >= len(seed.REQUESTS) else None)
    texts = [card_text(card) for card in cards(state)]
    assert len(texts) == len(seed.REQUESTS) == 13
    for words in ("Full member", "Multi-channel guest", "Single-channel guest"):
        assert any(f"*Invite as*\n{words}" in text for text in texts), words
    assert all("Northwind Traders" in t or "Globex Research" in t for t in texts)
    assert len({text.split("*Requested by*\n")[1].split("\n")[0] for text in texts}) >= 4  # different requesters

    hostile = card_text(card_for(state, "winner@prizes.example"))
    assert "&lt;!channel&gt; &lt;https://evil.example|click here&gt; free prizes" in hostile
    assert "<!channel>" not in hostile and "<https://evil.example" not in hostile

    org = demo.get("/api/org")
    assert {t["name"] for t in org["teams"]} == {"Northwind Traders", "Globex Research"}
    assert {p["id"] for p in org["people"]} >= {GRACE, KATHERINE, ALAN, seed.SLACK_ADMIN}
    assert len(state["requests"]) == 13


def test_an_approvers_click_through_the_api_approves_once_and_updates_the_card(demo: Demo) -> None:
    card = posted_card(demo, GRACE, "ada.lovelace@northwind.example")
    status, answer = demo.post("click", {"user": GRACE, "action_id": "invite_approve", "as_seen": card})
    assert (status, answer["status"]) == (200, 200), answer

    closed = demo.wait_for(GRACE, lambda s: "Approved by <@U0GRACEHOP>" in card_text(card_for(s, "ada.lovelace")) and s)
    assert not [b for b in card_for(closed, "ada.lovelace")["blocks"] if b["type"] == "actions"]
    request = next(r for r in closed["requests"] if r["email"] == "ada.lovelace@northwind.example")
    assert request["status"] == "approved"
    demo.wait_for(GRACE, lambda s: "You approved the invite request for ada.lovelace@northwind.example." in ephemerals(s))
    # the requester is told in a direct message
    demo.wait_for(ALAN, lambda s: any("ada.lovelace@northwind.example" in m["text"] for m in s["dms"]))

    # the same card, as a screen that has not caught up shows it, clicked again: Katherine is told who decided
    demo.post("click", {"user": KATHERINE, "action_id": "invite_approve", "as_seen": card})
    demo.wait_for(KATHERINE, lambda s: any("Approved by <@U0GRACEHOP>" in t for t in ephemerals(s)))


def test_a_non_approver_is_refused_and_only_they_see_it(demo: Demo) -> None:
    card = posted_card(demo, ALAN, "frances@allen-compilers.example")
    demo.post("click", {"user": ALAN, "action_id": "invite_approve", "as_seen": card})
    demo.wait_for(ALAN, lambda s: any("Only invite approvers" in t for t in ephemerals(s)))
    assert not any("Only invite approvers" in t for t in ephemerals(demo.state(GRACE)))
    assert "Approve" in json.dumps(card_for(demo.state(ALAN), "frances@allen-compilers.example")["blocks"])


def test_deny_opens_the_modal_whose_validation_comes_from_the_bot(demo: Demo) -> None:
    card = posted_card(demo, GRACE, "edsger.dijkstra@northwind.example")
    status, _ = demo.post("click", {"user": GRACE, "action_id": "invite_deny", "as_seen": card})
    assert status == 200
    shown = demo.wait_for(GRACE, lambda s: s["modal"] and "edsger.dijkstra" in json.dumps(s["modal"]["view"]["blocks"]) and s)
    view_id = shown["modal"]["view_id"]
    assert demo.state(KATHERINE)["modal"] is None  # the modal is the clicker's alone

    _, empty = demo.post("submit_view", {"user": GRACE, "view_id": view_id, "values": {}})
    assert empty["body"]["response_action"] == "errors"
    assert demo.state(GRACE)["modal"]["errors"] == {"reason": "Write a reason to deny this request."}

    values = {"reason": {"reason_input": "Please use a contractor account"}}
    _, sent = demo.post("submit_view", {"user": GRACE, "view_id": view_id, "values": values})
    assert sent["ok"] and sent["body"] is None
    closed = demo.wait_for(GRACE, lambda s: "Reason: Please use a contractor account" in card_text(card_for(s, "edsger")) and s)
    assert closed["modal"] is None


def test_slash_command_usage_errors_are_answered_in_the_ack(demo: Demo) -> None:
    status, answer = demo.post("slash", {"user": KATHERINE, "text": "/invites frobnicate"})
    assert status == 200 and answer["ok"]
    demo.wait_for(KATHERINE, lambda s: any("/invites" in t and "help" in t for t in ephemerals(s)))
    status, answer = demo.post("slash", {"user": KATHERINE, "text": "hello"})
    assert status == 400


def test_sigterm_stops_the_bot_and_removes_the_temporary_folder() -> None:
    with running_demo() as demo:
        assert demo.folder.is_dir()
        demo.process.send_signal(signal.SIGTERM)
        assert demo.process.wait(timeout=60) == 0, "".join(demo.lines)
    assert not demo.folder.exists()
    with pytest.raises(urllib.error.URLError):
        _OPENER.open(demo.bot_url.replace("/slack/events", "/healthz"), timeout=5)


def test_the_page_address_is_printed_within_seconds_and_its_cards_arrive_after() -> None:
    started = time.monotonic()
    with running_demo() as demo:
        took = time.monotonic() - started
        assert took < URL_WITHIN, f"the page's address came after {took:.1f} s:\n" + "".join(demo.lines)
        demo.wait_for(GRACE, lambda s: len(cards(s)) >= len(seed.REQUESTS))


@pytest.mark.parametrize(
    ("when", "sig"),
    [
        ("invitebot demo: data in ", signal.SIGINT),  # invitebot is starting
        ("invitebot demo: invitebot is ", signal.SIGINT),  # the page answers, its requests are arriving
        ("invitebot demo: invitebot is ", signal.SIGHUP),  # the terminal closes
    ],
    ids=["ctrl-c-as-the-bot-starts", "ctrl-c-as-the-requests-arrive", "terminal-closed"],
)
def test_ctrl_c_at_any_moment_stops_the_demo_and_its_bot_within_seconds(when: str, sig: signal.Signals) -> None:
    process = start_demo(own_session=True)
    lines: list[str] = []
    folder = None
    try:
        folder = demo_folder(read_until(process, "invitebot demo: data in ", lines))
        if not lines[-1].startswith(when):
            read_until(process, when, lines)
        os.killpg(process.pid, sig)  # as a terminal sends it: to the foreground process group
        started = time.monotonic()
        try:
            code = process.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOPPED_WITHIN} s after {sig.name}:\n" + "".join(lines)) from None
        assert code == 0, "".join(lines)
        assert wait_until_gone(folder, STOPPED_WITHIN - (time.monotonic() - started)) == []
        assert not folder.exists()
        assert "invitebot demo: stopped, and cleaned up" in "".join(lines) + (process.stdout.read() if process.stdout else "")
    finally:
        stop_process(process)
        for pid in bots_of(folder) if folder else []:
            os.kill(pid, signal.SIGKILL)


def test_a_killed_demo_takes_its_bot_with_it() -> None:
    process = start_demo(own_session=True)
    lines: list[str] = []
    folder = demo_folder(read_until(process, "invitebot demo: data in ", lines))
    try:
        read_until(process, "invitebot demo: invitebot is ", lines)
        assert bots_of(folder), "the bot is running"
        process.kill()
        process.wait(timeout=10)
        # The kernel SIGTERMs the bot, which stops as serve does; the Slack calls it has under way end only after their
        # retries, since the stand-in died with the demo: seconds, and more on a busy machine.
        assert wait_until_gone(folder, ORPHAN_STOPPED_WITHIN) == [], "the bot outlived the demo"
    finally:
        stop_process(process)
        for pid in bots_of(folder):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)  # a killed demo cannot remove its folder


def test_an_armed_fault_shows_until_it_is_disarmed_and_then_slack_answers_normally(demo: Demo) -> None:
    status, answer = demo.post("fault", {"kind": "internal_error_x3", "methods": [APPROVE]})
    assert status == 200 and answer["ok"], answer
    demo.post("fault", {"kind": "slow", "methods": [DENY]})
    armed = demo.wait_for(GRACE, lambda s: len(s["faults"]) == 2 and s["faults"])
    assert [(f["method"], f["error"]) for f in armed] == [(APPROVE, "internal_error"), (DENY, "slow")]
    assert [f["words"] for f in armed] == [
        "internal_error on approve (3 calls left)",
        "a 3-second wait on every deny (until disarmed)",
    ]

    status, answer = demo.post("disarm", {"methods": [DENY]})
    assert (status, answer) == (200, {"ok": True, "disarmed": [DENY]})
    demo.wait_for(GRACE, lambda s: [f["method"] for f in s["faults"]] == [APPROVE])
    assert demo.post("disarm", {"methods": ["chat.postMessage"]})[0] == 400
    demo.post("disarm", {})  # everything
    demo.wait_for(GRACE, lambda s: s["faults"] == [])

    # disarmed in Slack too: three internal_errors would have outlasted invitebot's retries
    card = posted_card(demo, GRACE, "sophie.wilson@northwind.example")
    demo.post("click", {"user": GRACE, "action_id": "invite_approve", "as_seen": card})
    demo.wait_for(GRACE, lambda s: "Approved by <@U0GRACEHOP>" in card_text(card_for(s, "sophie.wilson")))
    assert not any("sophie.wilson" in t and "try again" in t.lower() for t in ephemerals(demo.state(GRACE)))


def test_a_tab_closed_during_its_long_poll_costs_no_traceback_and_the_working_folder_stays_empty(tmp_path: Path) -> None:
    with running_demo(cwd=tmp_path) as demo:
        version = demo.state(GRACE)["version"]
        port = urlsplit(demo.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=10) as tab:  # a tab waiting for the next change
            tab.sendall(f"GET /api/state?user={GRACE}&since={version} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        # the tab is gone; a change wakes its long poll, whose answer now has nobody to read it
        status, _ = demo.post("slash", {"user": GRACE, "text": "/invites help"})
        assert status == 200
        demo.process.send_signal(signal.SIGTERM)  # the demo answers every open long poll before it exits
        assert demo.process.wait(timeout=60) == 0
        printed = demo.printed()
    for sign in ("Traceback", "BrokenPipeError", "ConnectionResetError"):
        assert sign not in printed, printed
    assert "invitebot demo: stopped, and cleaned up" in printed
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no invitebot.db, no .migrate.lock: all in its own folder


# -- the policy --------------------------------------------------------------------------------------


def test_the_demo_starts_in_shadow_mode_and_each_kind_of_rule_speaks_on_its_cards(demo: Demo) -> None:
    written = (demo.folder / policy_file.FILE_NAME).read_text(encoding="utf-8")
    assert "mode: shadow" in written and "then: require_approvals" in written
    state = demo.wait_for(GRACE, lambda s: s if len(cards(s)) >= len(seed.REQUESTS) else None)
    assert state["policy"] == {"mode": "shadow"}
    said = {email: card_text(card_for(state, email)) for email in (
        "hedy.lamarr@globex.example", "charles.babbage.1791@gmail.com", "c.shannon@bell-labs.example", "winner@prizes.example"
    )}
    assert "Policy would approve (rule employees)" in said["hedy.lamarr@globex.example"]
    assert "Policy would deny (rule personal-mail)" in said["charles.babbage.1791@gmail.com"]
    assert "Policy would require 2 approvals (rule guests)" in said["c.shannon@bell-labs.example"]
    assert "Policy would" not in said["winner@prizes.example"]  # no rule matches: people decide, as without a policy
    # shadow mode decides nothing by itself
    assert all(r["status"] == "pending" for r in state["requests"] if r["email"] in said)


def test_the_policy_switch_restarts_the_bot_in_enforce_mode_where_a_guest_takes_two_approvers() -> None:
    with running_demo() as demo:
        demo.wait_for(GRACE, lambda s: len(cards(s)) >= len(seed.REQUESTS))
        assert demo.post("policy_mode", {"mode": "strict"})[0] == 400

        status, answer = demo.post("policy_mode", {"mode": "enforce"})
        assert (status, answer) == (200, {"ok": True, "mode": "enforce"})
        assert "mode: enforce" in (demo.folder / policy_file.FILE_NAME).read_text(encoding="utf-8")
        state = demo.wait_for(GRACE, lambda s: s["policy"]["mode"] == "enforce" and s)
        assert state["policy"] == {"mode": "enforce"}

        # the restarted bot judges the open requests again: its rules now decide, once each
        demo.wait_for(GRACE, lambda s: "Approved by policy *employees*" in card_text(card_for(s, "hedy.lamarr")))
        demo.wait_for(GRACE, lambda s: "Denied by policy *personal-mail*" in card_text(card_for(s, "charles.babbage")))
        shannon = demo.wait_for(GRACE, _card_saying("c.shannon", "Needs 2 approvals (rule guests)"))

        demo.post("click", {"user": GRACE, "action_id": "invite_approve", "as_seen": shannon})
        first = demo.wait_for(GRACE, _card_saying("c.shannon", f"1 of 2 approvals: <@{GRACE}>"))
        assert _slack_calls(demo, "c.shannon@bell-labs.example") == {}
        demo.post("click", {"user": KATHERINE, "action_id": "invite_approve", "as_seen": first})
        demo.wait_for(GRACE, lambda s: "Approved by <@U0KATHJOHN>" in card_text(card_for(s, "c.shannon")))
        assert _slack_calls(demo, "c.shannon@bell-labs.example") == {"approve": 1}
        assert _slack_calls(demo, "hedy.lamarr@globex.example") == {"approve": 1}

        assert demo.post("policy_mode", {"mode": "shadow"}) == (200, {"ok": True, "mode": "shadow"})
        demo.wait_for(GRACE, lambda s: s["policy"]["mode"] == "shadow")


def _card_saying(email: str, words: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A predicate for wait_for: the card for `email` once it says `words`."""
    return lambda state: card if words in card_text(card := card_for(state, email)) else None


def _slack_calls(demo: Demo, email: str) -> dict[str, int]:
    return next(r["slack_calls"] for r in demo.state(GRACE)["requests"] if r["email"] == email)
