"""Policy rules (INVITES_POLICY), as one package."""

from app.core.policy.loader import *  # noqa: F403
