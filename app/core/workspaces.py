"""Which workspaces invitebot looks after (INVITES_TEAM_IDS, or the whole org), with their names and domains."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from app.slack.gateway import SlackCallFailed, SlackGateway

log = logging.getLogger(__name__)

# admin.teams.list is read again after this long (and at the start of every sync pass).
DIRECTORY_TTL_SECONDS = 300.0
RETRY_SECONDS = 60.0  # after a failed read


@dataclass(frozen=True)
class Workspace:
    id: str
    name: str | None = None
    domain: str | None = None

    def label(self) -> str:
        """How a person names it: its name (domain), or its id when Slack has not told us more."""
        if self.name and self.domain:
            return f"{self.name} ({self.domain})"
        return self.name or self.domain or self.id


def _workspace(item: dict[str, Any]) -> Workspace | None:
    team_id = item.get("id")
    if not isinstance(team_id, str) or not team_id.startswith("T"):
        return None
    host = urlsplit(str(item.get("team_url") or "")).hostname or ""
    domain = host.removesuffix(".slack.com") if host.endswith(".slack.com") else None
    return Workspace(team_id, item.get("name") or None, domain or None)


class Workspaces:
    """INVITES_TEAM_IDS as configured, or (configured=None, `all`) every workspace admin.teams.list names."""

    def __init__(self, configured: list[str] | None, gateway: SlackGateway) -> None:
        self._configured = list(configured) if configured is not None else None
        self._gateway = gateway
        self._lock = threading.Lock()
        self._directory: dict[str, Workspace] = {}
        self._read_at = float("-inf")

    @property
    def discovers(self) -> bool:
        return self._configured is None

    def refresh(self) -> None:
        """Read the org's workspaces now; raises SlackCallFailed (callers that can do without it catch it)."""
        found = {w.id: w for w in filter(None, map(_workspace, self._gateway.workspaces()))}
        with self._lock:
            self._directory = found
            self._read_at = time.monotonic()

    def ids(self) -> list[str]:
        """The workspaces to reconcile; with `all`, raises SlackCallFailed when the org's list cannot be read."""
        if self._configured is not None:
            return list(self._configured)
        self._refresh_if_stale(required=True)
        with self._lock:
            return sorted(self._directory)

    def known(self) -> list[Workspace]:
        """invitebot's workspaces with whatever Slack told us of them (names need admin.teams:read)."""
        self._refresh_if_stale(required=False)
        try:
            ids = self.ids()
        except SlackCallFailed:
            ids = []
        with self._lock:
            return [self._directory.get(team_id, Workspace(team_id)) for team_id in ids]

    def name_of(self, team_id: str) -> str | None:
        self._refresh_if_stale(required=False)
        with self._lock:
            workspace = self._directory.get(team_id)
        return workspace.name if workspace else None

    def find(self, word: str) -> Workspace | None:
        """One of invitebot's workspaces, named by id, domain or name (any case)."""
        wanted = word.strip().lower()
        for workspace in self.known():
            if wanted in {workspace.id.lower(), (workspace.domain or "").lower(), (workspace.name or "").lower()}:
                return workspace
        return None

    def _refresh_if_stale(self, *, required: bool) -> None:
        with self._lock:
            fresh = time.monotonic() - self._read_at < DIRECTORY_TTL_SECONDS
        if fresh:
            return
        try:
            self.refresh()
        except SlackCallFailed as exc:
            with self._lock:
                have_some = bool(self._directory)
                if required and not have_some:
                    raise
                self._read_at = time.monotonic() - DIRECTORY_TTL_SECONDS + RETRY_SECONDS  # not again on every card
            log.warning("could not read the org's workspaces (admin.teams.list: %s); using what was read before", exc.code)
