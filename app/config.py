"""Configuration from the environment, validated once at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.paths import default_database_url
from app.routes import Routes

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
# A user (U… local or W… org-wide id), or a user group (S…), optionally with where it lives: its workspace (S…@T…), or
# the org itself for an org-level (IdP) group (S…@E…).
_APPROVER_ID = re.compile(r"^(?:[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}(?:@[TE][A-Z0-9]{2,})?)$")
_TEAM_ID = re.compile(r"^T[A-Z0-9]{2,}$")
_ESCALATE_TO = re.compile(r"^(?:[CG][A-Z0-9]{2,}|S[A-Z0-9]{2,})$")
_DURATION_PART = re.compile(r"(\d+)([dhms])")
_DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
ALL_TEAMS = "all"
_TOKEN_KINDS = {"xoxb-": "a bot token", "xoxp-": "a user token", "xapp-": "an app-level token", "xoxe": "a refresh token"}
_NOT_A_URL = "(not a URL)"
# INVITES_APPROVERS_T0123=U…,S…: a workspace's own approvers. The names are not known in advance, so the declared field
# WORKSPACE_APPROVERS gathers every variable (or keyword) with this prefix, keyed by what follows it (the workspace id).
WORKSPACE_APPROVERS_PREFIX = "INVITES_APPROVERS_"
WORKSPACE_APPROVERS = "INVITES_WORKSPACE_APPROVERS"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Spec:
    """What a setting holds, in words a person can act on, and an example of a good value."""

    what: str
    example: str | None = None
    secret: bool = False

    def wanted(self) -> str:
        return f"{self.what} (for example {self.example})" if self.example else self.what


SPECS: dict[str, Spec] = {
    "DATABASE_URL": Spec(
        "a sqlite:// or postgresql:// URL",
        "sqlite:///data/invitebot.db or postgresql://invitebot:secret@db.internal:5432/invitebot",
    ),
    "INVITES_DB_POOL_SIZE": Spec("a whole number of connections from 1 to 500", "10"),
    "INVITES_DB_POOL_TIMEOUT": Spec("a number of seconds from 1 to 300", "10"),
    "INVITES_DB_CONNECT_TIMEOUT": Spec("a whole number of seconds from 2 to 300", "5"),
    "INVITES_DB_STATEMENT_TIMEOUT": Spec("a whole number of seconds from 1 to 3600", "10"),
    "INVITES_DB_NETWORK_TIMEOUT": Spec("a whole number of seconds from 1 to 3600", "10"),
    "SLACK_BOT_TOKEN": Spec("the Bot User OAuth Token from the app's OAuth & Permissions page", "xoxb-…", secret=True),
    "SLACK_ADMIN_TOKEN": Spec(
        "the User OAuth Token of the org admin or owner who installed the app on the org (OAuth & Permissions)",
        "xoxp-…",
        secret=True,
    ),
    "SLACK_SIGNING_SECRET": Spec("the Signing Secret from the app's Basic Information page (App Credentials)", secret=True),
    "SLACK_APP_TOKEN": Spec(
        "an app-level token with connections:write (Basic Information → App-Level Tokens)", "xapp-…", secret=True
    ),
    "SLACK_API_URL": Spec("an http:// or https:// URL of Slack's Web API", "https://slack.com/api/"),
    "SLACK_API_TIMEOUT": Spec("a whole number of seconds from 1 to 120", "15"),
    "INVITES_CHANNEL": Spec("the approvals channel's id, C… or G…", "C0123ABCD, at the bottom of the channel's details"),
    "INVITES_APPROVERS": Spec(
        "comma-separated user ids (U…/W…) and user-group ids (S…, S…@T… naming its workspace, or S…@E… for an org-level "
        "group)",
        "W0123GRACE,S0456ADMINS@T0789ALPHA",
    ),
    WORKSPACE_APPROVERS: Spec(
        "comma-separated user ids (U…/W…) and user-group ids (S…, read in that workspace, or S…@E… for an org-level "
        "group) who decide one workspace's "
        "requests, in a variable named INVITES_APPROVERS_ and the workspace's id (T…)",
        "INVITES_APPROVERS_T0123ALPHA=W0456ADA,S0789ALPHAADMINS",
    ),
    "INVITES_ROUTES": Spec(
        "comma-separated routes, each a workspace id (T…), a colon and the id of that workspace's approvals channel (C…/G…)",
        "T0123ALPHA:C0456ALPHA,T0789BETA:G0123BETA",
    ),
    "INVITES_TEAM_IDS": Spec("comma-separated workspace ids (T…), or the single word 'all'", "T0123ALPHA,T0456BETA, or all"),
    "INVITES_SYNC_INTERVAL": Spec("a number of seconds from 10 to 86400", "300"),
    "INVITES_DENY_REASON_REQUIRED": Spec("true or false"),
    "INVITES_ALLOW_SELF_APPROVAL": Spec("true or false"),
    "INVITES_NOTIFY_REQUESTERS": Spec("true or false"),
    "INVITES_ADMIN_CALLS_PER_MINUTE": Spec("a whole number of calls from 1 to 60000", "20"),
    "INVITES_CARD_POSTS_PER_MINUTE": Spec("a whole number of posts from 1 to 60000", "50"),
    "INVITES_MAX_RETRY_AFTER": Spec("a whole number of seconds from 1 to 3600", "60"),
    "INVITES_POLICY": Spec("the path of a policy YAML file (see docs/configuration.md, Policies)", "/etc/invitebot/policy.yml"),
    "INVITES_REMIND_AFTER": Spec("a duration of at least one minute, in days, hours and minutes", "4h, 30m or 1d12h"),
    "INVITES_ESCALATE_AFTER": Spec("a duration of at least one minute, in days, hours and minutes", "1d"),
    "INVITES_ESCALATE_TO": Spec(
        "a channel id (C…/G…) to post escalations in, or a user-group id (S…) to mention in the approvals channel", "C0456LEADS or S0789ADMINS"
    ),
    "INVITES_DIGEST_OVER": Spec("a whole number of new requests, 1 or more", "50"),
    "INVITES_HTTP_CONNECTIONS": Spec("a whole number of connections from 10 to 100000", "1000"),
    "INVITES_HTTP_CLIENT_CONNECTIONS": Spec("a whole number of connections from 0 (no limit) to 100000", "100"),
    "INVITES_SERVE_WORKER": Spec("true or false"),
    "INVITES_OUTBOX_POLL_SECONDS": Spec("a number of seconds from 0.05 to 300", "1"),
}


@dataclass(frozen=True)
class SettingProblem:
    """One missing or malformed variable: `line` is what start-up prints, `fix` what `invitebot doctor` advises."""

    name: str
    missing: bool
    detail: str

    @property
    def line(self) -> str:
        if self.missing:
            return f"{self.name} is not set: it should be {spec_of(self.name).wanted()}"
        return f"{self.name} is invalid: {self.detail}"

    @property
    def fix(self) -> str:
        return f"Set {self.name} to {spec_of(self.name).wanted()}."


def setting_of(variable: str) -> str:
    """The declared setting a variable fills: itself, or WORKSPACE_APPROVERS for INVITES_APPROVERS_T…."""
    return WORKSPACE_APPROVERS if variable.startswith(WORKSPACE_APPROVERS_PREFIX) else variable


def spec_of(variable: str) -> Spec:
    return SPECS[setting_of(variable)]


def _split_ids(value: object) -> object:
    """Accept 'A,B, C' from the environment as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_ids(values: object, pattern: re.Pattern[str], name: str, what: str) -> object:
    if not isinstance(values, list):
        return values  # pydantic reports the wrong type
    if not values:
        raise ValueError(f"it is empty: write {SPECS[name].wanted()}")
    for value in values:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {what} (for example {SPECS[name].example})")
    return values


