"""Build the Bolt app: signature checks, acks and routing are Bolt's; listeners are ours."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from app.runtime import Runtime
from app.slack.listeners import actions, commands, events, home, views


def build_app(runtime: Runtime) -> App:
    settings = runtime.settings
    secret = settings.SLACK_SIGNING_SECRET
    app = App(
        client=WebClient(token=settings.SLACK_BOT_TOKEN.get_secret_value(), base_url=settings.SLACK_API_URL),
        # Over HTTP every request is verified; Socket Mode has no signatures (the connection is authenticated).
        signing_secret=secret.get_secret_value() if secret else "",
        request_verification_enabled=secret is not None,
        token_verification_enabled=False,
        process_before_response=False,
        listener_executor=runtime.listeners,
    )
    for listeners in (events, actions, commands, views, home):
        listeners.register(app, runtime)
    return app
