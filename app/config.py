"""Configuration from the environment, validated once at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_URL = f"sqlite:///{Path.cwd() / 'invitebot.db'}"

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
# A user (U… local or W… org-wide id), or a user group (S…), optionally with the workspace it lives in (S…@T…).
_APPROVER_ID = re.compile(r"^(?:[UW][A-Z0-9]{2,}|S[A-Z0-9]{2,}(?:@T[A-Z0-9]{2,})?)$")
_TEAM_ID = re.compile(r"^T[A-Z0-9]{2,}$")
ALL_TEAMS = "all"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def _split_ids(value: object) -> object:
    """Accept 'A,B, C' from the environment as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_ids(values: list[str], pattern: re.Pattern[str], what: str) -> list[str]:
    if not values:
        raise ValueError(f"needs at least one {what}")
    for value in values:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not a {what}")
    return values


def _check_token(value: SecretStr, prefix: str) -> SecretStr:
    if not value.get_secret_value().startswith(prefix):
        raise ValueError(f"must start with {prefix}")
    return value


class DatabaseSettings(BaseSettings):
    """What every command needs: where the database is."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    DATABASE_URL: str = DEFAULT_DATABASE_URL

    @field_validator("DATABASE_URL")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
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
    INVITES_CHANNEL: str
    INVITES_APPROVERS: Annotated[list[str], NoDecode]
    INVITES_TEAM_IDS: Annotated[list[str], NoDecode]
    INVITES_SYNC_INTERVAL: int = Field(default=300, ge=10, le=86400)
    INVITES_DENY_REASON_REQUIRED: bool = False
    INVITES_NOTIFY_REQUESTERS: bool = True

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "xoxb-")

    @field_validator("SLACK_ADMIN_TOKEN")
    @classmethod
    def _admin_token(cls, value: SecretStr) -> SecretStr:
        return _check_token(value, "xoxp-")

    @field_validator("SLACK_SIGNING_SECRET")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return None if value is None else _check_token(value, "xapp-")

    def require(self, *names: str) -> None:
        """Settings that only some commands need (the signing secret for HTTP, the app token for Socket Mode)."""
        for name in names:
            if getattr(self, name) is None:
                raise ConfigError(f"{name} is not set")

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("INVITES_CHANNEL")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL_ID.match(value):
            raise ValueError(f"{value!r} is not a channel id (C… or G…)")
        return value

    @field_validator("INVITES_APPROVERS", mode="before")
    @classmethod
    def _approvers(cls, value: object) -> object:
        return _check_ids(_split_ids(value), _APPROVER_ID, "user id (U…/W…) or user-group id (S…, or S…@T… naming its workspace)")

    @field_validator("INVITES_TEAM_IDS", mode="before")
    @classmethod
    def _teams(cls, value: object) -> object:
        ids = _split_ids(value)
        if isinstance(ids, list) and [i.lower() for i in ids] == [ALL_TEAMS]:
            return [ALL_TEAMS]
        for team_id in ids if isinstance(ids, list) else []:
            if team_id.startswith("E"):
                raise ValueError(f"{team_id!r} is the Enterprise org, not a workspace: list workspace ids (T…) or write 'all'")
        return _check_ids(ids, _TEAM_ID, "workspace id (T…), or the single word 'all'")

    @property
    def all_teams(self) -> bool:
        """INVITES_TEAM_IDS=all: every workspace of the org, found with admin.teams.list."""
        return self.INVITES_TEAM_IDS == [ALL_TEAMS]


S = TypeVar("S", bound=DatabaseSettings)


def load(kind: type[S]) -> S:
    """Build settings, turning pydantic's report into one line naming the first bad variable."""
    try:
        return kind()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "configuration"
        if error["type"] == "missing":
            raise ConfigError(f"{name} is not set") from None
        raise ConfigError(f"{name} is invalid: {error['msg'].removeprefix('Value error, ')}") from None
