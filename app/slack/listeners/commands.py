"""The /invites slash command."""

from __future__ import annotations

from slack_bolt import App

from app.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    """Filled in with the /invites subcommands."""