def _check_approvers(value: object, name: str) -> object:
    """INVITES_APPROVERS, or one workspace's INVITES_APPROVERS_T…: user ids and user-group ids, comma-separated."""
    what = "a user id (U…/W…) or user-group id (S…, S…@T… naming its workspace, or S…@E… for an org-level group)"
    return _check_ids(_split_ids(value), _APPROVER_ID, name, what)


def _workspace_approvers(value: object) -> object:
    return _check_approvers(value, WORKSPACE_APPROVERS)


def _refuse_the_org(team_id: str, instead: str) -> None:
    """Where a workspace id belongs, the org's own E… id is a common slip: say so, with what to write `instead`."""
    if team_id.startswith("E"):
        raise ValueError(f"{team_id!r} is the Enterprise org, not a workspace: {instead}")


def _approvers_workspace(team_id: str) -> str:
    """What follows INVITES_APPROVERS_ must be a workspace id (T…), never the org's E… id."""
    example = SPECS[WORKSPACE_APPROVERS].example
    _refuse_the_org(
        team_id,
        f"name the variable after a workspace id (T…) (for example {example}); INVITES_APPROVERS holds the approvers of "
        "every workspace",
    )
    if not _TEAM_ID.match(team_id):
        raise ValueError(f"{team_id!r} is not a workspace id (T…): name the variable after one (for example {example})")
    return team_id


