"""Bulk decisions (/invites approve|deny --domain …, the App Home's "Approve all from …"): preview, progress, answers."""

from __future__ import annotations

from app.core.authz import LOOKUP_FAILED_OUTCOME
from app.slack.ui import blocks
from app.slack.ui.replies.words import _DOING, _PAST, _VERB
from app.store.models import Action, InviteRequest

BULK_NOT_ALLOWED = "Only invite approvers can approve or deny in bulk. Nothing was changed."
BULK_CANCEL_NOT_ALLOWED = "Only invite approvers can cancel a bulk decision. Nothing was changed."
BULK_REASON_NEEDED = (
    "invitebot requires a reason to deny requests: `/invites deny --domain example.com --reason \"…\"`, "
    "or the box in the App Home's preview. Nothing was decided."
)
BULK_REASON_REQUIRED = "Write a reason to deny the requests this preview lists."  # under the preview's box, which says who reads it
BULK_PREVIEW_FAILED = "Slack did not open the preview in time; try again."
BULK_GONE = "invitebot has no such bulk decision any more. Nothing was changed."
_BULK_TYPES = {"full_member": "full members", "restricted": "multi-channel guests", "ultra_restricted": "single-channel guests"}
_ITEM_WORDS = (  # (outcome, words) for the rarer outcomes, shown when there are any
    ("invite_failed", "approved but not invited (Slack could not send the invitation)"),
    ("gone", "no longer in Slack"),
    ("approval_recorded", "counted as one approval of several (policy)"),
    ("self_requested", "skipped (asked for by the person approving in bulk: another approver decides)"),
)


def bulk_filter_words(domain: str, teams: list[str], types: tuple[str, ...] | list[str]) -> str:
    """example.com in Alpha Corp, Beta Labs (multi-channel guests); `teams` are workspace names (or ids)."""
    where = f" in {', '.join(blocks.safe(t, blocks.MAX_NAME_CHARS) for t in teams)}" if teams else ""
    kinds = f" ({', '.join(_BULK_TYPES.get(t, blocks.escape(t)) for t in types)})" if types else ""
    return f"{blocks.safe(domain, 300)}{where}{kinds}"


def bulk_title(action: str, filter_words: str, actor: str) -> str:
    """Bulk approve of example.com by @grace."""
    return f"Bulk {_VERB[Action(action)]} of {filter_words} by <@{actor}>"


def bulk_nothing(action: str, filter_words: str, elsewhere: int = 0) -> str:
    """Nothing to decide; `elsewhere`: how many match in workspaces the person does not decide."""
    if elsewhere:
        noun = "request is" if elsewhere == 1 else "requests are"
        return (
            f"No pending invite request from {filter_words} is in the workspaces you decide; {elsewhere} {noun} in "
            "other workspaces, whose own approvers decide them. Nothing was changed."
        )
    return f"No pending invite request is from {filter_words}; there is nothing to {_VERB[Action(action)]}."


def bulk_preview_head(action: str, filter_words: str, total: int, per_minute: int) -> str:
    """What the preview modal opens with: how many, what happens to them, and how long it takes."""
    noun = "request" if total == 1 else "requests"
    verb = _PAST[action]
    pace = blocks.waiting_words(max(0, total - 1) * 60 / per_minute, per_minute)
    return (
        f"*{total} pending {noun}* from {filter_words} will be {verb} one by one, in this order: {pace}. "
        "Each requester is told, and a progress message in the approvals channel lets any approver cancel the rest."
    )


def bulk_preview_line(request: InviteRequest) -> str:
    """• ada@example.com · Alpha Corp · Full member."""
    return (
        f"• {blocks.safe(request.email, blocks.MAX_EMAIL_CHARS)} · {blocks.workspace_words(request)} · "
        f"{blocks.invite_type_words(request.invite_type)}"
    )


def bulk_more(left: int) -> str:
    return f"and {left} more"


def left_words(seconds: float) -> str:
    """about 4 min left; about 40 s left; finishing."""
    if seconds >= 90:
        return f"about {round(seconds / 60)} min left"
    if seconds >= 5:
        return f"about {max(5, round(seconds / 5) * 5)} s left"
    return "finishing"


def bulk_counts(action: str, by: dict[str | None, int], total: int, *, running: bool) -> str:
    """37 of 120 approved, 2 decided elsewhere (running); 118 approved, 2 decided elsewhere, 0 failed (at the end)."""
    decided = by.get("approved", 0) + by.get("denied", 0) + by.get("invite_failed", 0)
    parts = [f"{decided} of {total} {_PAST[action]}" if running else f"{decided} {_PAST[action]}"]
    if by.get("elsewhere") or not running:
        parts.append(f"{by.get('elsewhere', 0)} decided elsewhere")
    if by.get("failed") or not running:
        parts.append(f"{by.get('failed', 0)} failed")
    parts.extend(f"{by[outcome]} {words}" for outcome, words in _ITEM_WORDS if by.get(outcome))
    if by.get("cancelled"):
        parts.append(f"{by['cancelled']} not decided")
    return ", ".join(parts)


def bulk_progress(
    title: str,
    action: str,
    by: dict[str | None, int],
    total: int,
    *,
    state: str,
    seconds_left: float,
    cancelled_by: str | None = None,
    stopped_because: str | None = None,
    finished: bool = False,
) -> str:
    """The progress message: "37 of 120 approved, 2 decided elsewhere, about 4 min left" while it runs, then its summary."""
    if state == "running":
        return f"{title}\n{bulk_counts(action, by, total, running=True)}, {left_words(seconds_left)}"
    if state == "done":
        return f"{title}: {bulk_counts(action, by, total, running=False)}"
    if stopped_because is not None:
        how = f"stopped: {_bulk_stop_words(stopped_because)}"
    else:
        how = f"cancelled by <@{cancelled_by}>" if cancelled_by else "cancelled"
    under_way = by.get("deciding", 0)
    still = f"; {under_way} already under way {'is' if under_way == 1 else 'are'} finishing" if under_way and not finished else ""
    return f"{title}, {how}{still}: {bulk_counts(action, by, total, running=False)}"


def _bulk_stop_words(code: str) -> str:
    if code == LOOKUP_FAILED_OUTCOME:
        return "invitebot could not check the approver rights of the person who started it"
    if code == "reason_required":
        return "a deny reason is required"
    if code.startswith("feeder_failed"):
        return "invitebot's own attempts to go on kept failing (its log says why)"
    return "the person who started it is no longer an invite approver"


def bulk_started(action: str, filter_words: str, total: int, channel: str) -> str:
    noun = "request" if total == 1 else "requests"
    return f"{_DOING[action].capitalize()} {total} {noun} from {filter_words}; the progress is in <#{channel}>."


def bulk_not_yours(actor: str) -> str:
    return f"Only <@{actor}>, who asked for this preview, can start it. Nothing was changed."


def bulk_already(action: str, state: str) -> str:
    if state == "running":
        return f"This bulk {_VERB[Action(action)]} is already running; its progress message can cancel it."
    return f"This bulk {_VERB[Action(action)]} has already {'been cancelled' if state == 'cancelled' else 'finished'}. Nothing was changed."


def bulk_cancelled(action: str, by: dict[str | None, int]) -> str:
    left, under_way = by.get("cancelled", 0), by.get("deciding", 0)
    finishing = f"; {under_way} already under way finish" if under_way else ""
    return f"You cancelled the bulk {_VERB[Action(action)]}: {left} {'request is' if left == 1 else 'requests are'} not decided{finishing}."
