"""What the listeners read from each payload, checked once before any of them runs: a signed payload without it is
answered (400, or 200 for an event, which Slack would otherwise deliver again) with one log line, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import BoltResponse
from slack_bolt.request.payload_utils import is_slash_command

log = logging.getLogger(__name__)


class _Shape(BaseModel):
    """Only the fields a listener reads, with Slack's types (no coercion); Slack's other fields pass unread."""

    model_config = ConfigDict(extra="allow", strict=True)


class _Payload(_Shape):
    """What Bolt itself reads of any payload, whatever its type (its routing, its log line for one nobody handles)."""

    type: str = ""
    view: dict[str, Any] = Field(default_factory=dict)
    event: dict[str, Any] = Field(default_factory=dict)


class _User(_Shape):
    id: str
    team_id: str | None = None


class _Action(_Shape):
    action_id: str
    value: str | None = None


class _Container(_Shape):
    type: str | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    is_ephemeral: bool | None = None


class _Channel(_Shape):
    id: str | None = None


class _ClickedIn(_Shape):
    """The Home or modal a button was clicked in."""

    id: str | None = None
    type: str | None = None
    private_metadata: str | None = None


class _BlockActions(_Shape):
    user: _User
    actions: list[_Action] = Field(min_length=1)
    trigger_id: str | None = None
    response_url: str | None = None
    container: _Container | None = None
    channel: _Channel | None = None
    view: _ClickedIn | None = None


class _Input(_Shape):
    value: str | None = None


class _State(_Shape):
    values: dict[str, dict[str, _Input]] = Field(default_factory=dict)


class _Submitted(_Shape):
    callback_id: str
    private_metadata: str = ""
    state: _State = Field(default_factory=_State)


class _ViewSubmission(_Shape):
    user: _User
    view: _Submitted


class _SlashCommand(_Shape):
    user_id: str
    response_url: str
    text: str | None = None
    trigger_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None


class _Event(_Shape):
    type: str


class _EventCallback(_Shape):
    event: _Event
    team_id: str | None = None


class _InviteRequested(_Shape):
    invite_request: dict[str, Any]  # its fields are checked by app.core.ingest, which says what is missing


class _HomeOpened(_Shape):
    user: str | None = None
    tab: str | None = None


class _Tokens(_Shape):
    oauth: list[str] | None = None
    bot: list[str] | None = None


class _TokensRevoked(_Shape):
    tokens: _Tokens | None = None


_EVENTS: dict[str, type[_Shape]] = {
    "invite_requested": _InviteRequested,
    "app_home_opened": _HomeOpened,
    "tokens_revoked": _TokensRevoked,
}
_INTERACTIONS: dict[str, type[_Shape]] = {"block_actions": _BlockActions, "view_submission": _ViewSubmission}


def problem(body: dict[str, Any]) -> str | None:
    """Where the payload differs from what its listener reads, in a few words (never its values); None if it does not."""
    anything = _differs(_Payload, body)
    if anything is not None:
        return anything
    if is_slash_command(body):
        return _differs(_SlashCommand, body)
    kind = body.get("type")
    if kind in _INTERACTIONS:
        return _differs(_INTERACTIONS[kind], body)
    if kind == "event_callback":
        envelope = _differs(_EventCallback, body)
        shape = _EVENTS.get(body["event"]["type"]) if envelope is None else None
        return envelope or (_differs(shape, body["event"], "event.") if shape is not None else None)
    return None


def _differs(shape: type[_Shape], data: Any, prefix: str = "") -> str | None:
    try:
        shape.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        what = first["msg"].split(" or instance of ")[0]  # strict models name their class; a person needs only the type
        return f"{prefix}{'.'.join(str(part) for part in first['loc']) or 'the payload'}: {what}"
    return None


def refuse(body: dict[str, Any], what: str) -> BoltResponse:
    """One log line, and an answer Slack will not retry for an event (it could never be handled) or a 400 otherwise."""
    kind = "slash command" if is_slash_command(body) else str(body.get("type"))[:40]
    log.warning("ignored a malformed %s payload: %s", kind, what)
    return BoltResponse(status=200 if body.get("type") == "event_callback" else 400, body="")
