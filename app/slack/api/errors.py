"""Every Slack error code the admin methods document, mapped to what we do and what we tell the admin."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.ports import Kind


@dataclass(frozen=True)
class SlackError:
    code: str
    kind: Kind
    sentence: str


_NOTHING_DONE = "Nothing was decided"
_TRANSIENT_RETRY = f"{_NOTHING_DONE}; try again in a minute."
_FIX = f"{_NOTHING_DONE}."

_TABLE: dict[str, tuple[Kind, str]] = {
    "already_processed": (Kind.ALREADY_PROCESSED, "This request was already decided elsewhere."),
    "failed_to_send_invite": (
        Kind.INVITE_FAILED,
        "The request was approved, but Slack could not send the invitation "
        "(the person may be deactivated or already in the workspace).",
    ),
    "invalid_request": (Kind.GONE, "Slack no longer has this invite request; it may have expired or been withdrawn."),
    # Slack's side or a passing condition: retried, then the claim is released.
    "ratelimited": (Kind.TRANSIENT, f"Slack is rate-limiting admin calls right now. {_TRANSIENT_RETRY}"),
    "internal_error": (Kind.TRANSIENT, f"Slack had an internal error. {_TRANSIENT_RETRY}"),
    "fatal_error": (Kind.TRANSIENT, f"Slack failed while handling the request. {_TRANSIENT_RETRY}"),
    "service_unavailable": (Kind.TRANSIENT, f"Slack's admin service is temporarily unavailable. {_TRANSIENT_RETRY}"),
    "request_timeout": (Kind.TRANSIENT, f"The request to Slack was cut short. {_TRANSIENT_RETRY}"),
    "http_error": (Kind.TRANSIENT, f"Slack answered with a server error. {_TRANSIENT_RETRY}"),
    "network_error": (Kind.TRANSIENT, f"invitebot could not reach Slack. {_TRANSIENT_RETRY}"),
    "team_added_to_org": (
        Kind.TRANSIENT,
        f"The workspace is being moved into the Enterprise org and Slack is intermittently unavailable. {_TRANSIENT_RETRY}",
    ),
    "org_login_required": (
        Kind.TRANSIENT,
        f"The workspace is being migrated to the Enterprise org and is unavailable until that finishes. {_TRANSIENT_RETRY}",
    ),
    # Tokens and permissions: an admin must fix the installation.
    "not_an_admin": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin token does not belong to an org admin or owner: reinstall invitebot as one.",
    ),
    "missing_scope": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin token lacks the admin.invites:write scope: reinstall invitebot on the org with it.",
    ),
    "team_access_not_granted": (
        Kind.ADMIN_FIX,
        f"{_FIX} invitebot is not granted access to this workspace: add the workspace to the org-wide install.",
    ),
    "not_authed": (Kind.ADMIN_FIX, f"{_FIX} No admin token is configured: set SLACK_ADMIN_TOKEN."),
    "invalid_auth": (
        Kind.ADMIN_FIX,
        f"{_FIX} Slack rejected the admin token (or the IP address it came from): check SLACK_ADMIN_TOKEN.",
    ),
    "token_revoked": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin token was revoked or the app removed: reinstall invitebot and update SLACK_ADMIN_TOKEN.",
    ),
    "token_expired": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin token has expired: reinstall invitebot and update SLACK_ADMIN_TOKEN.",
    ),
    "account_inactive": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin token belongs to a deactivated user: reinstall invitebot as an active org admin.",
    ),
    "not_allowed_token_type": (
        Kind.ADMIN_FIX,
        f"{_FIX} SLACK_ADMIN_TOKEN must be a user token (xoxp-) from an org-wide install, not a bot token.",
    ),
    "is_bot": (Kind.ADMIN_FIX, f"{_FIX} SLACK_ADMIN_TOKEN must be an org admin's user token, not a bot token."),
    "no_permission": (Kind.ADMIN_FIX, f"{_FIX} The admin token does not have permission for this: check its scopes."),
    "access_denied": (Kind.ADMIN_FIX, f"{_FIX} Slack denied the admin token access to this request."),
    "accesslimited": (
        Kind.ADMIN_FIX,
        f"{_FIX} Slack limits admin methods from this network: allow invitebot's IP address in the org's settings.",
    ),
    "feature_not_enabled": (
        Kind.ADMIN_FIX,
        f"{_FIX} Invite request approval is not enabled for this workspace: turn it on in the org's admin settings.",
    ),
    "team_not_found": (
        Kind.ADMIN_FIX,
        f"{_FIX} Slack does not know this workspace: check INVITES_TEAM_IDS and the org-wide install.",
    ),
    "enterprise_is_restricted": (Kind.ADMIN_FIX, f"{_FIX} The Enterprise org restricts this method."),
    "two_factor_setup_required": (
        Kind.ADMIN_FIX,
        f"{_FIX} The admin behind SLACK_ADMIN_TOKEN must set up two-factor authentication.",
    ),
    "ekm_access_denied": (Kind.ADMIN_FIX, f"{_FIX} Enterprise Key Management access is suspended by the org's admins."),
    # Slack could not read what we sent: our fault, retrying will not help.
    "invalid_arguments": (Kind.REJECTED, "Slack rejected invitebot's request as invalid (invalid_arguments)."),
    "invalid_arg_name": (Kind.REJECTED, "Slack rejected invitebot's request as malformed (invalid_arg_name)."),
    "invalid_array_arg": (Kind.REJECTED, "Slack rejected invitebot's request as malformed (invalid_array_arg)."),
    "invalid_charset": (Kind.REJECTED, "Slack rejected invitebot's request encoding (invalid_charset)."),
    "invalid_form_data": (Kind.REJECTED, "Slack could not read invitebot's request (invalid_form_data)."),
    "invalid_post_type": (Kind.REJECTED, "Slack could not read invitebot's request (invalid_post_type)."),
    "missing_post_type": (Kind.REJECTED, "Slack could not read invitebot's request (missing_post_type)."),
    "method_deprecated": (Kind.REJECTED, "Slack has deprecated this method; upgrade invitebot."),
    "deprecated_endpoint": (Kind.REJECTED, "Slack has deprecated this endpoint; upgrade invitebot."),
}


def classify(code: str) -> SlackError:
    """Known codes get their considered answer; an unknown one is treated as Slack's side, with its code shown."""
    kind, sentence = _TABLE.get(code, (Kind.TRANSIENT, f"Slack answered {code!r}. {_TRANSIENT_RETRY}"))
    return SlackError(code=code, kind=kind, sentence=sentence)


