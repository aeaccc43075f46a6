"""Signed but malformed payloads, for every listener: a 4xx or a quiet 200 and one log line, never a 5xx or a traceback."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.sandbox.sender import FORM, BaseSender, Reply
from app.slack.ids import ActionId, BatchValue, ButtonValue, DomainValue
from app.slack.listeners import payloads
from app.slack.ui import modals
from app.slack.ui.batch_blocks import PreviewContext
from tests.support.cards import wait_for_card
from tests.support.stand_in import APPROVER, APPROVER_GROUP, CHANNEL, GROUP_APPROVER, OUTSIDER, TEAM, new_request

JSON = "application/json"


class _Capture(BaseSender):
    """Builds what Slack would send, as the stand-in's sender does, and keeps it instead of sending it."""

    sent: tuple[str, dict[str, Any]]

    def _send_event(self, envelope: dict[str, Any], retry_num: int | None, retry_reason: str | None) -> Reply:
        return self._keep("event", envelope)

    def _send_interaction(self, payload: dict[str, Any]) -> Reply:
        return self._keep("interaction", payload)

    def _send_command(self, fields: dict[str, str]) -> Reply:
        return self._keep("command", fields)

    def _keep(self, kind: str, payload: dict[str, Any]) -> Reply:
        self.sent = (kind, payload)
        return Reply(200, "", {}, 0.0)


def _click(capture: _Capture, card: dict[str, Any], action_id: str, value: str) -> tuple[str, dict[str, Any]]:
    """A click on the card, with the button swapped for `action_id` and its value (every listener reads the same fields)."""
    capture.click(user_id=APPROVER, channel=CHANNEL, message_ts=card["ts"], action_id=ActionId.APPROVE.value)
    kind, payload = capture.sent
    return kind, {**payload, "actions": [{"action_id": action_id, "block_id": "b1", "type": "button", "value": value, "action_ts": "1.0"}]}


def _submit(capture: _Capture, callback_id: str, metadata: str) -> tuple[str, dict[str, Any]]:
    view = {"id": "V0MODAL001", "type": "modal", "callback_id": callback_id, "private_metadata": metadata, "blocks": []}
    values = {modals.REASON_BLOCK: {modals.REASON_INPUT: {"type": "plain_text_input", "value": "Not one of ours"}}}
    capture.submit_view(user_id=APPROVER, view=view, values=values, team_id=TEAM)
    return capture.sent


