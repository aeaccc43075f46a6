"""Every sentence a person reads about a decision, and the Block Kit of /invites answers, as one package."""

from app.slack.ui.replies.bulk import *  # noqa: F403
from app.slack.ui.replies.bulk import _sections  # noqa: F401
