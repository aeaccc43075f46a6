"""The clicker's answer to an attempt to decide, from any surface: what happened, or why nothing did."""

from __future__ import annotations

from app.core.authz import LOOKUP_FAILED_OUTCOME, SELF_APPROVAL_OUTCOME, Verdict
from app.core.outcomes import Outcome, Result, Why
from app.slack.api.errors import Kind, classify, classify_invite
from app.slack.ui import blocks
from app.slack.ui.replies.words import _DOING, _PAST, _VERB

NOT_ALLOWED = "Only invite approvers can approve or deny invite requests. Nothing was changed."
NOT_YOUR_WORKSPACE = (
    "You approve invite requests of another workspace, not of this request's workspace: its own approvers or the "
    "org's decide it. Nothing was changed."
)
SELF_APPROVAL = (
    "You asked for this invite yourself, so another approver must approve it. Nothing was changed. "
    "You can still deny it, which withdraws your request."
)
REASON_REQUIRED = "Write a reason to deny this request."  # under the modal's box, which already says who reads it


def unexpected(ref: str) -> str:
    """What anyone hears when invitebot failed in a way its code does not expect; its log has the same reference."""
    return (
        f"Something went wrong on invitebot's side (ref {ref}), so this was not finished. "
        "Try again; if it keeps happening, give this reference to whoever runs invitebot."
    )


def refusal(verdict: Verdict, user_id: str) -> str:
    """Why someone may not decide: not an approver, approving their own request, or invitebot could not find out."""
    if verdict.outcome == LOOKUP_FAILED_OUTCOME and verdict.about is not None:
        return (
            f"invitebot could not check again that <@{verdict.about}>, whose earlier approval counts towards this request, "
            f"is still an approver (Slack answered {verdict.code}); nothing was changed — try again in a minute."
        )
    if verdict.outcome == LOOKUP_FAILED_OUTCOME:
        return (
            f"invitebot could not check your approver rights just now (Slack answered {verdict.code}); "
            "nothing was changed — try again in a minute."
        )
    if verdict.group is not None:
        return (
            f"invitebot could not match your Slack id ({user_id}) with the ids user group "
            f"<!subteam^{verdict.group}> lists, so it cannot tell whether you are an approver "
            f"(Slack answered {verdict.code}). Nothing was changed. An admin can add your id to INVITES_APPROVERS."
        )
    if verdict.elsewhere:
        return NOT_YOUR_WORKSPACE
    if verdict.outcome == SELF_APPROVAL_OUTCOME:
        return SELF_APPROVAL
    return NOT_ALLOWED


def invite_refusal(verdict: Verdict, user_id: str, email: str, where: str) -> str:
    """Why someone may not invite `email` directly into the workspace named `where` (already escaped)."""
    if verdict.elsewhere:
        return (
            f"Could not invite {email}: you decide invites for another workspace, not {where}; its own approvers or "
            "the org's invite people there. Nothing was sent."
        )
    return refusal(verdict, user_id)


def invite_failed(email: str, code: str) -> str:
    """Slack refused a direct invitation: "No invitation was sent to …" once, then why (and what to do)."""
    sentence = classify_invite(code).sentence
    sent = "No invitation was sent"
    if sent in sentence:
        return sentence.replace(sent, f"{sent} to {email}", 1)
    return f"Could not invite {email}: {sentence}"


def foreign_channels(email: str, channel_ids: tuple[str, ...], where: str) -> str:
    """Why a direct invitation was not sent: channels of another workspace than `where` (already escaped)."""
    named = ", ".join(f"<#{c}>" for c in channel_ids)
    which = "is a channel" if len(channel_ids) == 1 else "are channels"
    return (
        f"Could not invite {email}: {named} {which} of another workspace, not of {where}, and Slack invites people only "
        f"into the workspace's own channels. Name channels of {where}, or invite into the other workspace with "
        "`in <workspace>`. Nothing was sent."
    )


REASON_NEEDED = (
    "invitebot requires a reason to deny a request: `/invites deny <request> <reason>`, or the box after Deny. "
    "Nothing was decided."
)