class _WorkspaceApproversSource(PydanticBaseSettingsSource):
    """The INVITES_APPROVERS_T… variables of the environment: pydantic-settings reads declared fields only."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return {name: value for name, value in os.environ.items() if name.startswith(WORKSPACE_APPROVERS_PREFIX)}


def parse_duration(text: str) -> timedelta:
    """'4h', '30m', '1d12h', '90s' as a timedelta; raises ValueError on anything else."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact or len({u for _, u in parts}) != len(parts):
        raise ValueError(f"{text!r} is not a duration like 4h, 30m or 1d12h")
    return timedelta(**{_DURATION_UNITS[unit]: int(number) for number, unit in parts})


def _check_duration(value: object, name: str) -> object:
    if value is None or isinstance(value, timedelta):
        return value
    try:
        duration = parse_duration(str(value))
    except ValueError:
        raise ValueError(f"{str(value)!r} is not {SPECS[name].wanted()}") from None
    if duration < timedelta(minutes=1):
        raise ValueError(f"{str(value)!r} is shorter than a minute; write {SPECS[name].wanted()}")
    return duration


def _check_token(value: SecretStr, name: str, prefix: str) -> SecretStr:
    """Never echo a token: say what kind it looks like, from its public prefix, and what it must be."""
    token = value.get_secret_value()
    wanted = f"{SPECS[name].what}, which starts with {prefix}"
    if not token.strip():
        raise ValueError(f"it is empty; it must be {wanted}")
    if token != token.strip():
        raise ValueError("it has spaces or a line break around it; remove them")
    if not token.startswith(prefix):
        kind = next((f"{k} ({p}…)" for p, k in _TOKEN_KINDS.items() if token.startswith(p)), None)
        raise ValueError(f"it is {kind}, but it must be {wanted}" if kind else f"it does not start with {prefix}; it must be {wanted}")
    return value


def shown_database_url(url: str) -> str:
    """DATABASE_URL as it may be printed: with its password hidden, and nothing when it cannot be parsed."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return _NOT_A_URL
    return url if parsed.get_backend_name() == "sqlite" else parsed.render_as_string(hide_password=True)


class DatabaseSettings(BaseSettings):
    """What every command needs: where the database is."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATABASE_URL: str = Field(default_factory=default_database_url)
    # Connections a process keeps for its work (its health probe holds one more): replicas × (this + 1) must fit under
    # PostgreSQL's max_connections; work waits up to INVITES_DB_POOL_TIMEOUT seconds for a free one.
    INVITES_DB_POOL_SIZE: int = Field(default=10, ge=1, le=500)
    INVITES_DB_POOL_TIMEOUT: float = Field(default=10.0, ge=1, le=300)
    # PostgreSQL only: a server that does not let us in, a statement (or a lock it waits for) that runs long, and a
    # network that stops carrying packets each end in an error within these many seconds instead of hanging.
    INVITES_DB_CONNECT_TIMEOUT: int = Field(default=5, ge=2, le=300)
    INVITES_DB_STATEMENT_TIMEOUT: int = Field(default=10, ge=1, le=3600)
    INVITES_DB_NETWORK_TIMEOUT: int = Field(default=10, ge=1, le=3600)

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        wanted = SPECS["DATABASE_URL"].wanted()
        shown = shown_database_url(value)  # never the password
        if shown == _NOT_A_URL:
            raise ValueError(f"it cannot be read as a URL; write {wanted}")
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(f"{shown} is not {wanted}")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value


