"""Who may decide: listed users, and members of listed user groups."""

from __future__ import annotations

import logging

from app.slack.gateway import SlackCallFailed, SlackGateway

log = logging.getLogger(__name__)


class Approvers:
    """INVITES_APPROVERS: user ids (U…/W…) allowed directly, user-group ids (S…) resolved through Slack."""

    def __init__(self, ids: list[str], gateway: SlackGateway) -> None:
        self._users = frozenset(i for i in ids if not i.startswith("S"))
        self._groups = tuple(i for i in ids if i.startswith("S"))
        self._gateway = gateway

    def allows(self, user_id: str) -> bool:
        if user_id in self._users:
            return True
        for group in self._groups:
            try:
                if user_id in self._gateway.usergroup_members(group):
                    return True
            except SlackCallFailed as exc:
                log.warning("could not read user group %s: %s", group, exc.code)
        return False
