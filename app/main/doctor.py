"""`invitebot doctor`: every check an installation needs, each failure with the fix.

Every missing or malformed setting is a row of the table, and the checks that do not need it still run. Slack that
cannot be reached (no answer, or no Slack answer) is told apart from token and scope problems.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from slack_sdk import WebClient
from sqlalchemy.engine import make_url

from app.config import SPECS, WORKSPACE_APPROVERS, Settings, problems, setting_of
from app.core import policy
from app.core.authz import GroupRef
from app.main.container import build_runtime, database_options
from app.paths import default_data_folder
from app.slack.api.errors import Kind, classify
from app.slack.api.gateway import SlackCallFailed
from app.slack.api.token_health import BOT
from app.slack.jobs.cards import channel_fix
from app.slack.runtime import Runtime
from app.slack.ui import blocks
from app.store.db import DatabaseUnavailable, ensure_reachable, make_engine, sqlite_file
from app.store.health import Role, replicas_seen
from app.store.migrate import alembic_config

# The answers in app/slack/api/errors.py are written for someone who clicked Approve or Deny; doctor decides nothing.
_DECISION_WORDS = re.compile(r"\s*Nothing was decided(?:; try again in a minute)?\.\s*")

# Codes the gateway gives when no Slack answer came back: the address or the network is at fault, not a token.
REACH_CODES = frozenset({"network_error", "http_error"})
_TOKEN_CODES = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive", "not_allowed_token_type", "is_bot"}
)
_REACH_FIX = {
    "network_error": (
        "Nothing answered at that address: check SLACK_API_URL (Slack's is https://slack.com/api/) and that this host "
        "can open HTTPS connections to it (DNS, firewall, and HTTPS_PROXY if it must use a proxy)."
    ),
    "http_error": (
        "Something answered, but not as Slack's Web API (an HTTP error without a Slack error code): check that "
        "SLACK_API_URL is the Web API's base URL, such as https://slack.com/api/, and any proxy in between."
    ),
}
_TOKEN_FIX = {
    "SLACK_BOT_TOKEN": "Copy the Bot User OAuth Token (xoxb-) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN.",
    "SLACK_ADMIN_TOKEN": (
        "Install the app on the whole Enterprise org as an org admin or owner, and put the User OAuth Token (xoxp-) "
        "in SLACK_ADMIN_TOKEN."
    ),
}
_LIST_FIX = {
    "missing_scope": "The admin token lacks admin.invites:read: reinstall the app on the org with it.",
}
_POST_SCOPE_FIX = "The bot token lacks chat:write: add it in the app's settings and reinstall."
_UPLOAD_FIX = {
    "missing_scope": "The bot token lacks files:write (and /invites export also needs im:write): add both in the app's "
    "settings and reinstall.",
    "file_uploads_disabled": "File uploads are turned off for the org: allow them, or use `invitebot export` instead of "
    "/invites export.",
}
# While a setting is missing or malformed these stand in for it, so the Runtime can be built for the checks that do
# not need that setting. A check that needs one is not run, so a stand-in never reaches Slack or a database.
_STAND_INS: dict[str, object] = {
    "DATABASE_URL": "sqlite://",
    "INVITES_DB_POOL_SIZE": 10,
    "INVITES_DB_POOL_TIMEOUT": 10.0,
    "INVITES_DB_CONNECT_TIMEOUT": 5,
    "INVITES_DB_STATEMENT_TIMEOUT": 10,
    "INVITES_DB_NETWORK_TIMEOUT": 10,
    "SLACK_BOT_TOKEN": "xoxb-not-set",
    "SLACK_ADMIN_TOKEN": "xoxp-not-set",
    "SLACK_SIGNING_SECRET": None,
    "SLACK_APP_TOKEN": None,
    "SLACK_API_URL": "http://slack-api-url.invalid/api/",
    "SLACK_API_TIMEOUT": 15,
    "INVITES_CHANNEL": "C0NOTSET",
    "INVITES_APPROVERS": "W0NOTSET",
    WORKSPACE_APPROVERS: {},  # one bad INVITES_APPROVERS_T… stands in for all of them: their groups are not checked
    "INVITES_ROUTES": {},
    "INVITES_TEAM_IDS": "T0NOTSET",
    "INVITES_SYNC_INTERVAL": 300,
    "INVITES_DENY_REASON_REQUIRED": False,
    "INVITES_ALLOW_SELF_APPROVAL": False,
    "INVITES_NOTIFY_REQUESTERS": True,
    "INVITES_ADMIN_CALLS_PER_MINUTE": 20,
    "INVITES_CARD_POSTS_PER_MINUTE": 50,
    "INVITES_MAX_RETRY_AFTER": 60,
    "INVITES_POLICY": None,
    "INVITES_REMIND_AFTER": None,
    "INVITES_ESCALATE_AFTER": None,
    "INVITES_ESCALATE_TO": None,
}
# Checked together (one needs the other): when either is bad, both are stood in for.
_PAIRED = frozenset({"INVITES_ESCALATE_AFTER", "INVITES_ESCALATE_TO"})
_POLICY_FIX = "Correct the policy file (see docs/configuration.md, Policies); `invitebot policy check FILE` checks it again."


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    skipped: bool = False  # not run, because a setting it needs is bad or Slack cannot be reached


def diagnose() -> list[Check]:
    """Read the settings from the environment and run every check: each bad setting is a row, not the end of the run."""
    found = problems(Settings)
    bad = frozenset(setting_of(problem.name) for problem in found)  # INVITES_APPROVERS_T… as the setting they fill
    checks = [Check(p.name, False, "not set" if p.missing else p.detail, p.fix) for p in found]
    if not found:
        checks.append(Check("configuration", True, "every setting is present and well-formed"))
    stand_in = bad | _PAIRED if bad & _PAIRED else bad
    try:
        settings = Settings(**{name: _STAND_INS[name] for name in stand_in})  # type: ignore[arg-type]
    except ValidationError:
        return checks  # unreachable while every setting has a stand-in; the rows above say what to fix
    policy_checks = [*_commands(settings, bad), *_policy(settings)]
    if not all(check.ok for check in policy_checks):  # the other checks need no policy: build the Runtime without it
        settings = settings.model_copy(update={"INVITES_POLICY": None})
    return checks + policy_checks + run_checks(settings, bad)


# What each way of hearing from Slack refuses to start without (`Settings.require` in app/main/cli.py).
_COMMAND_NEEDS = {"serve": "SLACK_SIGNING_SECRET", "socket": "SLACK_APP_TOKEN"}


def _commands(settings: Settings, bad: frozenset[str]) -> list[Check]:
    """`invitebot serve` and `invitebot socket` each need a setting the others do not; one of the two must be able to
    start. The one that cannot is a failure only when the other cannot either."""
    ready = {command: need not in bad and getattr(settings, need) is not None for command, need in _COMMAND_NEEDS.items()}
    checks = []
    for command, need in _COMMAND_NEEDS.items():
        name = f"start `invitebot {command}`"
        if ready[command]:
            checks.append(Check(name, True, f"{need} is set"))
        elif need in bad:
            checks.append(_skipped(name, [need]))
        elif any(ready.values()):
            other = next(c for c, r in ready.items() if r)
            checks.append(Check(name, True, f"not set up ({need} is not set): run `invitebot {other}`, which is"))
        else:
            fix = f"Set {need} ({SPECS[need].what}) to run `invitebot {command}`."
            checks.append(Check(name, False, f"it refuses to start: {need} is not set", fix))
    return checks


def _policy(settings: Settings) -> list[Check]:
    """INVITES_POLICY: its mode, rules and digest, or a row for each problem (`file:line: what`)."""
    if settings.INVITES_POLICY is None:
        return [Check("policy", True, "none (INVITES_POLICY is not set): people decide every request")]
    try:
        loaded = policy.load(settings.INVITES_POLICY)
    except policy.PolicyError as exc:
        rows = [Check("policy", False, problem) for problem in exc.problems]
        return [*rows[:-1], Check("policy", False, rows[-1].detail, _POLICY_FIX)]  # the fix once, after the last
    return [Check("policy", True, f"{loaded.path}: {loaded.summary()}")]


def run_checks(settings: Settings, bad: frozenset[str] = frozenset()) -> list[Check]:
    """Database and migrations, both tokens, each workspace, the channel, the approver groups.

    `bad` names settings that are missing or malformed (and stood in for): the checks that need them are skipped.
    """
    database = _skipped("database", ["DATABASE_URL"]) if "DATABASE_URL" in bad else _database(settings.DATABASE_URL)
    connections = [_connections(settings)] if database.ok and make_url(settings.DATABASE_URL).get_backend_name() == "postgresql" else []
    processes = [_processes(settings)] if database.ok else []
    if not database.ok:  # the Slack checks need no database: keep doctor from creating one, or waiting on a dead server
        settings = settings.model_copy(update={"DATABASE_URL": "sqlite://"})
    runtime = build_runtime(settings)
    try:
        return [database, *connections, *processes, *_SlackChecks(runtime, bad).run()]
    finally:
        runtime.close()


def _skipped(name: str, settings: list[str] | None = None, why: str = "") -> Check:
    return Check(name, False, f"not run: {why or 'needs ' + ', '.join(settings or []) + ' (see above)'}", skipped=True)


def _database(url: str) -> Check:
    """Reachable and at the latest schema; a SQLite file that does not exist yet is reported, never created."""
    path = sqlite_file(make_url(url))
    if path is not None and not path.exists():
        if path.parent.is_dir() or path.parent == default_data_folder():
            return Check("database", False, f"no database file at {path} yet", "Run `invitebot migrate`.")
        fix = f"Create the folder {path.parent}, or point DATABASE_URL at a file in an existing folder."
        return Check("database", False, f"the folder {path.parent} does not exist", fix)
    engine = make_engine(url)
    try:
        ensure_reachable(engine)
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DatabaseUnavailable as exc:
        return Check("database", False, str(exc), "Check DATABASE_URL, and that the database server is up and reachable from here.")
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        return Check("database", False, f"schema at {current or 'nothing'}, latest is {head}", "Run `invitebot migrate`.")
    return Check("database", True, f"reachable, schema at {head}")


def _connections(settings: Settings) -> Check:
    """PostgreSQL: the replicas running now (each one's heartbeat says how many connections it may hold) fit within the
    connections the server lets invitebot's role open; past that, clicks fail with "too many clients"."""
    name = "database connections"
    each = settings.INVITES_DB_POOL_SIZE + 1
    engine = make_engine(settings.DATABASE_URL, database_options(settings))
    try:
        with engine.connect() as connection:
            limit = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
            reserved = int(connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
            # PostgreSQL 16 sets aside reserved_connections as well (for roles with pg_use_reserved_connections).
            reserved += int(connection.exec_driver_sql("SELECT current_setting('reserved_connections', true)").scalar() or 0)
            role = connection.exec_driver_sql("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user").scalar()
        seen = replicas_seen(engine)
    except Exception as exc:  # noqa: BLE001 - the database check above passed: say what this one met, and go on
        return Check(name, False, f"could not read the server's limits: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    allowed = limit - reserved
    source = f"max_connections {limit}, {reserved} reserved for superusers"
    if role is not None and 0 <= int(role) < allowed:
        allowed, source = int(role), f"the role's CONNECTION LIMIT {role}"
    held = sum(replica.connections for replica in seen)
    running = f"{len(seen)} replica{'' if len(seen) == 1 else 's'} seen in the last minute"
    if held > allowed:
        most = max(1, allowed // max(1, len(seen)) - 1)
        fix = (
            f"Each replica holds up to INVITES_DB_POOL_SIZE + 1 connections: set INVITES_DB_POOL_SIZE to {most} or less on "
            "every replica, run fewer replicas, or raise max_connections (or put PgBouncer in front of the server)."
        )
        return Check(name, False, f"{running} may hold {held} connections, more than the {allowed} allowed ({source})", fix)
    room = (allowed - held) // each
    return Check(
        name,
        True,
        f"{running} may hold {held} of the {allowed} connections allowed ({source}); room for {room} more replicas of "
        f"INVITES_DB_POOL_SIZE={settings.INVITES_DB_POOL_SIZE} (+1 each for its health probe)",
    )


def _processes(settings: Settings) -> Check:
    """The invitebot processes running on this database now, by role (their heartbeats of the last minute): web processes
    with no worker acknowledge clicks that nothing carries out."""
    name = "processes"
    engine = make_engine(settings.DATABASE_URL, database_options(settings))
    try:
        seen = replicas_seen(engine)
    except Exception as exc:  # noqa: BLE001 - the database check above passed: say what this one met, and go on
        return Check(name, False, f"could not read the heartbeats: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()
    if not seen:
        return Check(name, True, "none running on this database (no heartbeat in the last minute)")
    roles = Counter(replica.role for replica in seen)
    shown = ", ".join(f"{count} {role}" for role, count in sorted(roles.items()))
    if not any(Role(role).works for role in roles):
        fix = "Start `invitebot work` against this database, or run `invitebot serve` without --no-worker (INVITES_SERVE_WORKER)."
        return Check(
            name, False, f"{shown} seen in the last minute, and no worker: clicks are acked but nothing is done in Slack", fix
        )
    return Check(name, True, f"{shown} seen in the last minute")


class _SlackChecks:
    """The Slack checks in order. The first one that cannot reach Slack says so; the rest are then not run."""

    def __init__(self, runtime: Runtime, bad: frozenset[str]) -> None:
        self.runtime = runtime
        self.gateway = runtime.gateway
        self.bad = bad
        self.api_url = runtime.settings.SLACK_API_URL
        self.unreachable = False
        self.checks: list[Check] = []

    def run(self) -> list[Check]:
        settings = self.runtime.settings
        for name in ("SLACK_BOT_TOKEN", "SLACK_ADMIN_TOKEN"):
            problem = self.gateway.bot_token_problem if name == "SLACK_BOT_TOKEN" else self.gateway.admin_token_problem
            self._add(f"{name} (auth.test)", [name], lambda: self._token(name, problem()))
        team_ids = self._workspaces()
        for team_id in team_ids:
            self._add(f"list invite requests in {team_id}", ["SLACK_ADMIN_TOKEN"], lambda: self._listing(team_id))
        channel = "the approvals channel" if "INVITES_CHANNEL" in self.bad else settings.INVITES_CHANNEL
        self._add(f"post in {channel}", ["SLACK_BOT_TOKEN", "INVITES_CHANNEL"], lambda: self._posting(settings.INVITES_CHANNEL))
        if "INVITES_ROUTES" in self.bad:
            self.checks.append(_skipped("post in the routed channels", ["INVITES_ROUTES"]))
        for routed in settings.routes.channels()[1:]:  # each workspace's own channel (INVITES_ROUTES), once
            self._add(f"post in {routed}", ["SLACK_BOT_TOKEN"], lambda: self._posting(routed, "INVITES_ROUTES"))
        escalate_to = settings.INVITES_ESCALATE_TO or ""
        if escalate_to[:1] in ("C", "G") and escalate_to not in settings.routes.channels():
            self._add(
                f"post in {escalate_to}", ["SLACK_BOT_TOKEN", "INVITES_ESCALATE_TO"],
                lambda: self._posting(escalate_to, "INVITES_ESCALATE_TO"),
            )
        self._add("upload files (files.getUploadURLExternal)", ["SLACK_BOT_TOKEN"], self._uploading)
        if hasattr(WebClient, "blocks_validate"):  # Slack's blocks.validate, in newer slack_sdk releases only
            self._add("request card (blocks.validate)", ["SLACK_BOT_TOKEN"], self._card)
        if "INVITES_APPROVERS" in self.bad:
            self.checks.append(_skipped("approver groups", ["INVITES_APPROVERS"]))
        if WORKSPACE_APPROVERS in self.bad:
            self.checks.append(_skipped("approver groups of INVITES_APPROVERS_T…", ["INVITES_APPROVERS_T…"]))
        seen: set[GroupRef] = set()
        for variable, listed in self.runtime.approvers.lists():
            for group in (g for g in listed.groups if g not in seen):
                seen.add(group)
                # A bare S… is looked for in each workspace, which INVITES_TEAM_IDS=all reads with the admin token.
                search = [] if group.team_id else ["INVITES_TEAM_IDS", *(["SLACK_ADMIN_TOKEN"] if settings.all_teams else [])]
                needs = ["SLACK_BOT_TOKEN", *search]
                name = f"approver group {group.id}" + ("" if variable == "INVITES_APPROVERS" else f" ({variable})")
                self._add(name, needs, lambda: _group(self.runtime, group, self._fix, name, variable))
        return self.checks

    def _add(self, name: str, needs: list[str], check: Callable[[], Check]) -> None:
        missing = [setting for setting in ("SLACK_API_URL", *needs) if setting in self.bad]
        if missing:
            self.checks.append(_skipped(name, missing))
        elif self.unreachable:
            self.checks.append(_skipped(name, why=f"cannot reach Slack at {self.api_url}"))
        else:
            self.checks.append(check())

    def _fail(self, name: str, code: str, fix: str) -> Check:
        """A failed check; when no Slack answer came back, it says so and gets the network's fix instead."""
        if code in REACH_CODES:
            self.unreachable = True
            cause = _why_unreachable(self.api_url) if code == "network_error" else None
            detail = f"{code}: {cause}" if cause else code
            return Check(name, False, f"cannot reach Slack at {self.api_url} ({detail})", _REACH_FIX[code])
        return Check(name, False, code, fix)

    def _fix(self, code: str) -> str:
        if code in REACH_CODES:
            self.unreachable = True
            return _REACH_FIX[code]
        return _slack_fix(code)

    def _token(self, name: str, problem: str | None) -> Check:
        check_name = f"{name} (auth.test)"
        if problem is None:
            return Check(check_name, True, "accepted")
        return self._fail(check_name, problem, _TOKEN_FIX[name] if problem in _TOKEN_CODES else _slack_fix(problem))

    def _listing(self, team_id: str) -> Check:
        name = f"list invite requests in {team_id}"
        problem = self.gateway.listing_problem(team_id)
        if problem is None:
            return Check(name, True, "allowed")
        return self._fail(name, problem, _LIST_FIX.get(problem) or _slack_fix(problem))

    def _posting(self, channel: str, setting: str = "INVITES_CHANNEL") -> Check:
        """The bot can post (and delete) in a channel it must post in: INVITES_CHANNEL, one INVITES_ROUTES names, or
        INVITES_ESCALATE_TO."""
        problem = self.gateway.posting_problem(channel)
        if problem is None:
            return Check(f"post in {channel}", True, "allowed")
        fix = channel_fix(problem, setting) or (_POST_SCOPE_FIX if problem == "missing_scope" else _slack_fix(problem))
        return self._fail(f"post in {channel}", problem, fix)

    def _uploading(self) -> Check:
        """`/invites export` sends its CSV as a file: the bot token needs files:write."""
        name = "upload files (files.getUploadURLExternal)"
        problem = self.gateway.upload_problem()
        if problem is None:
            return Check(name, True, "allowed")
        return self._fail(name, problem, _UPLOAD_FIX.get(problem) or _slack_fix(problem))

    def _card(self) -> Check:
        return _card(self.gateway.blocks_problem(blocks.sample_card()), self._fail)

    def _workspaces(self) -> list[str]:
        """The workspaces to check; with INVITES_TEAM_IDS=all, whether Slack lists the org's workspaces at all."""
        if "INVITES_TEAM_IDS" in self.bad:
            self.checks.append(_skipped("list invite requests", ["INVITES_TEAM_IDS"]))
            return []
        if not self.runtime.workspaces.discovers:
            return self.runtime.workspaces.ids()
        found: list[str] = []
        self._add("org workspaces (admin.teams.list)", ["SLACK_ADMIN_TOKEN"], lambda: self._discover(found))
        return found

    def _discover(self, found: list[str]) -> Check:
        name = "org workspaces (admin.teams.list)"
        try:
            found += self.runtime.workspaces.ids()
        except SlackCallFailed as exc:
            fix = (
                "INVITES_TEAM_IDS=all reads the org's workspaces with admin.teams.list: reinstall the app on the org with "
                "the admin.teams:read user scope, or list the workspace ids (T…) instead."
            )
            return self._fail(name, exc.code, fix)
        return Check(name, True, f"{len(found)} workspaces")


def _card(problem: str | None, fail: Callable[[str, str, str], Check]) -> Check:
    name = "request card (blocks.validate)"
    if problem is None:
        return Check(name, True, "Slack accepts it")
    fix = (
        f"Slack answered {problem} for a sample invite request card, so cards may not be posted: "
        "update invitebot to a release that follows Slack's current Block Kit rules."
    )
    return fail(name, problem, _TOKEN_FIX["SLACK_BOT_TOKEN"] if problem in _TOKEN_CODES else fix)


def _group(
    runtime: Runtime, group: GroupRef, fix_for: Callable[[str], str], name: str, variable: str = "INVITES_APPROVERS"
) -> Check:
    """An approver group must be found where it lives (its workspace, or the org for S…@E…); the fix names the form to
    write when it is not."""
    if (group.team_id or "").startswith("E"):
        return _org_group(runtime, group, fix_for, name, variable)
    found, codes, errors = None, [], []
    for team_id in runtime.approvers.group_teams(group):
        try:
            found = (team_id, runtime.gateway.usergroup_members(group.id, team_id))
            break
        except SlackCallFailed as exc:
            codes.append(exc.code)
            errors.append(f"{exc.code} in {team_id}")
    if found is None:
        detail = "; ".join(errors) or "no workspace to look in"
        reach = next((code for code in codes if code in REACH_CODES), None)
        if reach:
            fix = fix_for(reach)
        elif codes and all(code == "missing_scope" for code in codes):
            fix = "The bot token lacks usergroups:read: add it in the app's settings and reinstall."
        elif codes and all(code in _TOKEN_CODES for code in codes):
            fix = _TOKEN_FIX["SLACK_BOT_TOKEN"]
        elif group.team_id:
            named = f"{group.id}@{group.team_id}" if variable == "INVITES_APPROVERS" else group.id  # a workspace's own: read there
            fix = f"{variable} names {named}, but {group.team_id} has no such user group."
        else:
            fix = (
                f"INVITES_APPROVERS names {group.id}, which is not a user group Slack knows in invitebot's workspaces: "
                f"write it as {group.id}@T… with the id of the workspace the group lives in, or as {group.id}@E… with the "
                "org's id for an org-level (IdP) group."
            )
        return Check(name, False, detail, fix)
    team_id, members = found
    where = f"in {team_id}" if group.team_id else f"in {team_id} (write {group.id}@{team_id} to skip the search)"
    if members:
        return Check(name, True, f"{len(members)} members {where}")
    return Check(name, False, f"no members {where}", f"Add approvers to the user group {group.id}.")


def _org_group(runtime: Runtime, group: GroupRef, fix_for: Callable[[str], str], name: str, variable: str) -> Check:
    """An org-level (IdP) group, S…@E…: read with the org's id, which must be the org invitebot is installed on."""
    org = group.team_id or ""
    bot = runtime.token_check.identity(BOT)  # auth.test of the bot token ran first, among the token checks
    if bot is not None and bot.enterprise_id and bot.enterprise_id != org:
        fix = (
            f"{variable} names {group.id}@{org}, but invitebot is installed on the org {bot.enterprise_id}: write "
            f"{group.id}@{bot.enterprise_id}."
        )
        return Check(name, False, f"{org} is not invitebot's org", fix)
    try:
        members = runtime.gateway.usergroup_members(group.id, org)
    except SlackCallFailed as exc:
        if exc.code == "no_such_subteam":
            fix = (
                f"{variable} names {group.id}@{org}, but the org has no such user group: check its id, or write "
                f"{group.id}@T… if it is a workspace's group."
            )
        elif exc.code == "missing_scope":
            fix = "The bot token lacks usergroups:read: add it in the app's settings and reinstall."
        else:
            fix = _TOKEN_FIX["SLACK_BOT_TOKEN"] if exc.code in _TOKEN_CODES else fix_for(exc.code)
        return Check(name, False, f"{exc.code} in the org {org}", fix)
    if members:
        return Check(name, True, f"{len(members)} members in the org {org} (an org-level group)")
    return Check(name, False, f"no members in the org {org}", f"Add approvers to the user group {group.id}.")


def _why_unreachable(api_url: str) -> str | None:
    """What the network says when Slack's address cannot be reached ("Name or service not known", "Connection refused"),
    as the log has it: one connection to its host and port, closed at once. None when that connection opens."""
    address = urlsplit(api_url)
    port = address.port or (443 if address.scheme == "https" else 80)
    try:
        socket.create_connection((address.hostname or "", port), timeout=5).close()
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    return None


def _slack_fix(code: str) -> str:
    """Slack's answer worded for someone checking an installation: what to fix, and nothing about decisions."""
    error = classify(code)
    sentence = _DECISION_WORDS.sub(" ", error.sentence).strip()
    if error.kind is Kind.TRANSIENT:
        sentence += " Run `invitebot doctor` again in a minute."
    return sentence


def report(checks: list[Check]) -> str:
    """A table a person reads top to bottom, then the fixes."""
    width = max(len(check.name) for check in checks)
    lines = [f"{'check'.ljust(width)}  result  detail"]
    lines += [f"{c.name.ljust(width)}  {_result(c)}  {c.detail}" for c in checks]
    fixes = [f"- {c.name}: {c.fix}" for c in checks if not c.ok and c.fix]
    if fixes:
        lines += ["", "To fix:", *fixes]
    failed = sum(1 for c in checks if not c.ok and not c.skipped)
    skipped = sum(1 for c in checks if c.skipped)
    if not failed and not skipped:
        lines += ["", "All checks passed."]
    else:
        summary = f"{failed} of {len(checks)} checks failed."
        lines += ["", summary + (f" {skipped} could not run until those are fixed." if skipped else "")]
    return "\n".join(lines)


def _result(check: Check) -> str:
    return "ok    " if check.ok else "skip  " if check.skipped else "FAIL  "