def _event(capture: _Capture, event: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    capture.event(event, team_id=TEAM)
    return capture.sent


TEMPLATES = {
    "event invite_requested": lambda c, r, card: (c.invite_requested(r), c.sent)[1],
    "event app_home_opened": lambda c, r, card: (c.app_home_opened(APPROVER, team_id=TEAM), c.sent)[1],
    "event tokens_revoked": lambda c, r, card: _event(c, {"type": "tokens_revoked", "tokens": {"oauth": [OUTSIDER], "bot": []}}),
    "event app_uninstalled": lambda c, r, card: _event(c, {"type": "app_uninstalled"}),
    "event subteam_members_changed": lambda c, r, card: _event(
        c, {"type": "subteam_members_changed", "subteam_id": APPROVER_GROUP, "team_id": TEAM, "added_users": [OUTSIDER],
            "removed_users": [GROUP_APPROVER]}
    ),
    "click invite_approve": lambda c, r, card: _click(c, card, ActionId.APPROVE.value, ButtonValue(r["id"], TEAM).encode()),
    "click invite_deny": lambda c, r, card: _click(c, card, ActionId.DENY.value, ButtonValue(r["id"], TEAM).encode()),
    "click home_sync_now": lambda c, r, card: _click(c, card, ActionId.HOME_SYNC.value, "sync"),
    "click invites_list_page": lambda c, r, card: _click(c, card, f"{ActionId.LIST_PAGE.value}_next", json.dumps({"offset": 10, "team": None})),
    "click bulk_approve_domain": lambda c, r, card: _click(c, card, ActionId.BULK_APPROVE.value, DomainValue("example.com").encode()),
    "click bulk_deny_domain": lambda c, r, card: _click(c, card, ActionId.BULK_DENY.value, DomainValue("example.com", TEAM).encode()),
    "click bulk_cancel": lambda c, r, card: _click(c, card, ActionId.BULK_CANCEL.value, BatchValue(1).encode()),
    "click digest_list": lambda c, r, card: _click(c, card, ActionId.DIGEST_LIST.value, TEAM),
    "click digest_bulk": lambda c, r, card: _click(c, card, ActionId.DIGEST_BULK.value, TEAM),
    "submit invite_deny_reason": lambda c, r, card: _submit(
        c, ActionId.DENY_REASON_MODAL.value, modals.DenyContext(r["id"], "button", CHANNEL).encode()
    ),
    "submit bulk_preview": lambda c, r, card: _submit(c, ActionId.BULK_PREVIEW_MODAL.value, PreviewContext(1, "deny", "home", True).encode()),
    "command /invites": lambda c, r, card: (c.slash(text="list", user_id=APPROVER, channel_id=CHANNEL, team_id=TEAM), c.sent)[1],
}

# Any JSON value, for a field that held something else.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)


@st.composite
def mangled(draw: Any, value: Any, top: bool = False) -> Any:
    """`value` with some fields dropped or holding another type, at any depth (shrinking towards the value itself)."""
    if not top and draw(st.integers(0, 9)) == 9:
        return draw(JSON_VALUES)
    if isinstance(value, dict):
        return {key: draw(mangled(item)) for key, item in value.items() if draw(st.integers(0, 11)) != 11}
    if isinstance(value, list):
        return [draw(mangled(item)) for item in value]
    return value


@st.composite
def mangled_form(draw: Any, fields: dict[str, str]) -> dict[str, str]:
    """A slash command's form: each field kept, dropped or holding other text (a form carries only text)."""
    out = {}
    for key, value in fields.items():
        choice = draw(st.integers(0, 5))
        if choice < 4:
            out[key] = value
        elif choice == 4:
            out[key] = draw(st.text(max_size=12))
    return out


def _tracebacks(caplog: Any, capfd: Any, since: int) -> list[str]:
    logged = [r.getMessage() for r in caplog.records[since:] if r.exc_info]
    return logged + (["a traceback on stderr"] if "Traceback" in capfd.readouterr().err else [])


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("listener", TEMPLATES)
def test_any_signed_payload_shape_gets_an_answer_without_a_traceback(fake, bot, caplog, capfd, listener):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()
    kind, template = TEMPLATES[listener](_Capture(fake), request, card)
    assert payloads.problem(template) is None  # as Slack sends it, it passes

    @PROPERTY
    @given(payload=mangled_form(template) if kind == "command" else mangled(template, top=True))
    def answered_without_a_traceback(payload: dict[str, Any]) -> None:
        if kind == "event":
            payload = {**payload, "event_id": f"Ev{time.monotonic_ns()}"} if "event_id" in payload else payload
            body, content_type = json.dumps(payload).encode(), JSON
        elif kind == "interaction":
            body, content_type = urlencode({"payload": json.dumps(payload)}).encode(), FORM
        else:
            body, content_type = urlencode(payload).encode(), FORM
        since = len(caplog.records)
        capfd.readouterr()  # what earlier examples printed is theirs

        reply = bot.slack.post(body, content_type=content_type)
        bot.settle()

        assert reply.status < 500, (reply.status, reply.body)
        assert _tracebacks(caplog, capfd, since) == []

    answered_without_a_traceback()


# -- the shapes a review found answered 500 with a traceback ------------------------------------------------------------


def _payload_of(fake, request, card, listener, change):
    _, template = TEMPLATES[listener](_Capture(fake), request, card)
    return change(json.loads(json.dumps(template)))


def _without(key):
    return lambda p: {k: v for k, v in p.items() if k != key}


def _set(path, value):
    def change(payload):
        *outer, last = path
        target = payload
        for key in outer:
            target = target[key]
        target[last] = value
        return payload

    return change


FOUND = {
    "event as a list": ("event invite_requested", _set(["event"], [{"type": "invite_requested"}])),
    "event as a string": ("event app_home_opened", _set(["event"], "app_home_opened")),
    "actions: [null]": ("click invite_approve", _set(["actions"], [None])),
    "Sync now without user": ("click home_sync_now", _without("user")),
    "deny modal with state: null": ("submit invite_deny_reason", _set(["view", "state"], None)),
    "bulk preview with list private_metadata": ("submit bulk_preview", _set(["view", "private_metadata"], ["batch", 1])),
    "bulk preview without user": ("submit bulk_preview", _without("user")),
}


@pytest.mark.parametrize("listener, change", FOUND.values(), ids=FOUND.keys())
def test_each_malformed_shape_is_answered_with_one_log_line(fake, bot, caplog, capfd, listener, change):
    request = new_request(fake)
    bot.slack.invite_requested(request)
    card = wait_for_card(fake, request["email"])
    bot.settle()
    payload = _payload_of(fake, request, card, listener, change)
    is_event = listener.startswith("event")
    body = json.dumps(payload).encode() if is_event else urlencode({"payload": json.dumps(payload)}).encode()
    since = len(caplog.records)

    reply = bot.slack.post(body, content_type=JSON if is_event else FORM)
    bot.settle()

    assert reply.status == (200 if is_event else 400)
    told = [r.getMessage() for r in caplog.records[since:] if r.levelno >= logging.WARNING]
    assert len(told) == 1 and "malformed" in told[0], told
    assert _tracebacks(caplog, capfd, since) == []
    assert fake.calls("admin.inviteRequests.approve") == [] and fake.calls("views.open") == []
