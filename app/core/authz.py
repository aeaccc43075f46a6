"""Who may decide: listed users, and members of listed user groups, matched across Grid's two forms of user id."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core.workspaces import Workspaces
from app.slack.gateway import SlackCallFailed, SlackGateway

log = logging.getLogger(__name__)

NOT_ALLOWED = "Only invite approvers can approve or deny invite requests. Nothing was changed."
# More local ids than this in one group are not translated one by one (users.info each); name W… ids instead.
MAX_TRANSLATED_MEMBERS = 200


@dataclass(frozen=True)
class Verdict:
    """May this person decide? When not, the sentence to show them."""

    allowed: bool
    refusal: str = NOT_ALLOWED


@dataclass(frozen=True)
class GroupRef:
    """A user group from INVITES_APPROVERS: S…, or S…@T… naming the workspace it lives in."""

    id: str
    team_id: str | None

    @classmethod
    def parse(cls, value: str) -> "GroupRef":
        group, _, team = value.partition("@")
        return cls(group, team or None)


def _is_local(user_id: str) -> bool:
    """A workspace-local id (U…), as opposed to the org-wide W… form."""
    return user_id.startswith("U")


class _Unmatched(Exception):
    """Ids in different forms that Slack would not translate."""

    def __init__(self, group: GroupRef, team_id: str, code: str) -> None:
        super().__init__(code)
        self.group, self.team_id, self.code = group, team_id, code


class Approvers:
    """INVITES_APPROVERS: user ids (U…/W…) allowed directly, user groups (S…[@T…]) read from Slack in their workspace."""

    def __init__(self, ids: list[str], gateway: SlackGateway, workspaces: Workspaces) -> None:
        self._users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(GroupRef.parse(i) for i in ids if i.startswith("S"))
        self._gateway = gateway
        self._workspaces = workspaces
        self._homes: dict[str, str] = {}  # group id -> the workspace it was found in (a group never moves)

    def allows(self, user_id: str) -> bool:
        return self.check(user_id).allowed

    def check(self, user_id: str, team_id: str | None = None) -> Verdict:
        """Listed directly, or a member of a listed group; `team_id` is where the person clicked (for id translation)."""
        if user_id in self._users or self._listed_in_other_form(user_id, team_id):
            return Verdict(True)
        unmatched: _Unmatched | None = None
        for group in self.groups:
            for group_team in self.group_teams(group):
                try:
                    members = self._gateway.usergroup_members(group.id, group_team)
                except SlackCallFailed as exc:
                    if exc.code != "no_such_subteam" or group.team_id:
                        log.warning("could not read user group %s in %s: %s", group.id, group_team, exc.code)
                    continue
                self._homes[group.id] = group_team
                try:
                    if self._member(user_id, members, group, group_team, team_id or group_team):
                        return Verdict(True)
                except _Unmatched as exc:
                    unmatched = exc
        if unmatched is not None:
            log.warning(
                "refused %s: user group %s in %s lists ids in another form and Slack did not translate them (%s)",
                user_id, unmatched.group.id, unmatched.team_id, unmatched.code,
            )
            return Verdict(
                False,
                f"invitebot could not match your Slack id ({user_id}) with the ids user group "
                f"<!subteam^{unmatched.group.id}> lists, so it cannot tell whether you are an approver "
                f"(Slack answered {unmatched.code}). Nothing was changed. An admin can add your id to INVITES_APPROVERS.",
            )
        return Verdict(False)

    def group_teams(self, group: GroupRef) -> list[str]:
        """Where to look a group up: the workspace it names or was found in, else each of invitebot's workspaces."""
        home = group.team_id or self._homes.get(group.id)
        if home:
            return [home]
        try:
            return self._workspaces.ids()
        except SlackCallFailed as exc:
            log.warning("could not list the org's workspaces to find user group %s: %s", group.id, exc.code)
            return []

    def _member(self, user_id: str, members: frozenset[str], group: GroupRef, team_id: str, clicked_in: str) -> bool:
        """Is the person in the group, whichever form (U… local, W… org-wide) each side uses?"""
        if user_id in members:
            return True
        other_form = [m for m in members if _is_local(m) != _is_local(user_id)]
        if not other_form:
            return False
        try:
            if _is_local(user_id):
                return self._gateway.org_user_id(user_id, clicked_in) in members
            if len(other_form) > MAX_TRANSLATED_MEMBERS:
                raise _Unmatched(group, team_id, f"more than {MAX_TRANSLATED_MEMBERS} local ids")
            return any(self._gateway.org_user_id(member, team_id) == user_id for member in other_form)
        except SlackCallFailed as exc:
            raise _Unmatched(group, team_id, f"{exc.method} {exc.code}") from None

    def _listed_in_other_form(self, user_id: str, team_id: str | None) -> bool:
        """A directly listed U… id for someone whose click carries W… (or the reverse)."""
        other_form = [u for u in self._users if _is_local(u) != _is_local(user_id)]
        if not other_form or not team_id:
            return False
        try:
            if _is_local(user_id):
                return self._gateway.org_user_id(user_id, team_id) in self._users
            return any(self._gateway.org_user_id(u, team_id) == user_id for u in other_form)
        except SlackCallFailed as exc:
            log.warning("could not translate user ids for %s in %s: %s", user_id, team_id, exc.code)
            return False