class Settings(DatabaseSettings):
    """Everything `serve` and `sync` need to talk to Slack."""

    SLACK_BOT_TOKEN: SecretStr
    SLACK_ADMIN_TOKEN: SecretStr
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = "https://slack.com/api/"
    # How long one Web API call may take before its answer counts as lost (a decision then reads Slack's lists).
    SLACK_API_TIMEOUT: int = Field(default=15, ge=1, le=120)
    INVITES_CHANNEL: str
    INVITES_APPROVERS: Annotated[list[str], NoDecode]
    # INVITES_APPROVERS_T…, by workspace id: that workspace's approvers, besides INVITES_APPROVERS (gathered below).
    INVITES_WORKSPACE_APPROVERS: dict[
        Annotated[str, AfterValidator(_approvers_workspace)], Annotated[list[str], NoDecode, BeforeValidator(_workspace_approvers)]
    ] = Field(default_factory=dict)
    # T…:C… pairs: where each workspace's cards go; a workspace without a route (or not known yet) uses INVITES_CHANNEL.
    INVITES_ROUTES: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    INVITES_TEAM_IDS: Annotated[list[str], NoDecode]
    INVITES_SYNC_INTERVAL: int = Field(default=300, ge=10, le=86400)
    INVITES_DENY_REASON_REQUIRED: bool = False
    # An approver may approve an invite they asked for themselves (a small org with one approver); off by default.
    INVITES_ALLOW_SELF_APPROVAL: bool = False
    INVITES_NOTIFY_REQUESTERS: bool = True
    # Slack's Tier 2 (admin.inviteRequests.*, admin.users.invite): about 20 a minute per workspace, shared by replicas.
    INVITES_ADMIN_CALLS_PER_MINUTE: int = Field(default=20, ge=1, le=60000)
    # chat.postMessage: about one message a second per channel; a little under it leaves room for others.
    INVITES_CARD_POSTS_PER_MINUTE: int = Field(default=50, ge=1, le=60000)
    # The longest one 429's Retry-After holds a call, and the pace of those behind it; a longer one is waited out in steps.
    INVITES_MAX_RETRY_AFTER: int = Field(default=60, ge=1, le=3600)
    # Rules that decide the obvious requests (or, in shadow mode, say what they would have done); read at start-up.
    INVITES_POLICY: Path | None = None
    # A pending request this old (from date_created) gets one reminder on its card, then one escalation.
    INVITES_REMIND_AFTER: timedelta | None = None
    INVITES_ESCALATE_AFTER: timedelta | None = None
    INVITES_ESCALATE_TO: str | None = Field(default=None, validate_default=True)
    # A sync finding more new requests than this in a workspace posts one digest card for them instead of a card each.
    INVITES_DIGEST_OVER: int = Field(default=50, ge=1)
    # `serve`'s open connections, in all and from one address (0: no per-address limit); see docs/operations.md.
    INVITES_HTTP_CONNECTIONS: int = Field(default=1000, ge=10, le=100000)
    INVITES_HTTP_CLIENT_CONNECTIONS: int = Field(default=100, ge=0, le=100000)
    # `serve` starts a worker process (`invitebot work`) beside its web process; false where workers run on their own.
    INVITES_SERVE_WORKER: bool = True
    # How often a worker looks at the outbox when nothing woke it (a new job wakes it at once; see docs/operations.md).
    INVITES_OUTBOX_POLL_SECONDS: float = Field(default=1.0, ge=0.05, le=300)

    @field_validator("INVITES_POLICY", mode="before")
    @classmethod
    def _policy(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("INVITES_REMIND_AFTER", mode="before")
    @classmethod
    def _remind_after(cls, value: object) -> object:
        return _check_duration(None if value == "" else value, "INVITES_REMIND_AFTER")

    @field_validator("INVITES_ESCALATE_AFTER", mode="before")
    @classmethod
    def _escalate_after(cls, value: object) -> object:
        return _check_duration(None if value == "" else value, "INVITES_ESCALATE_AFTER")

    @field_validator("INVITES_ESCALATE_TO", mode="before")
    @classmethod
    def _escalate_to(cls, value: object, info: ValidationInfo) -> object:
        """An escalation needs both when and where: one without the other would silently never happen."""
        after = info.data.get("INVITES_ESCALATE_AFTER")
        after_unset = "INVITES_ESCALATE_AFTER" in info.data and after is None  # absent from data: it failed on its own
        if value in (None, ""):
            if after is not None:
                raise ValueError("it is not set, but INVITES_ESCALATE_AFTER is: set both, or neither")
            return None
        if not isinstance(value, str) or not _ESCALATE_TO.match(value.strip()):
            raise ValueError(f"{value!r} is not {SPECS['INVITES_ESCALATE_TO'].wanted()}")
        if after_unset:
            raise ValueError("it is set, but INVITES_ESCALATE_AFTER is not: set both, or neither")
        return value.strip()

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "SLACK_BOT_TOKEN", "xoxb-")

    @field_validator("SLACK_ADMIN_TOKEN")
    @classmethod
    def _admin_token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "SLACK_ADMIN_TOKEN", "xoxp-")

    @field_validator("SLACK_SIGNING_SECRET")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError(f"it is empty; it must be {SPECS['SLACK_SIGNING_SECRET'].what}")
        return value

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _check_token(value, "SLACK_APP_TOKEN", "xapp-")

    def require(self, *names: str) -> None:
        """Settings that only some commands need (the signing secret for HTTP, the app token for Socket Mode)."""
        for name in names:
            if getattr(self, name) is None:
                raise ConfigError(SettingProblem(name, True, "").line)

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"{value!r} is not {SPECS['SLACK_API_URL'].wanted()}")
        return value if value.endswith("/") else value + "/"

    @field_validator("INVITES_CHANNEL")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            wanted = SPECS["INVITES_CHANNEL"].wanted()
            if value.startswith("#"):
                raise ValueError(f"{value!r} is a channel's name; write {wanted}")
            raise ValueError(f"{value!r} is not {wanted}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _WorkspaceApproversSource(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _gather_workspace_approvers(cls, data: Any) -> Any:
        """INVITES_APPROVERS_T0123=… (from the environment, or a keyword) becomes INVITES_WORKSPACE_APPROVERS["T0123"].

        The declared field given as a mapping (doctor's stand-in) is taken as the whole value.
        """
        if not isinstance(data, dict):
            return data
        data = dict(data)
        given = data.pop(WORKSPACE_APPROVERS, None)
        found = {
            name.removeprefix(WORKSPACE_APPROVERS_PREFIX): data.pop(name)
            for name in [key for key in data if isinstance(key, str) and key.startswith(WORKSPACE_APPROVERS_PREFIX)]
        }
        data[WORKSPACE_APPROVERS] = dict(given) if isinstance(given, dict) else found
        return data

    @field_validator("INVITES_APPROVERS", mode="before")
    @classmethod
    def _approvers(cls, value: object) -> object:
        return _check_approvers(value, "INVITES_APPROVERS")

    @field_validator("INVITES_ROUTES", mode="before")
    @classmethod
    def _routes(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return {}
        example = SPECS["INVITES_ROUTES"].example
        if isinstance(value, dict):
            pairs = [(str(team), str(channel)) for team, channel in value.items()]
        elif isinstance(value, str):
            pairs = []
            for entry in value.split(","):
                team, colon, channel = entry.strip().partition(":")
                if not colon:
                    raise ValueError(f"{entry.strip()!r} is not a workspace id, a colon and a channel id (for example {example})")
                pairs.append((team.strip(), channel.strip()))
        else:
            return value  # pydantic reports the wrong type
        routes: dict[str, str] = {}
        for team_id, channel in pairs:
            _refuse_the_org(
                team_id,
                f"route workspace ids (T…); requests of a workspace without a route go to INVITES_CHANNEL (for example {example})",
            )
            if not _TEAM_ID.match(team_id):
                raise ValueError(f"{team_id!r} is not a workspace id (T…) (for example {example})")
            if not _CHANNEL_ID.match(channel):
                named = " is a channel's name; write its id" if channel.startswith("#") else " is not a channel id (C…/G…)"
                raise ValueError(f"{channel!r}{named} (for example {example})")
            if team_id in routes:
                raise ValueError(f"{team_id} is listed twice: route each workspace to one channel (for example {example})")
            routes[team_id] = channel
        return routes

    @field_validator("INVITES_TEAM_IDS", mode="before")
    @classmethod
    def _teams(cls, value: object) -> object:
        ids = _split_ids(value)
        if isinstance(ids, list) and [i.lower() for i in ids] == [ALL_TEAMS]:
            return [ALL_TEAMS]
        for team_id in ids if isinstance(ids, list) else []:
            _refuse_the_org(team_id, f"list workspace ids (T…) or write 'all' (for example {SPECS['INVITES_TEAM_IDS'].example})")
        if isinstance(ids, list) and len(ids) > 1 and ALL_TEAMS in (i.lower() for i in ids):
            raise ValueError(
                f"'{ALL_TEAMS}' is not a workspace id: write '{ALL_TEAMS}' on its own, or only workspace ids (T…) "
                f"(for example {SPECS['INVITES_TEAM_IDS'].example})"
            )
        return _check_ids(ids, _TEAM_ID, "INVITES_TEAM_IDS", "a workspace id (T…)")

    @property
    def routes(self) -> Routes:
        """Where each request's card lives: INVITES_ROUTES, and INVITES_CHANNEL for every other request."""
        return Routes(self.INVITES_CHANNEL, dict(self.INVITES_ROUTES))

    def approvers_named_for(self, team_id: str | None) -> list[str]:
        """Whom a reminder on a request of `team_id` names: the workspace's own approvers, else INVITES_APPROVERS."""
        return list(self.INVITES_WORKSPACE_APPROVERS.get(team_id or "") or self.INVITES_APPROVERS)

    @property
    def all_teams(self) -> bool:
        """INVITES_TEAM_IDS=all: every workspace of the org, found with admin.teams.list."""
        return self.INVITES_TEAM_IDS == [ALL_TEAMS]


S = TypeVar("S", bound=DatabaseSettings)


def problems(kind: type[DatabaseSettings], **overrides: Any) -> list[SettingProblem]:
    """Every missing or malformed variable `kind` reads, in the order the settings are declared."""
    try:
        kind(**overrides)
    except ValidationError as exc:
        return _problems(exc)
    return []


def load(kind: type[S]) -> S:
    """Build settings, turning pydantic's report into one line naming the first bad variable (and how many more)."""
    try:
        return kind()
    except ValidationError as exc:
        found = _problems(exc)
    line = found[0].line
    if len(found) > 1:
        more = "1 more setting needs" if len(found) == 2 else f"{len(found) - 1} more settings need"
        line += f" ({more} fixing: `invitebot doctor` lists them all)"
    raise ConfigError(line) from None


def _problems(exc: ValidationError) -> list[SettingProblem]:
    found: dict[str, SettingProblem] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name == WORKSPACE_APPROVERS and len(error["loc"]) > 1:  # one workspace's variable: name it
            name = f"{WORKSPACE_APPROVERS_PREFIX}{error['loc'][1]}"
        if setting_of(name) not in SPECS or name in found:
            continue
        found[name] = SettingProblem(name, error["type"] == "missing", _detail(name, error))
    return list(found.values())


def _detail(name: str, error: ErrorDetails) -> str:
    """Our own validators already speak plainly; pydantic's type and range errors are reworded from the spec."""
    if error["type"] == "value_error":
        return str((error.get("ctx") or {}).get("error") or error["msg"])
    spec = spec_of(name)
    value = error.get("input")
    shown = "the value" if spec.secret or not isinstance(value, str) else repr(value)
    return f"{shown} is not {spec.wanted()}"
