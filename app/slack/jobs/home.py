"""Publish a user's App Home: the approver dashboard, or a requester's own requests."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from app.core import queries, team_access
from app.core.bulk import batches
from app.core.policy import stats as policy_stats
from app.slack.api.gateway import SlackCallFailed
from app.slack.runtime import Runtime
from app.slack.ui import home_view
from app.store.models import SyncRun

log = logging.getLogger(__name__)


def publish_home(runtime: Runtime, user_id: str, notice: str | None = None, near: str | None = None) -> None:
    """Read what this user may see in one session, build the view, publish it; a Slack failure is logged, never raised.

    A notice is published even when the database cannot be read: on its own, so the person still hears it. `near`: the
    block_id of the block whose button the notice answers, so it shows where the person clicked.
    """
    try:
        view = build_home(runtime, user_id, notice, near)
    except SQLAlchemyError as exc:
        if notice is None:
            raise
        log.warning("could not read the App Home of %s (%s); publishing the notice alone", user_id, type(exc).__name__)
        view = home_view.notice_only(notice)
    try:
        runtime.gateway.publish_home(user_id, view)
    except SlackCallFailed as exc:
        log.warning("could not publish the App Home of %s: %s", user_id, exc.code)


def build_home(runtime: Runtime, user_id: str, notice: str | None = None, near: str | None = None) -> dict[str, Any]:
    """An approver sees the requests of the workspaces they may decide, workspace by workspace; anyone else, their own."""
    reach = runtime.approvers.reach(user_id)
    if not reach.allowed:
        with runtime.reads() as session:
            mine = queries.requested_by(session, user_id, limit=home_view.REQUESTS_LIMIT)
        return home_view.requester_home(mine, notice=notice)
    teams = reach.teams
    with runtime.reads() as session:
        stats = queries.stats(session, teams=teams)
        queues = queries.pending_by_workspace(session, teams=teams, limit_each=home_view.PENDING_FETCH)
        decisions = queries.history(session, home_view.HISTORY_LIMIT, teams=teams)
        last_sync = queries.last_sync(session)
        domains = batches.busiest_domains(session, home_view.BULK_DOMAINS, teams=teams)
        undelivered = queries.undelivered(session, teams=teams)
        no_access = [t for t in team_access.revoked_teams(session) if teams is None or t in teams]
        panel = home_view.PolicyPanel(
            policy=runtime.policy,
            agreement=policy_stats.agreement(session, teams=teams),
            waiting=policy_stats.waiting_for_approvals(session, limit=home_view.WAITING_SHOWN + 1, teams=teams),
        )
    config = _config(runtime, teams, last_sync, no_access)
    pending = [request for queue in queues for request in queue.requests]
    total = sum(queue.total for queue in queues)
    return home_view.approver_home(
        stats=stats, pending=pending, pending_total=total, decisions=decisions, config=config, notice=notice, notice_near=near,
        policy=panel,
        queues=queues,
        domains=domains,
        undelivered=undelivered,
    )


def _config(
    runtime: Runtime, teams: frozenset[str] | None, last_sync: SyncRun | None, no_access: list[str]
) -> home_view.HomeConfig:
    """The settings as this viewer needs them: the routes and workspace lists of the workspaces they decide."""
    settings = runtime.settings

    def mine(team_id: str) -> bool:
        return teams is None or team_id in teams

    def label(team_id: str) -> str:
        return runtime.workspaces.name_of(team_id) or team_id

    # INVITES_CHANNEL concerns this viewer only when a workspace they decide has no route of its own.
    fallback = teams is None or any(t not in settings.INVITES_ROUTES for t in teams)
    return home_view.HomeConfig(
        channel=settings.INVITES_CHANNEL if fallback else None,
        approvers=list(settings.INVITES_APPROVERS),
        sync_interval=settings.INVITES_SYNC_INTERVAL,
        last_sync=last_sync,
        routes=[(label(t), channel) for t, channel in settings.INVITES_ROUTES.items() if mine(t)],
        workspace_approvers=[(label(t), list(ids)) for t, ids in settings.INVITES_WORKSPACE_APPROVERS.items() if mine(t)],
        no_access=[label(t) for t in no_access],
    )
