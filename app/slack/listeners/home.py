"""App Home: published on app_home_opened and after decisions."""

from __future__ import annotations

from slack_bolt import App

from app.runtime import Runtime


def register(app: App, runtime: Runtime) -> None:
    """Replaced by the App Home listeners."""
