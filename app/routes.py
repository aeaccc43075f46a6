"""Where a request's card lives: its workspace's own approvals channel (INVITES_ROUTES), else INVITES_CHANNEL.

A request whose workspace is not known yet goes to the fallback channel; once its workspace is known (sync finds it),
its card is posted in that workspace's channel too, and every copy is kept up to date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Routes:
    """INVITES_CHANNEL (`default`) and INVITES_ROUTES (`by_team`: workspace id -> channel id)."""

    default: str
    by_team: Mapping[str, str] = field(default_factory=dict)

    def channel_for(self, team_id: str | None) -> str:
        """The approvals channel of a request made in `team_id` (None: its workspace is not known yet)."""
        return self.by_team.get(team_id or "", self.default)

    def channels(self) -> list[str]:
        """Every approvals channel, each once: the fallback first, then the routed ones in the order they were written."""
        return list(dict.fromkeys([self.default, *self.by_team.values()]))

    def routed(self, channel: str) -> list[str]:
        """The workspaces whose cards go to `channel` by a route (the fallback's own workspaces are not listed)."""
        return [team_id for team_id, routed in self.by_team.items() if routed == channel]

    def setting_of(self, channel: str) -> str:
        """The setting that names `channel`, as on-call would find it: INVITES_CHANNEL=C…, or the INVITES_ROUTES entry
        T…:C…; just the channel's id when no setting names it any more."""
        if channel == self.default:
            return f"INVITES_CHANNEL={channel}"
        routed = self.routed(channel)
        return f"the INVITES_ROUTES entry {routed[0]}:{channel}" if routed else channel
