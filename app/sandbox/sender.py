"""What Slack itself sends to the bot (events, clicks, slash commands, view submissions): signed HTTP or Socket Mode."""

from __future__ import annotations

import json
import secrets
import string
import time
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from app.sandbox.fake import FakeSlack
from app.sandbox.state import Team, User

VERIFICATION_TOKEN = "sandbox-verification-token"  # the deprecated `token` field every payload still carries
USER_EVENTS = frozenset({"invite_requested"})  # delivered on the admin's (user) authorization, reference §2
FORM = "application/x-www-form-urlencoded"


@dataclass
class Reply:
    """What the bot answered: its HTTP response, or over Socket Mode its ack (status 200, body the ack's payload)."""

    status: int
    body: str
    headers: dict[str, str]
    elapsed: float


def _random_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(length))


def _ack_body(raw: str) -> Any:
    """An ack's body as Slack reads it: a JSON object, or nothing (an empty ack, or one that is not JSON)."""
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _buttons(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every button with its block_id: actions-block elements and section accessories."""
    for block in blocks:
        candidates = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory") or {}]
        for element in candidates:
            if element.get("type") == "button":
                yield block.get("block_id") or _random_id("", 5), element


def _action(block_id: str, button: dict[str, Any]) -> dict[str, Any]:
    action = {
        "action_id": button["action_id"],
        "block_id": block_id,
        "type": "button",
        "text": button.get("text"),
        "action_ts": f"{time.time():.6f}",
    }
    action.update({key: button[key] for key in ("value", "style") if key in button})
    return action


class BaseSender(ABC):
    """Builds what Slack sends from FakeSlack's users, teams and messages; subclasses carry it to the bot."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake

    # Events API

    def event(
        self,
        event: dict[str, Any],
        *,
        team_id: str,
        event_id: str | None = None,
        event_time: int | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> Reply:
        """An event_callback envelope as an org-wide install receives it (samples/events.*.json plus `authorizations`).

        The authorization is the org's: `team_id` null and `is_enterprise_install` true (Bolt's org-app tests).
        """
        is_user_event = event.get("type") in USER_EVENTS
        authorized = self.fake.admin_user_id if is_user_event else self.fake.bot_user_id
        envelope = {
            "token": VERIFICATION_TOKEN,
            "enterprise_id": self.fake.enterprise_id,
            "team_id": team_id,
            "api_app_id": self.fake.app_id,
            "event": event,
            "type": "event_callback",
            "authed_users": [authorized],
            "authorizations": [
                {
                    "enterprise_id": self.fake.enterprise_id,
                    "team_id": None,
                    "user_id": authorized,
                    "is_bot": not is_user_event,
                    "is_enterprise_install": True,
                }
            ],
            "is_ext_shared_channel": False,
            "event_id": event_id or _random_id("Ev", 10),
            "event_time": int(time.time()) if event_time is None else event_time,
            "event_context": _random_id("4-", 40).lower(),
        }
        return self._send_event(envelope, retry_num, retry_reason)

    def invite_requested(self, invite_request: dict[str, Any], *, without_team: bool = False, **kw: Any) -> Reply:
        """The event for a new request; `without_team` drops `invite_request.team`, leaving only the org's id outside."""
        if without_team:
            invite_request = {key: value for key, value in invite_request.items() if key != "team"}
            return self.event({"type": "invite_requested", "invite_request": invite_request}, team_id=self.fake.enterprise_id, **kw)
        event = {"type": "invite_requested", "invite_request": invite_request}
        return self.event(event, team_id=invite_request["team"]["id"], **kw)

    def team_access(self, team_ids: list[str], *, granted: bool, **kw: Any) -> Reply:
        """An org admin added the org-wide app to workspaces (team_access_granted) or removed it (team_access_revoked):
        the stand-in's access changes, then Slack says so (slackapi/java-slack-sdk TeamAccess*Payload.json: the event
        holds `team_ids` and `event_ts`; the org, not a workspace, is outside)."""
        self.fake.set_team_access(team_ids, granted=granted)
        kind = "team_access_granted" if granted else "team_access_revoked"
        event = {"type": kind, "team_ids": list(team_ids), "event_ts": f"{time.time():.6f}"}
        return self.event(event, team_id=self.fake.enterprise_id, **kw)

    def app_home_opened(self, user_id: str, *, team_id: str) -> Reply:
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": f"D{user_id[1:]}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        view = self.fake.home_view(user_id)
        if view is not None:  # reference §5.3: only once a Home view was published
            event["view"] = view
        return self.event(event, team_id=team_id)

    # interactivity

    def click(
        self,
        *,
        user_id: str,
        channel: str,
        message_ts: str,
        action_id: str,
        team_id: str | None = None,
        as_seen: dict[str, Any] | None = None,
    ) -> Reply:
        """A button click on a message the fake holds (reference §5.1); the button must be on show.

        `as_seen` is a copy of the message taken earlier: a person whose screen has not caught up with an
        update clicks the buttons they still see.
        """
        try:
            message = dict(as_seen) if as_seen is not None else self.fake.message(channel, message_ts)
        except KeyError:
            raise AssertionError(f"no message {message_ts} in {channel} to click on") from None
        found = [_action(b, e) for b, e in _buttons(message["blocks"]) if e.get("action_id") == action_id]
        if not found:
            raise AssertionError(f"message {message_ts} shows no button {action_id!r}: {message['blocks']}")
        user = self._user(user_id)
        team = self._team(team_id or user.team_id)
        known = self.fake.channel(channel)
        message.pop("channel", None)
        payload = {
            **self._interaction("block_actions", user, team),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": known.name if known else ""},
            "message": message,
            "state": {"values": {}},
            "response_url": self.fake.new_response_url(channel=channel, user=user_id, message_ts=message_ts),
            "actions": found[:1],
        }
        return self._send_interaction(payload)

    def click_ephemeral(
        self, *, user_id: str, channel: str, blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
    ) -> Reply:
        """A click on an ephemeral message (e.g. a slash command's answer): no message copy, a fresh response_url."""
        found = [
            _action(b, e)
            for b, e in _buttons(blocks)
            if e.get("action_id") == action_id and (block_id is None or b == block_id)
        ]
        if not found:
            raise AssertionError(f"the ephemeral message shows no button {action_id!r}")
        user = self._user(user_id)
        known = self.fake.channel(channel)
        payload = {
            **self._interaction("block_actions", user, self._team(user.team_id)),
            "container": {"type": "message", "message_ts": self.fake.next_ts(), "channel_id": channel, "is_ephemeral": True},
            "channel": {"id": channel, "name": known.name if known else ""},
            "state": {"values": {}},
            "response_url": self.fake.new_response_url(channel=channel, user=user_id),
            "actions": found[:1],
        }
        return self._send_interaction(payload)

    def click_in_home(self, *, user_id: str, action_id: str, value: str, team_id: str) -> Reply:
        """A button click on the user's published App Home; the button must be on show with that value."""
        view = self.fake.home_view(user_id)
        if view is None:
            raise AssertionError(f"no Home view published for {user_id}")
        found = [
            _action(b, e)
            for b, e in _buttons(view["blocks"])
            if e.get("action_id") == action_id and e.get("value") == value
        ]
        if not found:
            raise AssertionError(f"Home of {user_id} shows no button {action_id!r} with value {value!r}")
        payload = {
            **self._interaction("block_actions", self._user(user_id), self._team(team_id)),
            "container": {"type": "view", "view_id": view["id"]},
            "view": view,
            "state": view.get("state") or {"values": {}},
            "actions": found[:1],
        }
        return self._send_interaction(payload)

    def click_in_modal(self, *, user_id: str, view_id: str, action_id: str, value: str, team_id: str) -> Reply:
        """A button click inside an open modal (block_actions with a view container); the button must be on show."""
        view = self.fake.modal(view_id)
        found = [_action(b, e) for b, e in _buttons(view["blocks"]) if e.get("action_id") == action_id and e.get("value") == value]
        if not found:
            raise AssertionError(f"modal {view_id} shows no button {action_id!r} with value {value!r}")
        payload = {
            **self._interaction("block_actions", self._user(user_id), self._team(team_id)),
            "container": {"type": "view", "view_id": view_id},
            "view": {**view, "id": view_id},
            "state": view.get("state") or {"values": {}},
            "actions": found[:1],
        }
        return self._send_interaction(payload)

    def slash(self, *, text: str, user_id: str, channel_id: str, team_id: str, command: str = "/invites") -> Reply:
        """A slash command, form-encoded (samples/slash_command.form_fields.json, reference §5.2)."""
        user, team = self._user(user_id), self._team(team_id)
        known = self.fake.channel(channel_id)
        if known is None and not channel_id.startswith("D"):
            raise AssertionError(f"seed channel {channel_id} with add_channel() first")
        fields = {
            "token": VERIFICATION_TOKEN,
            "api_app_id": self.fake.app_id,
            "team_id": team.id,
            "team_domain": team.domain,
            "enterprise_id": self.fake.enterprise_id,
            "enterprise_name": self.fake.enterprise_name,
            "channel_id": channel_id,
            "channel_name": known.name if known else "directmessage",
            "user_id": user.id,
            "user_name": user.name,
            "command": command,
            "text": text,
            "response_url": self.fake.new_response_url(channel=channel_id, user=user_id, kind="commands"),
            "trigger_id": self.fake.issue_trigger_id(user_id=user.id),
            "is_enterprise_install": "true",  # a form field: Slack sends the string
        }
        return self._send_command(fields)

    def submit_view(self, *, user_id: str, view: dict[str, Any], values: dict[str, Any], team_id: str) -> Reply:
        """A view_submission of `view` with `values` as view.state.values (reference §5.4); then Slack acts on the ack
        (closes the view, shows errors, updates, pushes or clears), when the bot answered at all."""
        payload = {
            **self._interaction("view_submission", self._user(user_id), self._team(team_id)),
            "view": {**view, "state": {"values": values}},
            "response_urls": [],
        }
        reply = self._send_interaction(payload)
        if 200 <= reply.status < 300:
            self.fake.answer_submission(user_id, str(view.get("id")), _ack_body(reply.body))
        return reply

    # delivery: the one thing that differs between HTTP and Socket Mode

    @abstractmethod
    def _send_event(self, envelope: dict[str, Any], retry_num: int | None, retry_reason: str | None) -> Reply: ...

    @abstractmethod
    def _send_interaction(self, payload: dict[str, Any]) -> Reply: ...

    @abstractmethod
    def _send_command(self, fields: dict[str, str]) -> Reply: ...

    # helpers

    def _interaction(self, kind: str, user: User, team: Team) -> dict[str, Any]:
        """The common part of an interaction payload for an org-wide install: `team` is null (reference §5.1, §5.4)."""
        return {
            "type": kind,
            "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": team.id},
            "api_app_id": self.fake.app_id,
            "token": VERIFICATION_TOKEN,
            "trigger_id": self.fake.issue_trigger_id(user_id=user.id),
            "team": None,
            "enterprise": {"id": self.fake.enterprise_id, "name": self.fake.enterprise_name},
            "is_enterprise_install": True,
        }

    def _user(self, user_id: str) -> User:
        user = self.fake.user(user_id)
        if user is None:
            raise AssertionError(f"seed user {user_id} with add_user() first")
        return user

    def _team(self, team_id: str) -> Team:
        team = self.fake.team(team_id)
        if team is None:
            raise AssertionError(f"seed team {team_id} with add_team() first")
        return team


class SlackSender(BaseSender):
    """Posts to the bot's /slack/events URL exactly as Slack would."""

    def __init__(self, bot_url: str, signing_secret: str, fake: FakeSlack) -> None:
        super().__init__(fake)
        self.bot_url = bot_url
        self._verifier = SignatureVerifier(signing_secret)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

    def post(
        self,
        body: bytes,
        *,
        content_type: str,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        timestamp: int | None = None,
    ) -> Reply:
        """POST raw bytes; signed per reference §4.7 unless sign=False. 4xx/5xx come back as a Reply."""
        sent = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        if sign:
            ts = str(timestamp if timestamp is not None else int(time.time()))
            sent["X-Slack-Request-Timestamp"] = ts
            sent["X-Slack-Signature"] = self._verifier.generate_signature(timestamp=ts, body=body) or ""
        sent.update(headers or {})
        request = urllib.request.Request(self.bot_url, data=body, headers=sent, method="POST")
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=30) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        return Reply(status, raw.decode("utf-8", "replace"), got, time.monotonic() - started)

    def _send_event(self, envelope: dict[str, Any], retry_num: int | None, retry_reason: str | None) -> Reply:
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason or "http_timeout"}
        return self.post(json.dumps(envelope).encode(), content_type="application/json", headers=headers)

    def _send_interaction(self, payload: dict[str, Any]) -> Reply:
        return self.post(urlencode({"payload": json.dumps(payload)}).encode(), content_type=FORM)

    def _send_command(self, fields: dict[str, str]) -> Reply:
        return self.post(urlencode(fields).encode(), content_type=FORM)


