"""/invites stats: what waits, what was decided in the last 7 days and how fast, and when Slack was last read."""

from __future__ import annotations

from app.core.queries import Stats
from app.slack.ui import blocks
from app.slack.ui.replies.words import _duration, oldest_words
from app.store.models import SyncRun


def stats_text(stats: Stats, last_sync: SyncRun | None, *, scope: list[str] | None = None) -> str:
    """`/invites stats`; `scope`: the workspaces the viewer decides, when not every one (the numbers are theirs only)."""
    pending = ", ".join(f"{blocks.escape(team)}: {count}" for team, count in stats.pending_by_team.items()) or "none"
    median = _duration(stats.median_to_decision) if stats.median_to_decision is not None else "no decisions yet"
    synced = f"{blocks.slack_date(last_sync.finished_at)} ({last_sync.summary})" if last_sync else "never"
    head = f"*Your workspaces:* {', '.join(blocks.escape(name) for name in scope) or 'none'}\n" if scope is not None else ""
    per_team = ""
    if len(stats.decided_by_team_7d) > 1:
        per_team = " (" + "; ".join(
            f"{blocks.escape(team)}: {approved} approved, {denied} denied" for team, (approved, denied) in stats.decided_by_team_7d.items()
        ) + ")"
    return (
        f"{head}*Pending:* {pending}{oldest_words(stats.oldest_wait)}\n"
        f"*Last 7 days:* {stats.approved_7d} approved, {stats.denied_7d} denied{per_team}\n"
        f"*Median time to decision (7 days):* {median}\n"
        f"*Last sync:* {synced}"
    )
