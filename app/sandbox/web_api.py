"""Slack's Web API (and response_url hooks) over local HTTP, answering from the in-memory SlackState."""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from app.sandbox import block_kit, modal_stack
from app.sandbox.state import Call, Channel, SlackState, Trigger, UploadedFile

BOT, ADMIN, APP = "bot", "admin", "app"  # APP: the app-level token (xapp-), good only for apps.connections.open
RESPONSE_URL_MAX_USES = 5  # reference §5.6: up to 5 posts per response_url
RESPONSE_URL_TTL = 30 * 60.0  # reference §5.6: within 30 minutes of the interaction
TRIGGER_TTL = 3.0
# hooks.slack.com/actions/<E…>/<n>/<secret> for clicks, /commands/<E…>/<n>/<secret> for slash commands
RESPONSE_URL_PATHS = ("/actions/", "/commands/")  # reference §5.5: a trigger_id is usable for 3 seconds


class ApiError(Exception):
    """A Slack error code for the `{"ok": false, "error": ...}` answer."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass
class Caller:
    """Who is calling, as derived from the token."""

    token: str
    kind: str
    user_id: str


Handler = Callable[[SlackState, dict[str, Any], Caller], dict[str, Any]]


def _required(params: dict[str, Any], name: str, error: str = "invalid_arguments") -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise ApiError(error)
    return value


def _json_param(params: dict[str, Any], name: str, error: str) -> Any:
    """Blocks and views come as JSON values in JSON bodies and as JSON strings in form bodies."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise ApiError(error) from None


def _limit(params: dict[str, Any], maximum: int = 1000) -> int:
    """`limit` from 1 to `maximum` (1000 for the invite-request lists, reference §1.1), default 100."""
    raw = params.get("limit", 100)
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments") from None
    if not 1 <= limit <= maximum:
        raise ApiError("invalid_limit")
    return limit


def _encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.b64encode(json.dumps(key).encode()).decode()


def _paginate(
    params: dict[str, Any], rows: list[tuple[tuple[Any, ...], dict[str, Any]]], maximum: int = 1000
) -> dict[str, Any]:
    """Keyset paging: the cursor names the last key served, so decisions between pages skip nothing."""
    limit = _limit(params, maximum)
    rows.sort(key=lambda row: row[0])
    cursor = params.get("cursor")
    if cursor:
        try:
            after = tuple(json.loads(base64.b64decode(cursor, validate=True)))
            rows = [row for row in rows if row[0] > after]
        except (binascii.Error, ValueError, TypeError):
            raise ApiError("invalid_cursor") from None
    page = rows[:limit]
    next_cursor = _encode_cursor(page[-1][0]) if len(rows) > limit else ""
    return {"items": [item for _, item in page], "response_metadata": {"next_cursor": next_cursor}}


def _team_filter(state: SlackState, params: dict[str, Any]) -> str | None:
    """team_id is optional with one workspace and required with several (reference §1.0)."""
    team_id = str(params.get("team_id") or "")
    if team_id:
        if team_id not in state.teams:
            raise ApiError("team_not_found")
        return team_id
    if len(state.teams) > 1:
        raise ApiError("invalid_arguments")
    return None


