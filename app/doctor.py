"""`invitebot doctor`: every check an installation needs, each failure with the fix."""

from __future__ import annotations

from dataclasses import dataclass

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk import WebClient

from app.config import Settings
from app.runtime import Runtime
from app.slack import blocks
from app.slack.errors import classify
from app.slack.gateway import SlackCallFailed
from app.store.migrate import alembic_config

_TOKEN_FIX = {
    "SLACK_BOT_TOKEN": "Copy the Bot User OAuth Token (xoxb-) from the app's OAuth & Permissions page into SLACK_BOT_TOKEN.",
    "SLACK_ADMIN_TOKEN": (
        "Install the app on the whole Enterprise org as an org admin or owner, and put the User OAuth Token (xoxp-) "
        "in SLACK_ADMIN_TOKEN."
    ),
}
_CHANNEL_FIX = {
    "not_in_channel": "Invite the bot to the approvals channel (/invite @invitebot in that channel).",
    "channel_not_found": "INVITES_CHANNEL names no channel the bot can see: check the id (C…) and invite the bot.",
    "is_archived": "The approvals channel is archived: unarchive it or choose another INVITES_CHANNEL.",
    "missing_scope": "The bot token lacks chat:write: add it in the app's settings and reinstall.",
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Configuration, database and migrations, both tokens, each workspace, the channel, the approver groups."""
    runtime = Runtime.build(settings)
    try:
        checks = [Check("configuration", True, "every setting is present and well-formed"), _database(runtime)]
        gateway = runtime.gateway
        for name, problem in (
            ("SLACK_BOT_TOKEN", gateway.bot_token_problem()),
            ("SLACK_ADMIN_TOKEN", gateway.admin_token_problem()),
        ):
            checks.append(Check(f"{name} (auth.test)", problem is None, problem or "accepted", _TOKEN_FIX[name] if problem else ""))
        team_ids, workspaces_check = _workspaces(runtime)
        checks += [workspaces_check] if workspaces_check else []
        for team_id in team_ids:
            problem = gateway.listing_problem(team_id)
            checks.append(
                Check(f"list invite requests in {team_id}", problem is None, problem or "allowed", _slack_fix(problem))
            )
        problem = gateway.posting_problem(settings.INVITES_CHANNEL)
        fix = _CHANNEL_FIX.get(problem or "", f"Slack answered {problem}.") if problem else ""
        checks.append(Check(f"post in {settings.INVITES_CHANNEL}", problem is None, problem or "allowed", fix))
        if hasattr(WebClient, "blocks_validate"):  # Slack's blocks.validate, in newer slack_sdk releases only
            checks.append(_card(gateway.blocks_problem(blocks.sample_card())))
        checks.extend(_groups(runtime))
        return checks
    finally:
        runtime.close()


def _database(runtime: Runtime) -> Check:
    try:
        with runtime.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the finding
        return Check("database", False, f"{type(exc).__name__}: {exc}".splitlines()[0], "Check DATABASE_URL and that the server is up.")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if current != head:
        return Check("database", False, f"schema at {current or 'nothing'}, latest is {head}", "Run `invitebot migrate`.")
    return Check("database", True, f"reachable, schema at {head}")


def _card(problem: str | None) -> Check:
    fix = (
        f"Slack answered {problem} for a sample invite request card, so cards may not be posted: "
        "update invitebot to a release that follows Slack's current Block Kit rules."
    )
    return Check("request card (blocks.validate)", problem is None, problem or "Slack accepts it", fix if problem else "")


def _workspaces(runtime: Runtime) -> tuple[list[str], Check | None]:
    """The workspaces to check; with INVITES_TEAM_IDS=all, whether Slack lists the org's workspaces at all."""
    try:
        team_ids = runtime.workspaces.ids()
    except SlackCallFailed as exc:
        fix = (
            "INVITES_TEAM_IDS=all reads the org's workspaces with admin.teams.list: reinstall the app on the org with "
            "the admin.teams:read user scope, or list the workspace ids (T…) instead."
        )
        return [], Check("org workspaces (admin.teams.list)", False, exc.code, fix)
    if runtime.workspaces.discovers:
        return team_ids, Check("org workspaces (admin.teams.list)", True, f"{len(team_ids)} workspaces")
    return team_ids, None


def _groups(runtime: Runtime) -> list[Check]:
    """Each approver group must be found in a workspace; the fix names the S…@T… form when it is not."""
    checks = []
    for group in runtime.approvers.groups:
        name = f"approver group {group.id}"
        found, errors = None, []
        for team_id in runtime.approvers.group_teams(group):
            try:
                found = (team_id, runtime.gateway.usergroup_members(group.id, team_id))
                break
            except SlackCallFailed as exc:
                errors.append(f"{exc.code} in {team_id}")
        if found is None:
            detail = "; ".join(errors) or "no workspace to look in"
            if errors and all(e.startswith("missing_scope") for e in errors):
                fix = "The bot token lacks usergroups:read: add it in the app's settings and reinstall."
            elif group.team_id:
                fix = f"INVITES_APPROVERS names {group.id}@{group.team_id}, but {group.team_id} has no such user group."
            else:
                fix = (
                    f"INVITES_APPROVERS names {group.id}, which is not a user group Slack knows in invitebot's workspaces: "
                    f"write it as {group.id}@T… with the id of the workspace the group lives in."
                )
            checks.append(Check(name, False, detail, fix))
            continue
        team_id, members = found
        where = f"in {team_id}" if group.team_id else f"in {team_id} (write {group.id}@{team_id} to skip the search)"
        if members:
            checks.append(Check(name, True, f"{len(members)} members {where}"))
        else:
            checks.append(Check(name, False, f"no members {where}", f"Add approvers to the user group {group.id}."))
    return checks


def _slack_fix(code: str | None) -> str:
    return classify(code).sentence.removeprefix("Nothing was decided. ") if code else ""


def report(checks: list[Check]) -> str:
    """A table a person reads top to bottom, then the fixes."""
    width = max(len(check.name) for check in checks)
    lines = [f"{'check'.ljust(width)}  result  detail"]
    lines += [f"{c.name.ljust(width)}  {'ok    ' if c.ok else 'FAIL  '}  {c.detail}" for c in checks]
    fixes = [f"- {c.name}: {c.fix}" for c in checks if not c.ok and c.fix]
    if fixes:
        lines += ["", "To fix:", *fixes]
    failed = sum(1 for c in checks if not c.ok)
    lines += ["", "All checks passed." if not failed else f"{failed} of {len(checks)} checks failed."]
    return "\n".join(lines)
