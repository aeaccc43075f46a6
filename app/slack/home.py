"""Publish a user's App Home: the approver dashboard, or a requester's own requests."""

from __future__ import annotations

import logging
from typing import Any

from app.core import policy_stats, queries
from app.runtime import Runtime
from app.slack import home_view
from app.slack.gateway import SlackCallFailed

log = logging.getLogger(__name__)


def publish_home(runtime: Runtime, user_id: str, notice: str | None = None) -> None:
    """Read what this user may see in one session, build the view, publish it; a Slack failure is logged, never raised."""
    view = build_home(runtime, user_id, notice)
    try:
        runtime.gateway.publish_home(user_id, view)
    except SlackCallFailed as exc:
        log.warning("could not publish the App Home of %s: %s", user_id, exc.code)


def build_home(runtime: Runtime, user_id: str, notice: str | None = None) -> dict[str, Any]:
    if not runtime.approvers.allows(user_id):
        with runtime.reads() as session:
            mine = queries.requested_by(session, user_id, limit=home_view.REQUESTS_LIMIT)
        return home_view.requester_home(mine, notice=notice)
    settings = runtime.settings
    with runtime.reads() as session:
        stats = queries.stats(session)
        pending, total = queries.pending(session, limit=home_view.PENDING_FETCH)
        decisions = queries.history(session, home_view.HISTORY_LIMIT)
        last_sync = queries.last_sync(session)
        panel = home_view.PolicyPanel(
            policy=runtime.policy,
            agreement=policy_stats.agreement(session),
            waiting=policy_stats.waiting_for_approvals(session, limit=home_view.WAITING_SHOWN + 1),
        )
    config = home_view.HomeConfig(
        channel=settings.INVITES_CHANNEL,
        approvers=list(settings.INVITES_APPROVERS),
        sync_interval=settings.INVITES_SYNC_INTERVAL,
        last_sync=last_sync,
    )
    return home_view.approver_home(
        stats=stats, pending=pending, pending_total=total, decisions=decisions, config=config, notice=notice, policy=panel
    )