def auth_test(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    user = state.users[caller.user_id]
    body = {
        "url": f"https://{state.enterprise_id.lower()}.enterprise.slack.com/",
        "team": state.enterprise_name,
        "user": user.name,
        "team_id": state.enterprise_id,
        "user_id": user.id,
        "enterprise_id": state.enterprise_id,
        "is_enterprise_install": True,
    }
    if caller.kind == BOT:
        body["bot_id"] = state.bot_id
    return body


def invite_requests_list(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    team_id = _team_filter(state, params)
    rows = [
        (("date_create", r.date_created, r.id), r.item())
        for r in state.requests.values()
        if r.status == "pending" and team_id in (None, r.team_id)
    ]
    page = _paginate(params, rows)
    return {"invite_requests": page["items"], "response_metadata": page["response_metadata"]}


def _decided_list(status: str, key: str, actor_key: str) -> Handler:
    def handler(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        team_id = _team_filter(state, params)
        rows = []
        for r in state.requests.values():
            if r.status != status or team_id not in (None, r.team_id):
                continue
            item = {"invite_request": r.item(), actor_key: {"actor_id": r.actor_id, "actor_type": "user"}}
            if status == "approved":
                item["invite"] = r.invite()
            rows.append((("decided", -r.decided_seq), item))
        page = _paginate(params, rows)
        return {key: page["items"], "response_metadata": page["response_metadata"]}

    return handler


def _decide(action: str) -> Handler:
    def handler(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        request_id = _required(params, "invite_request_id")
        team_id = _team_filter(state, params)
        request = state.requests.get(request_id)
        if request is None or team_id not in (None, request.team_id):
            raise ApiError("invalid_request")
        error = state.decide(request_id, action, caller.user_id)
        if error:
            raise ApiError(error)
        return {}

    return handler


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _flag(params: dict[str, Any], name: str) -> bool:
    """slack_sdk sends booleans as "1"/"0" in forms (reference §3.2); JSON bodies carry real booleans."""
    return params.get(name) in (True, "1", "true")


def users_invite(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """admin.users.invite (seed 002): validate like Slack, then record the invitation."""
    team_id = _required(params, "team_id")
    if team_id not in state.teams:
        raise ApiError("team_not_found")
    email = str(_required(params, "email"))
    if not _EMAIL.match(email):
        raise ApiError("invalid_email")
    channel_ids = [c for c in str(_required(params, "channel_ids")).split(",") if c]
    single_channel_guest = _flag(params, "is_ultra_restricted")
    guest = single_channel_guest or _flag(params, "is_restricted")
    if not channel_ids or any(c not in state.channels for c in channel_ids):
        raise ApiError("failed_to_validate_channels")
    if any(state.channels[c].team_id not in (None, team_id) for c in channel_ids):
        raise ApiError("failed_to_validate_channels")  # Slack invites into the workspace's own (or org-wide) channels only
    if single_channel_guest and len(channel_ids) != 1:
        raise ApiError("failed_to_validate_channels")
    expiration = params.get("guest_expiration_ts")
    if expiration not in (None, ""):
        try:
            expires = float(expiration)
        except ValueError:
            raise ApiError("failed_to_validate_expiration") from None
        if not guest or expires <= time.time():
            raise ApiError("failed_to_validate_expiration")
    if any(i["email"].lower() == email.lower() and i["team_id"] == team_id for i in state.invites):
        raise ApiError("already_in_team_invited_user")
    state.invites.append(
        {
            "team_id": team_id,
            "email": email,
            "channel_ids": channel_ids,
            "is_restricted": _flag(params, "is_restricted"),
            "is_ultra_restricted": single_channel_guest,
            "guest_expiration_ts": expiration,
            "custom_message": params.get("custom_message"),
            "inviter_id": caller.user_id,
        }
    )
    return {}


def _channel(state: SlackState, params: dict[str, Any]) -> Channel:
    channel = state.channels.get(params.get("channel") or "")
    if channel is None:
        raise ApiError("channel_not_found")
    return channel


def _content(params: dict[str, Any]) -> tuple[str, list[Any] | None]:
    text = params.get("text") or ""
    blocks = _json_param(params, "blocks", "invalid_blocks_format")
    if not text and not blocks:
        raise ApiError("no_text")
    if blocks is not None:
        if not isinstance(blocks, list):
            raise ApiError("invalid_blocks_format")
        error = block_kit.message_error(blocks)  # Slack refuses the whole message, 50 blocks at most
        if error:
            raise ApiError(error)
    return text, blocks


def _dm_channel(state: SlackState, user_id: str) -> Channel:
    """A user id as `channel` posts in the app's direct-message conversation with that user."""
    user = state.users.get(user_id)
    if user is None:
        raise ApiError("channel_not_found")
    dm_id = direct_message_channel_id(user_id)
    return state.channels.setdefault(dm_id, Channel(dm_id, user.name, user.team_id))


def _may_act_in(state: SlackState, team_id: str | None) -> None:
    """The org-wide app acts only in the workspaces it was added to: elsewhere Slack answers team_access_not_granted
    ("The token used is not granted the specific workspace access required to complete this request")."""
    if team_id in state.no_access:
        raise ApiError("team_access_not_granted")


def direct_message_channel_id(user_id: str) -> str:
    return "D" + user_id[1:]


def post_message(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    target = params.get("channel") or ""
    channel = _dm_channel(state, target) if target[:1] in ("U", "W") else _channel(state, params)
    _may_act_in(state, channel.team_id)
    if channel.is_archived:
        raise ApiError("is_archived")
    if not channel.bot_member:  # a private channel the bot is not in is one it cannot see
        raise ApiError("channel_not_found" if channel.id.startswith("G") else "not_in_channel")
    text, blocks = _content(params)
    metadata = _metadata(params)
    ts = state.next_ts()
    message: dict[str, Any] = {
        "type": "message",
        "user": state.bot_user_id,
        "bot_id": state.bot_id,
        "app_id": state.app_id,
        "team": channel.team_id or state.enterprise_id,
        "text": text,
        "blocks": blocks or [],
        "ts": ts,
    }
    if params.get("thread_ts"):
        message["thread_ts"] = params["thread_ts"]
    if metadata is not None:
        message["metadata"] = metadata
    state.messages.setdefault(channel.id, {})[ts] = message
    return {"channel": channel.id, "ts": ts, "message": dict(message)}


def _metadata(params: dict[str, Any]) -> dict[str, Any] | None:
    """chat.postMessage's `metadata`: an object with a string event_type and an object event_payload."""
    metadata = _json_param(params, "metadata", "invalid_metadata_format")
    if metadata in (None, ""):
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": dict(metadata["event_payload"])}


def update_message(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    channel = _channel(state, params)
    if channel.is_archived:
        raise ApiError("is_inactive")  # chat.update: no edits in a frozen, archived or deleted channel
    message = state.messages.get(channel.id, {}).get(params.get("ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    text, blocks = _content(params)
    if blocks is None:  # reference §5.5: text without blocks removes the old blocks and shows "edited"
        message.update(text=text, blocks=[], edited={"user": state.bot_user_id, "ts": state.next_ts()})
    else:
        message.update(text=text or message["text"], blocks=blocks)
    return {"channel": channel.id, "ts": message["ts"], "text": message["text"], "message": dict(message)}


def delete_message(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """chat.delete: a bot may delete its own messages (message_not_found otherwise)."""
    channel = _channel(state, params)
    message = state.messages.get(channel.id, {}).get(params.get("ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    if message.get("user") != caller.user_id:
        raise ApiError("cant_delete_message")
    del state.messages[channel.id][message["ts"]]
    return {"channel": channel.id, "ts": message["ts"]}


def get_permalink(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """chat.getPermalink: a link to an extant message, on its workspace's domain (a thread reply's names its thread)."""
    channel = _channel(state, params)
    ts = str(params.get("message_ts") or "")
    message = state.messages.get(channel.id, {}).get(ts)
    if message is None:
        raise ApiError("message_not_found")
    team = state.teams.get(channel.team_id or "")
    host = f"{team.domain}.slack.com" if team is not None else f"{state.enterprise_id.lower()}.enterprise.slack.com"
    link = f"https://{host}/archives/{channel.id}/p{ts.replace('.', '')}"
    if message.get("thread_ts") and message["thread_ts"] != ts:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


# -- conversations.history and conversations.replies: what a conversation (or one thread of it) holds --

HISTORY_MAX_LIMIT = 999  # conversations.history: at most 999 messages a page (larger limits are served as 999)
REPLIES_MAX_LIMIT = 1000


def _readable(state: SlackState, params: dict[str, Any]) -> Channel:
    """A conversation the bot may read: a channel it is in, or its direct message with a user."""
    channel = _channel(state, params)
    if not channel.bot_member:
        raise ApiError("channel_not_found" if channel.id.startswith("G") else "not_in_channel")
    return channel


def _ts_bound(params: dict[str, Any], name: str) -> int | None:
    """`oldest` / `latest` as microseconds (a Unix time with up to six decimals); None when not given."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        seconds, _, fraction = str(raw).partition(".")
        if not seconds.isdigit() or (fraction and not fraction.isdigit()):
            raise ValueError(raw)
        return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])
    except ValueError:
        raise ApiError(f"invalid_ts_{name}") from None


def _micros(ts: str) -> int:
    seconds, _, fraction = ts.partition(".")
    return int(seconds) * 1_000_000 + int((fraction + "000000")[:6])


def _window(params: dict[str, Any]) -> Callable[[str], bool]:
    """Whether a ts is between `oldest` and `latest` (the bounds themselves only with `inclusive`); checked up front."""
    oldest, latest, inclusive = _ts_bound(params, "oldest"), _ts_bound(params, "latest"), _flag(params, "inclusive")

    def inside(ts: str) -> bool:
        at = _micros(ts)
        after = oldest is None or at > oldest or (inclusive and at == oldest)
        before = latest is None or at < latest or (inclusive and at == latest)
        return after and before

    return inside


def _page_limit(params: dict[str, Any], maximum: int) -> int:
    try:
        limit = int(params.get("limit") or 100)
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments") from None
    return max(1, min(limit, maximum))


def _as_read(state: SlackState, channel: Channel, message: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the reading methods show it: its `metadata` only with include_all_metadata; a thread's parent
    with its reply counts."""
    shown = {k: v for k, v in message.items() if k != "metadata" or _flag(params, "include_all_metadata")}
    replies = sorted(
        (m for m in state.messages.get(channel.id, {}).values() if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]),
        key=lambda m: _micros(m["ts"]),
    )
    if replies:
        users = sorted({str(m.get("user")) for m in replies})
        shown.update(
            thread_ts=message["ts"],
            reply_count=len(replies),
            reply_users=users,
            reply_users_count=len(users),
            latest_reply=replies[-1]["ts"],
        )
    return shown


def _page(rows: list[tuple[int, dict[str, Any]]], params: dict[str, Any], maximum: int) -> tuple[list[dict[str, Any]], str]:
    """One page of (key, message) rows in key order, after the cursor's key; with the cursor of the next page."""
    limit = _page_limit(params, maximum)
    cursor = params.get("cursor")
    if cursor:
        try:
            after = int(json.loads(base64.b64decode(cursor, validate=True))[0])
        except (binascii.Error, ValueError, TypeError, IndexError):
            raise ApiError("invalid_cursor") from None
        rows = [row for row in rows if row[0] > after]
    page = rows[:limit]
    return [message for _, message in page], _encode_cursor((page[-1][0],)) if len(rows) > limit else ""


def conversations_history(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A conversation's messages, newest first, without thread replies; `metadata` only with include_all_metadata."""
    channel = _readable(state, params)
    inside = _window(params)
    top = [
        (-_micros(m["ts"]), _as_read(state, channel, m, params))
        for m in state.messages.get(channel.id, {}).values()
        if m.get("thread_ts") in (None, m["ts"]) and inside(m["ts"])
    ]
    top.sort(key=lambda row: row[0])
    messages, next_cursor = _page(top, params, HISTORY_MAX_LIMIT)
    return {
        "messages": messages,
        "has_more": bool(next_cursor),
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


def conversations_replies(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """One thread, its parent first and then its replies oldest first; `metadata` only with include_all_metadata."""
    channel = _readable(state, params)
    ts = str(_required(params, "ts"))
    inside = _window(params)
    held = state.messages.get(channel.id, {})
    parent = held.get(ts)
    if parent is None:
        raise ApiError("thread_not_found")
    if parent.get("thread_ts") not in (None, ts):  # a reply's ts stands for its thread
        parent = held.get(str(parent["thread_ts"]))
        if parent is None:
            raise ApiError("thread_not_found")
    thread = [(_micros(parent["ts"]), _as_read(state, channel, parent, params))]
    thread += sorted(
        (
            (_micros(m["ts"]), {**_as_read(state, channel, m, params), "parent_user_id": parent.get("user")})
            for m in held.values()
            if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"] and inside(m["ts"])
        ),
        key=lambda row: row[0],
    )
    messages, next_cursor = _page(thread, params, REPLIES_MAX_LIMIT)
    return {"messages": messages, "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}


def post_ephemeral(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    channel = _channel(state, params)
    if not channel.bot_member:  # as for chat.postMessage: a channel the bot is not in (a private one it cannot see)
        raise ApiError("channel_not_found" if channel.id.startswith("G") else "not_in_channel")
    _may_act_in(state, channel.team_id)
    user = params.get("user") or ""
    if user not in state.users:
        raise ApiError("user_not_in_channel")
    text, blocks = _content(params)
    state.ephemerals.append(
        {"channel": channel.id, "user": user, "text": text, "blocks": blocks or [], "via": "chat.postEphemeral"}
    )
    return {"message_ts": state.next_ts()}


def build_view(state: SlackState, given: Any, kind: str, view_id: str, team_id: str | None) -> dict[str, Any]:
    if not isinstance(given, dict) or given.get("type") != kind:
        raise ApiError("invalid_arguments")
    error = block_kit.view_error(given)  # 100 blocks at most, and each block as Slack checks it
    if error:
        raise ApiError(error)
    view: dict[str, Any] = {
        "id": view_id,
        "team_id": team_id,
        "type": kind,
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        "state": {"values": {}},
        "clear_on_close": False,
        "notify_on_close": False,
        "root_view_id": view_id,
        "previous_view_id": None,
        "app_id": state.app_id,
        "app_installed_team_id": state.enterprise_id,
        "bot_id": state.bot_id,
    }
    view.update(given)
    view.update(id=view_id, hash=state.new_id("", 16).lower())
    return view


def _check_hash(params: dict[str, Any], current: dict[str, Any] | None) -> None:
    if params.get("hash") and current is not None and params["hash"] != current["hash"]:
        raise ApiError("hash_conflict")


def views_publish(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    user = state.users.get(_required(params, "user_id"))
    if user is None:
        raise ApiError("user_not_found")
    _may_act_in(state, user.team_id)
    current = state.home_views.get(user.id)
    _check_hash(params, current)
    view_id = current["id"] if current else state.new_id("V", 10)
    view = build_view(state, _json_param(params, "view", "invalid_arguments"), "home", view_id, user.team_id)
    state.home_views[user.id] = view
    return {"view": view}


def _use_trigger(state: SlackState, params: dict[str, Any]) -> Trigger:
    """A trigger_id is good once, for 3 seconds after Slack issued it."""
    trigger = state.triggers.get(_required(params, "trigger_id"))
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if time.monotonic() - trigger.issued_at > TRIGGER_TTL:
        raise ApiError("expired_trigger_id")
    return trigger


def views_open(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A modal for the person whose click or command issued the trigger, in place of any they had open."""
    trigger = _use_trigger(state, params)
    view_id = state.new_id("V", 10)
    view = build_view(state, _json_param(params, "view", "invalid_arguments"), "modal", view_id, None)
    trigger.used = True
    state.views[view_id] = view
    state.views_opened.append(view)
    if trigger.user_id is not None:
        modal_stack.open_root(state, trigger.user_id, view_id)
    return {"view": view}


def views_push(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A view on top of the person's open modal, from a trigger of theirs; at most three views stacked."""
    trigger = _use_trigger(state, params)
    user_id = trigger.user_id
    if user_id is None or modal_stack.depth(state, user_id) == 0:
        raise ApiError("invalid_trigger_id")  # Slack names no error of its own for "no modal open to push onto"
    if modal_stack.depth(state, user_id) >= modal_stack.MAX_STACK:
        raise ApiError("push_limit_reached")
    stack = state.modal_stacks[user_id]
    view_id = state.new_id("V", 10)
    view = build_view(state, _json_param(params, "view", "invalid_arguments"), "modal", view_id, None)
    view.update(root_view_id=stack[0].view_id, previous_view_id=stack[-1].view_id)
    trigger.used = True
    state.views[view_id] = view
    modal_stack.push(state, user_id, view_id)
    return {"view": view}


def views_update(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Replace a modal by view_id or external_id (with `hash`, only the version read); a closed one is not found."""
    view_id, external_id = params.get("view_id"), params.get("external_id")
    if not view_id and not external_id:
        raise ApiError("invalid_arguments")
    matches = [
        v
        for v in state.views.values()
        if (v["id"] == view_id or (external_id and v["external_id"] == external_id)) and v["id"] not in state.closed_views
    ]
    if not matches:
        raise ApiError("not_found")
    current = matches[0]
    _check_hash(params, current)
    view = build_view(state, _json_param(params, "view", "invalid_arguments"), "modal", current["id"], None)
    view.update(root_view_id=current["root_view_id"], previous_view_id=current["previous_view_id"])
    state.views[current["id"]] = view
    for stack in state.modal_stacks.values():  # errors under the inputs belonged to the view replaced
        for shown in stack:
            if shown.view_id == current["id"]:
                shown.errors = {}
    return {"view": view}


def _org_team(state: SlackState, params: dict[str, Any]) -> str:
    """usergroups.* and users.* with an org-level token: team_id is required (their docs: "required if org token is used")."""
    team_id = str(params.get("team_id") or "")
    if not team_id:
        raise ApiError("missing_argument")
    if team_id not in state.teams:
        raise ApiError("team_not_found")
    return team_id


def users_info(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A user as one workspace sees it; `enterprise_user.id` is the org-wide (W…) id, also for a local U… id."""
    _org_team(state, params)
    asked = str(params.get("user") or "")
    global_id, _ = state.local_ids.get(asked, (asked, ""))
    user = state.users.get(global_id)
    if user is None:
        raise ApiError("user_not_found")
    return {
        "user": {
            "id": asked,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": False,
            "is_bot": user.is_bot,
            "profile": {"real_name": user.real_name, "display_name": user.name},
            "enterprise_user": {
                "id": user.id,
                "enterprise_id": state.enterprise_id,
                "enterprise_name": state.enterprise_name,
                "is_admin": False,
                "is_owner": False,
                "teams": sorted(state.teams),
            },
        }
    }


def usergroup_users(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """`team_id` is "the user group's encoded team ID": a workspace's for its groups, the org's (E…) for an org-level
    (IdP) group, whose subteam object names the org as its team (admin.usergroups.fetch)."""
    org_level = params.get("team_id") == state.enterprise_id
    team_id = state.enterprise_id if org_level else _org_team(state, params)
    group = state.usergroups.get(params.get("usergroup") or "")
    if group is None or group.team_id != team_id:
        raise ApiError("no_such_subteam")
    return {"users": list(group.user_ids)}


def teams_list(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """admin.teams.list: every workspace of the org, paged (limit 1–100 per openapi.json)."""
    rows = [
        (
            ("team", team.id),
            {
                "id": team.id,
                "name": team.name,
                "discoverability": "invite_only",
                "primary_owner": {"user_id": state.admin_user_id, "email": "owner@example.com"},
                "team_url": f"https://{team.domain}.slack.com/",
            },
        )
        for team in state.teams.values()
    ]
    page = _paginate(params, rows, maximum=100)
    return {"teams": page["items"], "response_metadata": page["response_metadata"]}


def conversations_info(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    channel = _channel(state, params)
    return {
        "channel": {
            "id": channel.id,
            "name": channel.name,
            "is_channel": True,
            "is_private": False,
            "is_archived": channel.is_archived,
            "is_member": True,
            "is_org_shared": channel.team_id is None,
            "context_team_id": channel.team_id,
            "shared_team_ids": [channel.team_id] if channel.team_id else [],
        }
    }


def blocks_validate(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """blocks.validate: exactly one of `blocks`, `message` or `view`, checked as the methods taking them check it."""
    given = [name for name in ("blocks", "message", "view") if params.get(name) not in (None, "")]
    if len(given) != 1:
        raise ApiError("invalid_arguments")
    value = _json_param(params, given[0], "invalid_arguments")
    if given[0] == "view":
        problems = block_kit.view_problems(value)
    elif given[0] == "message":
        if not isinstance(value, dict):
            raise ApiError("invalid_arguments")
        problems = block_kit.message_problems(value.get("blocks"))
    else:
        problems = block_kit.message_problems(value)
    if problems:
        raise ApiError("invalid_blocks")
    return {}


def connections_open(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """apps.connections.open: a Socket Mode URL whose ticket is good for one connection."""
    ticket = str(uuid.uuid4())
    state.socket_tickets.add(ticket)
    return {"url": f"{state.socket_url}?ticket={ticket}"}


# -- conversations.open and file uploads (files.getUploadURLExternal, the upload URL, files.completeUploadExternal) --

UPLOAD_PATH = "/upload/v1/"
MAX_ALT_TEXT = 1000  # files.getUploadURLExternal: alt_txt_too_large beyond it
MAX_SHARE_CHANNELS = 100  # files.completeUploadExternal: channels_limit_exceeded beyond it


def conversations_open(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Open (or resume) the app's direct message with one user; group DMs of several users are not modelled."""
    channel_id = str(params.get("channel") or "")
    if channel_id:
        if not channel_id.startswith("D") or channel_id not in state.channels:
            raise ApiError("channel_not_found")
        return {"no_op": True, "already_open": True, "channel": {"id": channel_id}}
    users = [user.strip() for user in str(params.get("users") or "").split(",") if user.strip()]
    if not users:
        raise ApiError("users_list_not_supplied")
    if len(users) > 1:
        raise ApiError("invalid_arguments")
    if users[0] not in state.users:
        raise ApiError("user_not_found")
    already = direct_message_channel_id(users[0]) in state.channels
    channel = _dm_channel(state, users[0])
    return {"no_op": already, "already_open": already, "channel": {"id": channel.id}}


def files_get_upload_url(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """A file id and a URL on this server to POST its bytes to; `length` is the exact size to come."""
    filename = str(_required(params, "filename"))
    try:
        length = int(_required(params, "length"))
    except (TypeError, ValueError):
        raise ApiError("invalid_arguments") from None
    if length <= 0:
        raise ApiError("missing_argument")  # Slack's answer for a length of 0
    if len(str(params.get("alt_txt") or "")) > MAX_ALT_TEXT:
        raise ApiError("alt_txt_too_large")
    upload = UploadedFile(state.new_id("F", 10), filename, length, state.new_id("", 32).lower())
    state.files[upload.id] = upload
    return {"upload_url": f"{state.upload_url}{upload.ticket}", "file_id": upload.id}


UPLOAD_CHUNK = 64 * 1024


def receive_upload(state: SlackState, ticket: str, body: BufferedIOBase, size: int) -> tuple[int, bytes]:
    """The upload URL: the raw bytes of the file, exactly as many as `length` promised (else HTTP 400, nothing kept).

    The bytes go to a file as they arrive, a chunk at a time, so a large upload never sits in memory.
    """
    with state.lock:
        upload = next((f for f in state.files.values() if f.ticket == ticket and not f.completed), None)
        length = None if upload is None else upload.length
        path = os.path.join(state.upload_dir, upload.id) if upload is not None else ""
    if upload is None or size != length:
        unread = size
        while unread > 0 and (chunk := body.read(min(UPLOAD_CHUNK, unread))):  # read what was sent, then refuse it
            unread -= len(chunk)
        if upload is None:
            return 404, b"unknown or finished upload"
        return 400, f"expected {length} bytes, received {size}".encode()
    with open(path, "wb") as out:
        left = size
        while left > 0:
            chunk = body.read(min(UPLOAD_CHUNK, left))
            if not chunk:
                return 400, f"expected {size} bytes, the connection closed after {size - left}".encode()
            out.write(chunk)
            left -= len(chunk)
    with state.lock:
        upload.path = path
        state.changed()
        return 200, f"OK - {size}".encode()


def files_complete_upload(state: SlackState, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
    """Finish uploads (once each) and share them in channel_id or channels, as one message carrying `files`."""
    given = _json_param(params, "files", "invalid_arguments")
    if not isinstance(given, list) or not given or not all(isinstance(f, dict) and f.get("id") for f in given):
        raise ApiError("invalid_arguments")
    uploads = []
    for item in given:
        upload = state.files.get(str(item["id"]))
        if upload is None or upload.path is None or upload.completed:
            raise ApiError("file_not_found")
        uploads.append((upload, item.get("title")))
    targets = [str(params["channel_id"])] if params.get("channel_id") else []
    targets += [c.strip() for c in str(params.get("channels") or "").split(",") if c.strip()]
    if len(targets) > MAX_SHARE_CHANNELS:
        raise ApiError("channels_limit_exceeded")
    channels = [_dm_channel(state, t) if t[:1] in ("U", "W") else state.channels.get(t) for t in targets]
    if any(channel is None for channel in channels):
        raise ApiError("channel_not_found")
    shared = []
    for upload, title in uploads:
        upload.title = str(title) if title else upload.filename
        upload.completed = True
        upload.shared_in = [channel.id for channel in channels if channel is not None]
        shared.append(
            {"id": upload.id, "name": upload.filename, "title": upload.title, "size": upload.length, **upload.kind()}
        )
    for channel in channels:
        assert channel is not None
        ts = state.next_ts()
        state.messages.setdefault(channel.id, {})[ts] = {
            "type": "message",
            "user": state.bot_user_id,
            "bot_id": state.bot_id,
            "app_id": state.app_id,
            "text": str(params.get("initial_comment") or ""),
            "files": [dict(item) for item in shared],
            "upload": True,
            "ts": ts,
        }
    return {"files": shared}


METHODS: dict[str, tuple[Handler, frozenset[str]]] = {
    "apps.connections.open": (connections_open, frozenset({APP})),
    "auth.test": (auth_test, frozenset({BOT, ADMIN})),
    "blocks.validate": (blocks_validate, frozenset({BOT})),
    "admin.inviteRequests.list": (invite_requests_list, frozenset({ADMIN})),
    "admin.inviteRequests.approve": (_decide("approve"), frozenset({ADMIN})),
    "admin.inviteRequests.deny": (_decide("deny"), frozenset({ADMIN})),
    "admin.inviteRequests.approved.list": (
        _decided_list("approved", "approved_requests", "approved_by"),
        frozenset({ADMIN}),
    ),
    "admin.inviteRequests.denied.list": (_decided_list("denied", "denied_requests", "denied_by"), frozenset({ADMIN})),
    "admin.users.invite": (users_invite, frozenset({ADMIN})),
    "admin.teams.list": (teams_list, frozenset({ADMIN})),
    "chat.postMessage": (post_message, frozenset({BOT})),
    "chat.update": (update_message, frozenset({BOT})),
    "chat.delete": (delete_message, frozenset({BOT})),
    "chat.postEphemeral": (post_ephemeral, frozenset({BOT})),
    "chat.getPermalink": (get_permalink, frozenset({BOT, ADMIN})),
    "views.publish": (views_publish, frozenset({BOT})),
    "views.open": (views_open, frozenset({BOT})),
    "views.update": (views_update, frozenset({BOT})),
    "views.push": (views_push, frozenset({BOT})),
    "users.info": (users_info, frozenset({BOT, ADMIN})),
    "usergroups.users.list": (usergroup_users, frozenset({BOT})),
    "conversations.info": (conversations_info, frozenset({BOT, ADMIN})),
    "conversations.open": (conversations_open, frozenset({BOT, ADMIN})),
    # Only the bot's reading is modelled: which conversations it may read follows the channels it is in.
    "conversations.history": (conversations_history, frozenset({BOT})),
    "conversations.replies": (conversations_replies, frozenset({BOT})),
    "files.getUploadURLExternal": (files_get_upload_url, frozenset({BOT, ADMIN})),
    "files.completeUploadExternal": (files_complete_upload, frozenset({BOT, ADMIN})),
}


def _authorize(state: SlackState, method: str, token: str | None) -> Caller:
    if method not in METHODS:
        raise ApiError("unknown_method")
    if not token:
        raise ApiError("not_authed")
    identities = {
        state.bot_token: (BOT, state.bot_user_id),
        state.admin_token: (ADMIN, state.admin_user_id),
        state.app_token: (APP, ""),  # an app-level token acts for the app, not for a user
    }
    if token not in identities:
        raise ApiError("invalid_auth")
    if token in state.revoked:
        raise ApiError("token_revoked")
    kind, user_id = identities[token]
    if kind not in METHODS[method][1]:
        raise ApiError("not_allowed_token_type")
    return Caller(token=token, kind=kind, user_id=user_id)


TIER_2 = frozenset(
    {
        "admin.inviteRequests.list",
        "admin.inviteRequests.approve",
        "admin.inviteRequests.deny",
        "admin.inviteRequests.approved.list",
        "admin.inviteRequests.denied.list",
        "admin.users.invite",
        "usergroups.users.list",
    }
)


def _pacing_wait(state: SlackState, method: str, params: dict[str, Any]) -> int:
    """Seconds to wait when a rate limit is switched on and this call is over it (reference §7), or while Slack holds
    the method (FakeSlack.hold_method: the seconds left); 0 otherwise."""
    held = state.held_until.get(method, 0.0) - time.monotonic()
    if held > 0:
        return math.ceil(held)
    limits = state.rate_limits
    if limits is None:
        return 0
    wait = 0.0
    if method in TIER_2:
        per_minute = limits.tier2_per_minute
        key = (method, str(params.get("team_id") or state.enterprise_id))
        wait = limits.take(key, per_minute / 60, per_minute)
    elif method == "chat.postMessage":
        key = (method, str(params.get("channel") or ""))
        wait = limits.take(key, limits.messages_per_second, limits.message_burst)
    return math.ceil(wait) if wait else 0


def _answer(
    state: SlackState, method: str, params: dict[str, Any], token: str | None, json_body: bool = False
) -> tuple[int, dict[str, Any], int]:
    """Authorize, apply an injected fault, run the method; with the lock held. Returns status, body, Retry-After."""
    caller = _authorize(state, method, token)
    if json_body and method.startswith("admin."):
        raise ApiError("invalid_arguments")  # admin.* read form fields only; slack_sdk sends them form-encoded
    wait = _pacing_wait(state, method, params)
    if wait:
        return 429, {"ok": False, "error": "ratelimited"}, wait
    faults = state.faults.get(method, [])
    if not faults:
        return 200, {"ok": True, **METHODS[method][0](state, params, caller)}, 0
    fault = faults[0]
    fault.remaining -= 1
    if fault.remaining <= 0:
        faults.pop(0)
    if method == "admin.inviteRequests.approve" and fault.error == "failed_to_send_invite":
        METHODS[method][0](state, params, caller)  # reference §1.2: the approval went through, the invite did not
    if fault.wire is not None:
        _wire_fault(state, method, params, caller, fault.wire, fault.status)
    return fault.status, {"ok": False, "error": fault.error}, fault.retry_after


_PROXY_ERROR_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    b"<hr><center>envoy</center>\r\n</body>\r\n</html>\r\n"
)


class WireFault(Exception):
    """An answer that is not Slack's JSON, to send as is."""

    def __init__(self, kind: str, status: int, body: bytes) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.body = body


def _wire_fault(state: SlackState, method: str, params: dict[str, Any], caller: Caller, wire: str, status: int) -> None:
    """Break the answer as `wire` says; the method itself runs first unless a proxy stood in front of it."""
    if wire == "html_502":
        raise WireFault(wire, status, _PROXY_ERROR_PAGE)
    try:
        answer: dict[str, Any] = {"ok": True, **METHODS[method][0](state, params, caller)}
    except ApiError as exc:
        answer = {"ok": False, "error": exc.error}
    whole = json.dumps({**answer, "response_metadata": {"warnings": []}}).encode()
    raise WireFault(wire, status, whole[: len(whole) // 2])  # "truncated"


def _in_progress(state: SlackState, method: str, change: int) -> None:
    """Count the calls of `method` received and not answered yet (held back by set_latency)."""
    with state.lock:
        state.in_progress[method] = state.in_progress.get(method, 0) + change
        state.changed()


def call_method(
    state: SlackState,
    method: str,
    params: dict[str, Any],
    token: str | None,
    parse_error: str | None,
    json_body: bool = False,
) -> tuple[int, bytes, dict[str, str]]:
    """Answer one Web API call, logging it before the answer leaves."""
    delay = state.latency.get(method, 0.0)
    if delay:
        _in_progress(state, method, 1)
        try:
            time.sleep(delay)
        finally:
            _in_progress(state, method, -1)
    with state.lock:
        retry_after = 0
        try:
            if parse_error:
                raise ApiError(parse_error)
            status, body, retry_after = _answer(state, method, params, token, json_body)
        except ApiError as exc:
            status, body = 200, {"ok": False, "error": exc.error}
        except WireFault as fault:
            state.calls.append(Call(method, params, token, fault.status, fault.kind, time.time()))
            state.changed()
            return fault.status, fault.body, {}
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        state.calls.append(Call(method, params, token, status, body.get("error"), time.time()))
        state.changed()
        return status, json.dumps(body).encode(), headers


def _answer_dropped(state: SlackState, method: str) -> bool:
    """Whether this call's answer is to be lost on the wire (FakeSlack.drop_answer): the connection just closes."""
    with state.lock:
        left = state.dropped_answers.get(method, 0)
        if left <= 0:
            return False
        state.dropped_answers[method] = left - 1
        state.changed()
        return True


def post_to_response_url(state: SlackState, hook_id: str, body: bytes) -> tuple[int, bytes]:
    """A response_url post (reference §5.6): replace/delete the source message, post in channel, or ephemeral."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return 400, b'{"ok": false, "error": "invalid_payload"}'
    with state.lock:
        hook = state.response_urls.get(hook_id)
        if hook is None:
            return 404, b'{"ok": false, "error": "no_service"}'
        if state.now() - hook.issued_at > RESPONSE_URL_TTL:
            return 404, b'{"ok": false, "error": "expired_url"}'
        if hook.uses >= RESPONSE_URL_MAX_USES:
            return 404, b'{"ok": false, "error": "used_url"}'
        refused = block_kit.message_error(payload["blocks"]) if payload.get("blocks") is not None else None
        if refused:
            return 400, json.dumps({"ok": False, "error": refused}).encode()
        hook.uses += 1
        state.response_posts.append(payload)
        source = state.messages.get(hook.channel, {}).get(hook.message_ts or "")
        text, blocks = payload.get("text") or "", payload.get("blocks") or []
        if source is not None and payload.get("delete_original"):
            del state.messages[hook.channel][source["ts"]]
        elif source is not None and payload.get("replace_original"):
            source.update(text=text, blocks=blocks)
        elif payload.get("response_type") == "in_channel":
            ts = state.next_ts()
            state.messages.setdefault(hook.channel, {})[ts] = {
                "type": "message",
                "user": state.bot_user_id,
                "bot_id": state.bot_id,
                "app_id": state.app_id,
                "text": text,
                "blocks": blocks,
                "ts": ts,
            }
        else:
            state.ephemerals.append(
                {"channel": hook.channel, "user": hook.user, "text": text, "blocks": blocks, "via": "response_url"}
            )
        state.changed()
        return 200, b'{"ok": true}'


def _parse(content_type: str | None, body: bytes, query: str) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body the way Slack accepts them: form-encoded or JSON (reference §3.2)."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return params, None
    if not content_type:
        return params, "missing_post_type"
    media = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return params, "invalid_charset"
    if media == "application/x-www-form-urlencoded":
        try:
            params.update(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
        except ValueError:
            return params, "invalid_form_data"
        return params, None
    if media == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return params, "invalid_json"
        if not isinstance(data, dict):
            return params, "json_not_object"
        params.update(data)
        return params, None
    return params, "invalid_post_type"


class _RequestHandler(BaseHTTPRequestHandler):
    """Routes /api/<method> to the Web API, /actions/… or /commands/… to response_url handling, /upload/v1/… to uploads."""

    server: SlackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Slack takes every Web API method as a GET with its arguments in the query string (slack_sdk reads
        conversations.history and .replies that way)."""
        if urlsplit(self.path).path.startswith("/api/"):
            self.do_POST()
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        url = urlsplit(self.path)
        size = int(self.headers.get("Content-Length") or 0)
        headers: dict[str, str] = {}
        if url.path.startswith(UPLOAD_PATH):
            status, answer = receive_upload(self.server.state, url.path[len(UPLOAD_PATH) :], self.rfile, size)
            self._send(status, answer, headers)
            return
        body = self.rfile.read(size)
        if url.path.startswith("/api/"):
            params, parse_error = _parse(self.headers.get("Content-Type"), body, url.query)
            auth = self.headers.get("Authorization") or ""
            token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None
            token = token or params.pop("token", None)
            params.pop("token", None)
            json_body = (self.headers.get("Content-Type") or "").lower().startswith("application/json") and bool(body)
            status, answer, headers = call_method(self.server.state, url.path[5:], params, token, parse_error, json_body)
            if _answer_dropped(self.server.state, url.path[5:]):
                self.close_connection = True  # the call was carried out; its caller never hears so
                return
        elif url.path.startswith(RESPONSE_URL_PATHS):
            status, answer = post_to_response_url(self.server.state, url.path.rsplit("/", 1)[-1], body)
        else:
            status, answer = 404, b'{"ok": false, "error": "not_found"}'
        self._send(status, answer, headers)

    def _send(self, status: int, answer: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep test output quiet
        pass


class SlackServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1, port chosen by the OS, serving one SlackState."""

    daemon_threads = True
    # socketserver's default listen queue of 5 drops connections when a bot makes many calls at once.
    request_queue_size = 128

    def __init__(self, state: SlackState) -> None:
        super().__init__(("127.0.0.1", 0), _RequestHandler)
        self.state = state
        state.upload_url = f"http://127.0.0.1:{self.server_address[1]}{UPLOAD_PATH}"
