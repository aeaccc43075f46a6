"""Who may decide: listed users, and members of listed user groups, matched across Grid's two forms of user id.

INVITES_APPROVERS decide in every workspace (as org admins do); INVITES_APPROVERS_T… name a workspace's own approvers,
who decide that workspace's requests only. Nobody approves a request they asked for themselves (their denial withdraws
it) unless INVITES_ALLOW_SELF_APPROVAL says so, and an approval counted towards several is checked again by this rule.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from sqlalchemy.orm import Session, sessionmaker

from app.core import audit
from app.core.ports import SlackAdmin, SlackCallFailed
from app.core.workspaces import Workspaces
from app.store.models import Action

log = logging.getLogger(__name__)

# More local ids than this in one group are not translated one by one (users.info each); name W… ids instead.
MAX_TRANSLATED_MEMBERS = 200

# How long a user group's members, as Slack last listed them, are trusted before Slack is asked again.
USERGROUP_CACHE_SECONDS = 60.0


# Audit outcomes of a refused attempt: not an approver, one approving their own request, or invitebot could not find out.
NOT_ALLOWED_OUTCOME = "not_allowed"
SELF_APPROVAL_OUTCOME = "self_approval_refused"
LOOKUP_FAILED_OUTCOME = "approvers_unreadable"


@dataclass(frozen=True)
class Verdict:
    """May this person decide? When not, what the audit log records and what app.slack.ui.replies needs to explain it."""

    allowed: bool
    outcome: str = NOT_ALLOWED_OUTCOME
    code: str | None = None  # Slack's answer when the rights could not be read or the ids not matched
    group: str | None = None  # the user group whose ids could not be matched with the person's
    elsewhere: bool = False  # an approver of other workspaces only, not of the request's
    about: str | None = None  # an earlier approver whose rights could not be read, when the refusal is about them

    @property
    def self_requested(self) -> bool:
        """Refused because the person asked for the request they would approve."""
        return self.outcome == SELF_APPROVAL_OUTCOME and not self.allowed


ALLOWED = Verdict(True)
SELF_APPROVAL = Verdict(False, SELF_APPROVAL_OUTCOME)


@dataclass(frozen=True)
class Reach:
    """Which workspaces' requests a person may decide: `teams` None for every one (INVITES_APPROVERS), else those whose
    own INVITES_APPROVERS_T… names them; `verdict` says why none, when none."""

    verdict: Verdict
    teams: frozenset[str] | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed

    def covers(self, team_id: str | None) -> bool:
        """May decide requests of `team_id` (None: a request whose workspace is not known yet, for the org's approvers)."""
        return self.allowed and (self.teams is None or (team_id is not None and team_id in self.teams))


def lookup_failed(code: str) -> Verdict:
    """Refused only because Slack would not say who is in the approver groups right now."""
    return Verdict(False, LOOKUP_FAILED_OUTCOME, code)


class _Group:
    """What one user group in one workspace holds, as last read; `lock` lets one reader at a time ask Slack."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.members: frozenset[str] | None = None
        self.read_at = 0.0  # time.monotonic() when Slack last answered
        self.reads = 0  # answers (or failures) so far: a waiter that sees it change shares that answer
        self.failure: SlackCallFailed | None = None  # the last read's failure, when it failed


class GroupMembers:
    """Members of user groups, read from Slack once per (group, workspace) at a time and kept `ttl` seconds.

    However many clicks arrive together, one of them calls usergroups.users.list (Tier 2) and the others wait for
    its answer. When Slack fails, the members last read are used; `subteam_members_changed` updates them at once.
    """

    def __init__(self, gateway: SlackAdmin, ttl: float = USERGROUP_CACHE_SECONDS) -> None:
        self._gateway = gateway
        self.ttl = ttl  # seconds a read is used before Slack is asked again
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str], _Group] = {}

    def _group(self, group_id: str, team_id: str) -> _Group:
        with self._lock:
            return self._groups.setdefault((group_id, team_id), _Group())

    def get(self, group_id: str, team_id: str) -> frozenset[str]:
        """The group's members; raises SlackCallFailed only when Slack fails and nothing was ever read."""
        group = self._group(group_id, team_id)
        seen = group.reads
        with group.lock:
            if group.reads != seen or (group.members is not None and time.monotonic() - group.read_at < self.ttl):
                return self._answer(group, group_id, team_id)  # read while we waited, or recently enough
            try:
                # The read time is taken after the answer, so the gateway's own cache is never younger than ours.
                members = self._gateway.usergroup_members(group_id, team_id)
            except SlackCallFailed as exc:
                group.failure = exc
                if exc.code == "no_such_subteam":
                    group.members = None  # not (or no longer) in this workspace
            else:
                group.members, group.failure, group.read_at = members, None, time.monotonic()
            group.reads += 1
            return self._answer(group, group_id, team_id)

    @staticmethod
    def _answer(group: _Group, group_id: str, team_id: str) -> frozenset[str]:
        if group.failure is None and group.members is not None:
            return group.members
        assert group.failure is not None
        if group.members is None:
            raise group.failure
        log.warning(
            "could not read user group %s in %s (%s); using its members as last read", group_id, team_id, group.failure.code
        )
        return group.members

    def changed(self, group_id: str, team_id: str, added: list[str], removed: list[str]) -> bool:
        """Slack says members joined or left (subteam_members_changed): apply it to what was read. False if unknown."""
        with self._lock:
            group = self._groups.get((group_id, team_id))
        if group is None:
            return False
        with group.lock:  # after any read in flight, so its older answer cannot undo the change
            if group.members is None:
                return False
            group.members = (group.members | frozenset(added)) - frozenset(removed)
        return True


@dataclass(frozen=True)
class GroupRef:
    """A user group from INVITES_APPROVERS: S…, S…@T… naming the workspace it lives in, or S…@E… an org-level (IdP)
    group, read with the org's id as its team (usergroups.users.list takes "the user group's encoded team ID")."""

    id: str
    team_id: str | None

    @classmethod
    def parse(cls, value: str, team_id: str | None = None) -> "GroupRef":
        """`team_id`: where a bare S… lives (a workspace's own list reads its groups there); None: looked for everywhere."""
        group, _, team = value.partition("@")
        return cls(group, team or team_id)


def _is_local(user_id: str) -> bool:
    """A workspace-local id (U…), as opposed to the org-wide W… form."""
    return user_id.startswith("U")


class _Unmatched(Exception):
    """Ids in different forms that Slack would not translate."""

    def __init__(self, group: GroupRef, team_id: str, code: str) -> None:
        super().__init__(code)
        self.group, self.team_id, self.code = group, team_id, code


def _worst(*verdicts: Verdict) -> Verdict:
    """Of several refusals, the one that explains most: Slack could not be read, then ids not matched, then plain no."""
    return next((v for v in verdicts if v.outcome == LOOKUP_FAILED_OUTCOME), None) or next(
        (v for v in verdicts if v.group is not None), verdicts[0]
    )


class Approvers:
    """INVITES_APPROVERS, who decide in every workspace, and each workspace's own INVITES_APPROVERS_T…, who decide there.

    A workspace with its own list is decided by that list and by INVITES_APPROVERS; one without, by INVITES_APPROVERS.
    """

    def __init__(
        self,
        ids: list[str],
        gateway: SlackAdmin,
        workspaces: Workspaces,
        by_team: Mapping[str, list[str]] | None = None,
        *,
        allow_self_approval: bool = False,
    ) -> None:
        self.allow_self_approval = allow_self_approval  # INVITES_ALLOW_SELF_APPROVAL
        self._gateway = gateway
        self.members = GroupMembers(gateway)
        homes: dict[str, str] = {}  # group id -> the workspace it was found in (a group never moves)
        self.org = ApproverList(ids, gateway, workspaces, self.members, homes)
        self.by_team = {
            team_id: ApproverList(team_ids, gateway, workspaces, self.members, homes, team_id=team_id)
            for team_id, team_ids in (by_team or {}).items()
        }

    def lists(self) -> list[tuple[str, ApproverList]]:
        """Each list with the variable that sets it."""
        return [("INVITES_APPROVERS", self.org), *((f"INVITES_APPROVERS_{t}", lst) for t, lst in self.by_team.items())]

    @property
    def groups(self) -> tuple[GroupRef, ...]:
        """Every listed user group, once."""
        return tuple(dict.fromkeys(group for _, lst in self.lists() for group in lst.groups))

    def group_teams(self, group: GroupRef, *, raising: bool = False) -> list[str]:
        return self.org.group_teams(group, raising=raising)

    def allows(self, user_id: str) -> bool:
        """An approver of at least one workspace."""
        return self.check(user_id).allowed

    def check(self, user_id: str, team_id: str | None = None) -> Verdict:
        """May decide some workspace's requests; `team_id` is where the person clicked (for id translation)."""
        return self.reach(user_id, team_id).verdict

    def reach(self, user_id: str, team_id: str | None = None) -> Reach:
        """Which workspaces' requests the person may decide."""
        org = self.org.check(user_id, team_id)
        if org.allowed:
            return Reach(org)
        verdicts = {team: lst.check(user_id, team_id) for team, lst in self.by_team.items()}
        teams = frozenset(team for team, verdict in verdicts.items() if verdict.allowed)
        if teams:
            return Reach(ALLOWED, teams)
        return Reach(_worst(org, *verdicts.values()), frozenset())

    def check_for(self, workspace: str | None, user_id: str, team_id: str | None = None) -> Verdict:
        """May decide a request of `workspace`: INVITES_APPROVERS, or that workspace's own list.

        A request whose workspace is not known yet (None) is decided by nobody (decide() says why), so any approver may ask.
        """
        if workspace is None:
            return self.check(user_id, team_id)
        org = self.org.check(user_id, team_id)
        if org.allowed:
            return org
        own = self.by_team.get(workspace)
        mine = own.check(user_id, team_id) if own is not None else None
        if mine is not None and mine.allowed:
            return mine
        verdict = _worst(org, mine) if mine is not None else org
        others = (lst for team, lst in self.by_team.items() if team != workspace)
        if verdict == Verdict(False) and any(lst.check(user_id, team_id).allowed for lst in others):
            return Verdict(False, elsewhere=True)
        return verdict

    def not_requester(
        self, user_id: str, requesters: Sequence[str], *, team_id: str | None, workspace: str | None
    ) -> Verdict:
        """ALLOWED unless the person is one of the request's requesters, whichever form (U… local, W… org-wide) each side
        uses, as approvers are matched: `team_id` is where the person acted, `workspace` the request's."""
        if self.allow_self_approval or not requesters:
            return ALLOWED
        if user_id in requesters:
            return SELF_APPROVAL
        if all(_is_local(r) == _is_local(user_id) for r in requesters):
            return ALLOWED
        try:
            mine = self._org_id(user_id, team_id or workspace)
            theirs = {self._org_id(r, workspace or team_id) for r in requesters}
        except SlackCallFailed as exc:
            log.warning("refused %s for now: could not tell whether they asked for the request (%s)", user_id, exc.code)
            return lookup_failed(f"{exc.method} {exc.code}")
        return SELF_APPROVAL if mine in theirs else ALLOWED

    def _org_id(self, user_id: str, team_id: str | None) -> str:
        """The org-wide form of a local id (as users.info gives it in `team_id`); a user Slack no longer knows keeps theirs."""
        if not _is_local(user_id) or team_id is None:
            return user_id
        try:
            return self._gateway.org_user_id(user_id, team_id)
        except SlackCallFailed as exc:
            if exc.code == "user_not_found":
                return user_id
            raise

    def members_changed(self, group_id: str, team_id: str, added: list[str], removed: list[str]) -> bool:
        """A listed group's membership changed in Slack: use the change from now on. False for groups not listed."""
        if not any(group.id == group_id for group in self.groups):
            return False
        return self.members.changed(group_id, team_id, added, removed)


class ApproverList:
    """One list: user ids (U…/W…) allowed directly, user groups (S…[@T…]) read from Slack in their workspace."""

    def __init__(
        self,
        ids: list[str],
        gateway: SlackAdmin,
        workspaces: Workspaces,
        members: GroupMembers,
        homes: dict[str, str],
        *,
        team_id: str | None = None,
    ) -> None:
        self._users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(GroupRef.parse(i, team_id) for i in ids if i.startswith("S"))
        self._gateway = gateway
        self._workspaces = workspaces
        self._homes = homes
        self.members = members

    def check(self, user_id: str, team_id: str | None = None) -> Verdict:
        """Listed directly, or a member of a listed group; `team_id` is where the person clicked (for id translation)."""
        if user_id in self._users or self._listed_in_other_form(user_id, team_id):
            return ALLOWED
        unmatched: _Unmatched | None = None
        unread: str | None = None  # why a group could be read nowhere, when Slack failed rather than said "no such group"
        for group in self.groups:
            failure, found = None, False
            try:
                teams = self.group_teams(group, raising=True)
            except SlackCallFailed as exc:
                teams, failure = [], f"{exc.method} {exc.code}"
            for group_team in teams:
                try:
                    members = self.members.get(group.id, group_team)
                except SlackCallFailed as exc:
                    if exc.code != "no_such_subteam" or group.team_id:
                        log.warning("could not read user group %s in %s: %s", group.id, group_team, exc.code)
                    if exc.code != "no_such_subteam":
                        failure = exc.code
                    continue
                found = True
                self._homes[group.id] = group_team
                try:
                    if self._member(user_id, members, group, group_team, team_id or group_team):
                        return ALLOWED
                except _Unmatched as exc:
                    unmatched = exc
            if failure is not None and not found:
                unread = failure
        if unread is not None:
            log.warning("refused %s for now: the approver groups could not be read (%s)", user_id, unread)
            return lookup_failed(unread)
        if unmatched is not None:
            log.warning(
                "refused %s: user group %s in %s lists ids in another form and Slack did not translate them (%s)",
                user_id, unmatched.group.id, unmatched.team_id, unmatched.code,
            )
            return Verdict(False, NOT_ALLOWED_OUTCOME, unmatched.code, unmatched.group.id)
        return Verdict(False)

    def group_teams(self, group: GroupRef, *, raising: bool = False) -> list[str]:
        """Where to look a group up: the workspace it names or was found in, else each of invitebot's workspaces."""
        home = group.team_id or self._homes.get(group.id)
        if home:
            return [home]
        try:
            return self._workspaces.ids()
        except SlackCallFailed as exc:
            log.warning("could not list the org's workspaces to find user group %s: %s", group.id, exc.code)
            if raising:
                raise
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


@dataclass(frozen=True)
class Asked:
    """One attempt to act, as its audit entry names it: who asked to do what, about which subject, from which surface."""

    actor_id: str
    action: str
    subject: str = "-"  # a request id, a bulk decision's "bulk:<domain>", or "-" for a list, a sync, a command
    source: str = "button"
    batch_id: int | None = None
    detail: str | None = None
    invitee: audit.Invitee | None = None  # whom a direct invitation was for


def require(
    sessions: sessionmaker[Session],
    approvers: Approvers | None,
    asked: Asked,
    *,
    workspace: str | None = None,
    actor_team: str | None = None,
    requesters: Sequence[str] = (),
) -> Verdict:
    """The one permission check of every surface: may the person decide requests of `workspace` (None: of any)?

    An approval of a request is refused to its `requesters` (see judge()). A refusal is audited here, the same way
    whichever surface asked; `actor_team` is where the person acted (grid's two forms of user id). Without approvers
    (sync, which only closes) everyone may.
    """
    if approvers is None:
        return ALLOWED
    verdict = judge(approvers, asked, workspace=workspace, actor_team=actor_team, requesters=requesters)
    if not verdict.allowed:
        refused(sessions, asked, verdict.outcome)
    return verdict


def judge(
    approvers: Approvers, asked: Asked, *, workspace: str | None, actor_team: str | None, requesters: Sequence[str]
) -> Verdict:
    """require()'s rule, unaudited: an approver of `workspace`, and for an approval not one of the request's requesters
    (unless INVITES_ALLOW_SELF_APPROVAL); a denial by a requester withdraws their own request."""
    verdict = approvers.check_for(workspace, asked.actor_id, actor_team)
    if verdict.allowed and asked.action == Action.APPROVE.value:
        return approvers.not_requester(asked.actor_id, requesters, team_id=actor_team, workspace=workspace)
    return verdict


def recheck(
    approvers: Approvers | None,
    earlier: Sequence[tuple[str, str | None]],
    *,
    workspace: str | None,
    requesters: Sequence[str],
) -> dict[str, Verdict]:
    """Earlier approvals, as (approver, where they acted), that require() would refuse now, by approver: removed from the
    approvers (or their group) since, or one of the requesters. Not audited here: the caller records what it does."""
    if approvers is None:
        return {}
    verdicts = {
        approver: judge(approvers, Asked(approver, Action.APPROVE.value), workspace=workspace, actor_team=team, requesters=requesters)
        for approver, team in earlier
    }
    return {approver: verdict for approver, verdict in verdicts.items() if not verdict.allowed}


def refused(sessions: sessionmaker[Session], asked: Asked, outcome: str) -> None:
    """The audit entry a refused attempt leaves: not an approver, rights unreadable, or a rule unmet (a reason, say)."""
    with sessions.begin() as session:
        audit.record(
            session, request_id=asked.subject, actor_id=asked.actor_id, action=asked.action, source=asked.source,
            outcome=outcome, detail=asked.detail, batch_id=asked.batch_id, invitee=asked.invitee,
        )