def known_codes() -> frozenset[str]:
    return frozenset(_TABLE)


_NO_INVITE = "No invitation was sent."
# admin.users.invite's own codes (seed 002); the common ones share the decision answers above.
_INVITE_TABLE: dict[str, tuple[Kind, str]] = {
    "already_in_team": (Kind.REJECTED, f"{_NO_INVITE} That person is already a member of the workspace."),
    "already_in_team_invited_user": (Kind.REJECTED, f"{_NO_INVITE} That person has already been invited to the workspace."),
    "user_disabled": (Kind.REJECTED, f"{_NO_INVITE} That person's account is deactivated; reactivate it in the org's admin pages."),
    "failed_looking_up_user": (Kind.TRANSIENT, f"Slack could not look that person up. {_NO_INVITE} Try again in a minute."),
    "invalid_email": (Kind.REJECTED, f"{_NO_INVITE} Slack does not accept that email address."),
    "failed_to_send_invite": (Kind.TRANSIENT, f"Slack could not send the invitation. {_NO_INVITE} Try again in a minute."),
    "failed_to_validate_caller": (
        Kind.ADMIN_FIX,
        f"{_NO_INVITE} The admin token may not invite people: reinstall invitebot with admin.users:write as an org admin.",
    ),
    "failed_to_validate_channels": (
        Kind.REJECTED,
        f"{_NO_INVITE} Slack rejected the channels: each must exist in that workspace, and a single-channel guest gets exactly one.",
    ),
    "failed_to_validate_custom_message": (Kind.REJECTED, f"{_NO_INVITE} Slack rejected the invitation message; shorten or simplify it."),
    "failed_to_validate_expiration": (
        Kind.REJECTED,
        f"{_NO_INVITE} Slack rejected the expiry date: it must be in the future, and only guests can expire.",
    ),
    "failed_to_validate_team": (Kind.ADMIN_FIX, f"{_NO_INVITE} Slack rejected the workspace: check that invitebot is installed on it."),
}


def classify_invite(code: str) -> SlackError:
    """An admin.users.invite answer, worded for someone who tried to invite."""
    if code in _INVITE_TABLE:
        kind, sentence = _INVITE_TABLE[code]
        return SlackError(code=code, kind=kind, sentence=sentence)
    common = classify(code)
    return SlackError(code=code, kind=common.kind, sentence=common.sentence.replace(_NOTHING_DONE, "No invitation was sent"))


def known_invite_codes() -> frozenset[str]:
    return frozenset(_TABLE) | frozenset(_INVITE_TABLE)


# Labels the gateway gives when no Slack answer came back (app.slack.api.client.error_code): ours, not Slack's.
WIRE_LABELS = frozenset({"network_error", "http_error"})


def documented_codes() -> frozenset[str]:
    """Every error code Slack documents for a method invitebot calls, without our own labels for a failure on the wire."""
    return (known_codes() | known_invite_codes()) - WIRE_LABELS
