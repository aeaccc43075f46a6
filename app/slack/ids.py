"""Slack identifiers we own (action ids), and the small payload a button carries."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass

_REQUEST_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


class ActionId(str, enum.Enum):
    APPROVE = "invite_approve"
    DENY = "invite_deny"
    HOME_SYNC = "home_sync_now"
    LIST_PAGE = "invites_list_page"
    DENY_REASON_MODAL = "invite_deny_reason"  # the modal's callback_id


@dataclass(frozen=True)
class ButtonValue:
    """Which request a button decides: the request id and its workspace."""

    request_id: str
    team_id: str

    def encode(self) -> str:
        return json.dumps({"id": self.request_id, "team": self.team_id}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> "ButtonValue":
        """Parse a button's value; raises ValueError for anything we did not write."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("button value is not an object")
        request_id, team_id = data.get("id"), data.get("team")
        if not (isinstance(request_id, str) and _REQUEST_ID.match(request_id)):
            raise ValueError("button value has no valid request id")
        if not (isinstance(team_id, str) and _REQUEST_ID.match(team_id)):
            raise ValueError("button value has no valid team id")
        return cls(request_id, team_id)
