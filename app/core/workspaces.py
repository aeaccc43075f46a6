"""Which workspaces invitebot looks after (INVITES_TEAM_IDS, or the whole org), with their names and domains.

Names come from admin.teams.list and from events that carry a `team`; they are kept in the `workspaces` table, so
every replica (and the next start) can name a workspace that sync alone would show as a T… id.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.core.audit import now
from app.core.ports import SlackAdmin, SlackCallFailed
from app.store.dialect import upsert
from app.store.models import WorkspaceName

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

    def __init__(self, configured: list[str] | None, gateway: SlackAdmin, sessions: sessionmaker[Session]) -> None:
        self._configured = list(configured) if configured is not None else None
        self._gateway = gateway
        self._sessions = sessions
        self._lock = threading.Lock()
        self._directory: dict[str, Workspace] | None = None  # read from the database on first use
        self._org: frozenset[str] = frozenset()  # the ids admin.teams.list gave last
        self._read_at = float("-inf")

    @property
    def discovers(self) -> bool:
        return self._configured is None

    def refresh(self) -> None:
        """Read the org's workspaces now and keep their names; raises SlackCallFailed."""
        found = [w for w in map(_workspace, self._gateway.workspaces()) if w is not None]
        self._keep(found)
        with self._lock:
            self._org = frozenset(w.id for w in found)
            self._read_at = time.monotonic()
        self._reload()

    def learn(self, team: dict[str, Any]) -> None:
        """An event's `team` object ({id, name, domain}): remember its name when it is new or changed."""
        workspace = _workspace({"id": team.get("id"), "name": team.get("name")})
        if workspace is None or not workspace.name:
            return
        before = self._known().get(workspace.id)
        workspace = Workspace(workspace.id, workspace.name, team.get("domain") or (before.domain if before else None))
        if before == workspace:
            return
        self._keep([workspace])
        self._reload()

    def ids(self) -> list[str]:
        """The workspaces to reconcile; with `all`, raises SlackCallFailed when the org's list was never read."""
        if self._configured is not None:
            return list(self._configured)
        self._refresh_if_stale(required=True)
        with self._lock:
            return sorted(self._org)

    def known(self) -> list[Workspace]:
        """invitebot's workspaces with whatever Slack told us of them."""
        self._refresh_if_stale(required=False)
        try:
            ids = self.ids()
        except SlackCallFailed:
            ids = []
        directory = self._known()
        return [directory.get(team_id, Workspace(team_id)) for team_id in ids]

    def named(self) -> dict[str, str]:
        """Every workspace whose name we know, by id."""
        self._refresh_if_stale(required=False)
        return {w.id: w.name for w in self._known().values() if w.name}

    def name_of(self, team_id: str) -> str | None:
        return self.named().get(team_id)

    def find(self, words: str) -> Workspace | None:
        """A workspace named by id, domain or name (any case, several words), among those invitebot knows."""
        wanted = " ".join(words.split()).lower()
        candidates = {w.id: w for w in self.known()} | self._known()
        for workspace in candidates.values():
            if wanted in {workspace.id.lower(), (workspace.domain or "").lower(), (workspace.name or "").lower()}:
                return workspace
        return None

    def _known(self) -> dict[str, Workspace]:
        with self._lock:
            directory = self._directory
        if directory is None:
            directory = self._reload()
        return directory

    def _keep(self, workspaces: list[Workspace]) -> None:
        try:
            with self._sessions.begin() as session:
                for workspace in workspaces:
                    values = {"id": workspace.id, "name": workspace.name, "domain": workspace.domain, "updated_at": now()}
                    upsert(session, WorkspaceName, values, ["name", "domain", "updated_at"])
        except SQLAlchemyError as exc:  # names are a nicety: cards fall back to ids
            log.warning("could not keep workspace names: %s", str(exc).splitlines()[0])

    def _reload(self) -> dict[str, Workspace]:
        try:
            with self._sessions() as session:
                rows = session.scalars(select(WorkspaceName)).all()
                directory = {row.id: Workspace(row.id, row.name, row.domain) for row in rows}
        except SQLAlchemyError as exc:  # e.g. `doctor` before `migrate`: no table yet
            log.warning("could not read workspace names: %s", str(exc).splitlines()[0])
            directory = {}
        with self._lock:
            self._directory = directory
        return directory

    def _refresh_if_stale(self, *, required: bool) -> None:
        with self._lock:
            fresh = time.monotonic() - self._read_at < DIRECTORY_TTL_SECONDS
        if fresh:
            return
        try:
            self.refresh()
        except SlackCallFailed as exc:
            with self._lock:
                have_some = bool(self._org)
                if required and not have_some:
                    raise
                self._read_at = time.monotonic() - DIRECTORY_TTL_SECONDS + RETRY_SECONDS  # not again on every card
            log.warning("could not read the org's workspaces (admin.teams.list: %s); using what was read before", exc.code)