def decision(outcome: Outcome, user_id: str, *, per_minute: int) -> str:
    """The clicker's answer to an attempt to decide, whichever surface it came from."""
    email = blocks.escape(outcome.email) if outcome.email else "this person"
    verb = _VERB[outcome.action]
    result = outcome.result
    if result is Result.REFUSED and outcome.verdict is not None:
        return refusal(outcome.verdict, user_id)
    if result is Result.REASON_REQUIRED:
        return REASON_NEEDED
    if result is Result.QUEUED:
        wait = outcome.wait_seconds or 0
        asked = outcome.slack_wait_seconds
        words = blocks.waiting_words(wait, per_minute) if asked is None else blocks.slack_wait_words(asked, wait)
        return (
            f"{_DOING[outcome.action.value].capitalize()}… <@{user_id}>, queued: {words}. "
            f"You will be told here when Slack has {_PAST[outcome.action.value]} it."
        )
    if result is Result.ACCEPTED:
        return f"{_DOING[outcome.action.value].capitalize()} the invite request for {email}…"
    if result is Result.APPROVAL_RECORDED:
        missing = (outcome.needed or 0) - len(outcome.approvals)
        more = "one more approver" if missing == 1 else f"{missing} more approvers"
        return (
            f"Your approval of the invite request for {email} is recorded ({blocks.approvals_line(outcome.approvals, outcome.needed)}). "
            f"{blocks.lapsed_words(outcome.lapsed)}Its policy rule asks for {more} before Slack is asked."
        )
    if result is Result.ALREADY_APPROVED:
        return (
            f"You already approved the invite request for {email} ({blocks.approvals_line(outcome.approvals, outcome.needed)}). "
            f"{blocks.lapsed_words(outcome.lapsed)}It needs another approver; nothing was changed."
        )
    if result is Result.DECIDED:
        return f"You {_PAST[outcome.other_action or outcome.action.value]} the invite request for {email}."
    if result in (Result.INVITE_FAILED, Result.GONE):
        return classify(outcome.error or "").sentence
    if result is Result.DECIDED_ELSEWHERE:
        who = f"<@{outcome.other}>" if outcome.other else "someone"
        where = " outside invitebot" if outcome.outside else ""
        return f"No need: this request was already {_PAST[outcome.other_action or '']} by {who}{where}. The card now says so."
    if result is Result.ALREADY_DECIDED:
        line = blocks.outcome_line(outcome.request) if outcome.request else None
        return f"This request was already decided; nothing was changed.\n{line}" if line else "This request is already closed."
    if result is Result.IN_FLIGHT:
        doing = _DOING.get(outcome.other_action or "", "deciding")
        if outcome.why is Why.LATE:
            return f"Slack answered late; meanwhile <@{outcome.other}> is {doing} this request."
        return f"<@{outcome.other}> is {doing} this request right now."
    if result is Result.NOT_FOUND:
        return f"invitebot has no invite request `{blocks.escape(outcome.request_id)}`."
    return _failed(outcome, email, verb)


# Why an answer was lost, for a clicker whose call Slack may still carry out (its lists did not show it decided yet).
_LOST = {
    "network_error": "Slack did not answer in time",
    "request_timeout": "the request to Slack was cut short",
    "http_error": "Slack answered with a server error",
}


def _failed(outcome: Outcome, email: str, verb: str) -> str:
    again = f" Click {verb.capitalize()} again to retry."
    why = outcome.why
    if why is Why.RELEASED_MEANWHILE:
        return "Another attempt on this request just failed; please try again."
    if why is Why.UNPLACED:
        return (
            f"invitebot does not know yet which workspace the request for {email} "
            "was made in, so Slack cannot decide it. Nothing was decided; the next sync finds it, then try again."
        )
    if why is Why.GAVE_UP:
        return (
            f"invitebot could not finish deciding the request for {email}: its own attempts kept failing "
            f"({outcome.error}). The request is open again; if Slack did decide it, the next sync shows how it ended."
            f"{again}"
        )
    if why is Why.NOT_LISTED_YET:
        return (
            "Slack says this request was already decided elsewhere, but has not listed the decision yet; "
            "the card will be updated on the next sync."
        )
    if why is Why.ANSWER_LOST_UNCHECKED:
        return (
            f"Slack's answer to {verb} the request for {email} was lost on the way, and "
            f"invitebot could not check whether it went through. Click {verb.capitalize()} again: if Slack did "
            "decide it, you will be told so, and the card will say who decided."
        )
    if why is Why.ANSWER_LOST_UNDECIDED:
        past = _PAST[outcome.action.value]
        return (
            f"Could not confirm that Slack {past} the request for {email}: {_LOST.get(outcome.error or '', _LOST['network_error'])}, "
            f"and Slack's lists do not show it decided yet. Slack may still {verb} it; the card will then say you {past} it. "
            f"If the card still has its buttons in a minute, click {verb.capitalize()} again to retry."
        )
    if why in (Why.TOO_LATE, Why.LATE):
        return (
            f"Slack answered too late for invitebot to record it; the request for {email} "
            "is open again. The next sync will show how it ended."
        )
    error = classify(outcome.error or "network_error")
    sentence = error.sentence
    if error.kind is Kind.TRANSIENT:
        later = f"click {verb.capitalize()} again in a minute to retry."
        sentence = sentence.replace("try again in a minute.", later) if "try again in a minute." in sentence else sentence + again
    return f"Could not {verb} the request for {email}: {sentence}"