class SocketSender(BaseSender):
    """Hands the same payloads to the bot as Socket Mode envelopes over FakeSlack's WebSocket, waiting for each ack.

    As Slack does: an event is the whole Events API body, an interaction is the JSON object (not form-encoded),
    and a slash command is its form fields as a JSON object. No ack within `ack_timeout` is an AssertionError.
    """

    def __init__(self, fake: FakeSlack, *, ack_timeout: float = 3.0) -> None:
        super().__init__(fake)
        self.ack_timeout = ack_timeout

    def _send_event(self, envelope: dict[str, Any], retry_num: int | None, retry_reason: str | None) -> Reply:
        retry = {"retry_attempt": retry_num or 0, "retry_reason": retry_reason or ("timeout" if retry_num else "")}
        return self._deliver("events_api", envelope, **retry)

    def _send_interaction(self, payload: dict[str, Any]) -> Reply:
        return self._deliver("interactive", payload)

    def _send_command(self, fields: dict[str, str]) -> Reply:
        return self._deliver("slash_commands", fields)

    def _deliver(self, kind: str, payload: dict[str, Any], **retry: Any) -> Reply:
        started = time.monotonic()
        answer = self.fake.deliver_socket(kind, payload, self.ack_timeout, **retry)
        return Reply(200, json.dumps(answer) if answer else "", {}, time.monotonic() - started)
