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
    BULK_APPROVE = "bulk_approve_domain"  # App Home: approve every pending request from one email domain
    BULK_DENY = "bulk_deny_domain"
    BULK_CANCEL = "bulk_cancel"  # on a bulk decision's progress message
    BULK_PREVIEW_MODAL = "bulk_preview"  # the preview modal's callback_id: submitting it starts the batch
    DIGEST_LIST = "digest_list"  # a backlog digest's "List them"; its value is the workspace id
    DIGEST_BULK = "digest_bulk"  # a backlog digest's "Decide in bulk"; its value is the workspace id


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
        if not (isinstance(request_id, str) and _REQUEST_ID.fullmatch(request_id)):
            raise ValueError("button value has no valid request id")
        if not (isinstance(team_id, str) and _REQUEST_ID.fullmatch(team_id)):
            raise ValueError("button value has no valid team id")
        return cls(request_id, team_id)


_TEAM_ID = re.compile(r"^T[A-Z0-9]{2,31}$")
_DOMAIN = re.compile(r"^(?:\*\.)?[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class BatchValue:
    """Which bulk decision a button is about (Cancel on its progress message): the batch's id."""

    batch_id: int

    def encode(self) -> str:
        return json.dumps({"batch": self.batch_id}, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> "BatchValue":
        """Parse a button's value; raises ValueError for anything we did not write."""
        data = json.loads(raw)
        batch_id = data.get("batch") if isinstance(data, dict) else None
        if not isinstance(batch_id, int) or isinstance(batch_id, bool) or batch_id < 1:
            raise ValueError("button value has no valid batch id")
        return cls(batch_id)


@dataclass(frozen=True)
class DomainValue:
    """Which email domain a bulk button decides: its pending requests in `team` (a digest's workspace), or in every
    workspace the clicker decides (the App Home's)."""

    domain: str
    team: str | None = None

    def encode(self) -> str:
        data = {"domain": self.domain} if self.team is None else {"domain": self.domain, "team": self.team}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> "DomainValue":
        """Parse a button's value; raises ValueError for anything we did not write."""
        data = json.loads(raw)
        domain = data.get("domain") if isinstance(data, dict) else None
        if not (isinstance(domain, str) and _DOMAIN.fullmatch(domain)):
            raise ValueError("button value has no valid domain")
        team = data.get("team")
        if team is not None and not (isinstance(team, str) and _TEAM_ID.fullmatch(team)):
            raise ValueError("button value has no valid workspace id")
        return cls(domain, team)
