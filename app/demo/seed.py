"""The demo org: two workspaces, approvers and requesters with real-looking names, channels, thirteen requests that
between them meet every rule of the demo's policy (app/demo/policy_file.py) and one that meets none."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app.sandbox import FakeSlack

NORTHWIND, GLOBEX = "T0NORTHWND", "T0GLOBEX01"
TEAMS = [(NORTHWIND, "Northwind Traders", "northwind"), (GLOBEX, "Globex Research", "globex")]
APPROVALS_CHANNEL = "C0APPROVAL"
APPROVER_GROUP = "S0INVAPPRV"
APPROVER_GROUP_HANDLE = "invite-approvers"
TOKEN_OWNER = "U0ORGADMIN"  # whose admin token invitebot holds
SLACK_ADMIN = "U0MARGHAMI"  # decides "in Slack's admin pages", outside invitebot

CHANNELS = [
    (APPROVALS_CHANNEL, "invite-approvals", NORTHWIND),
    ("C0NWGENERL", "general", NORTHWIND),
    ("C0NWENGINR", "engineering", NORTHWIND),
    ("C0NWDESIGN", "design", NORTHWIND),
    ("C0NWDOCS01", "docs", NORTHWIND),
    ("C0NWVENDAC", "vendor-acme", NORTHWIND),
    ("C0NWPARTNR", "partners", NORTHWIND),
    ("C0GXGENERL", "globex-general", GLOBEX),
    ("C0GXRFLAB1", "rf-lab", GLOBEX),
    ("C0GXFINANC", "finance-reports", GLOBEX),
    ("C0GXTRIAL1", "trial-project", GLOBEX),
]


@dataclass(frozen=True)
class Person:
    """Someone in the org, and what they may do with invitebot."""

    id: str
    name: str
    real_name: str
    team_id: str
    kind: str  # a word or two for the user picker
    role: str  # the sentence under it

    def as_json(self) -> dict[str, Any]:
        fields = ("id", "name", "real_name", "team_id", "kind", "role")
        return {name: getattr(self, name) for name in fields}


PEOPLE = [
    Person("U0GRACEHOP", "grace", "Grace Hopper", NORTHWIND, "approver", "approver (named in INVITES_APPROVERS)"),
    Person("U0KATHJOHN", "katherine", "Katherine Johnson", NORTHWIND, "group approver",
           "approver as a member of @invite-approvers"),
    Person("U0RADIAPER", "radia", "Radia Perlman", GLOBEX, "group approver",
           "approver as a member of @invite-approvers; also asked for invites, which another approver must approve"),
    Person("U0ALANTURI", "alan", "Alan Turing", NORTHWIND, "requester", "asked for invites; not an approver"),
    Person("U0BARBLISK", "barbara", "Barbara Liskov", NORTHWIND, "requester", "asked for invites; not an approver"),
    Person("U0DENNISRI", "dennis", "Dennis Ritchie", NORTHWIND, "requester", "asked for invites; not an approver"),
    Person("U0TIMBERNE", "tim", "Tim Berners-Lee", GLOBEX, "requester", "asked for invites; not an approver"),
    Person("U0KENTHOMP", "ken", "Ken Thompson", NORTHWIND, "member", "a member who asked for nothing; not an approver"),
    Person(SLACK_ADMIN, "margaret", "Margaret Hamilton", NORTHWIND, "Slack admin",
           "org admin in Slack's own admin pages; not an invitebot approver"),
]
GRACE, KATHERINE, RADIA, ALAN, BARBARA, DENNIS, TIM = (p.id for p in PEOPLE[:7])
APPROVERS_SETTING = f"{GRACE},{APPROVER_GROUP}"

HOSTILE_REASON = "<!channel> <https://evil.example|click here> free prizes"


@dataclass(frozen=True)
class RequestSeed:
    """One pending request: who is invited, as what, by whom, why, and how long ago."""

    team_id: str
    email: str
    real_name: str | None
    invite_type: str
    requester_ids: tuple[str, ...]
    channels: tuple[str, ...]
    reason: str | None
    hours_ago: float
    expires_in_days: int | None = None


REQUESTS = [
    RequestSeed(NORTHWIND, "ada.lovelace@northwind.example", "Ada Lovelace", "full_member", (ALAN,),
                ("general", "engineering"), "Ada joins the data platform team on Monday as a senior engineer.", 74),
    RequestSeed(NORTHWIND, "edsger.dijkstra@northwind.example", "Edsger Dijkstra", "full_member", (BARBARA,),
                ("general", "engineering"), "New hire in Platform, starting next week.\nHe will own the scheduling service.", 52),
    RequestSeed(NORTHWIND, "frances@allen-compilers.example", "Frances Allen", "restricted", (ALAN,),
                ("engineering", "design"), "Contractor from Allen Compilers Ltd, helping with the build pipeline for "
                "three months.", 49, 90),
    RequestSeed(NORTHWIND, "john.backus@acme-supplies.example", "John Backus", "ultra_restricted", (DENNIS,),
                ("vendor-acme",), "Our account manager at Acme Supplies; he only needs #vendor-acme.", 30, 30),
    RequestSeed(GLOBEX, "hedy.lamarr@globex.example", "Hedy Lamarr", "full_member", (TIM,),
                ("globex-general", "rf-lab"), "Joining the RF research group as a principal engineer.", 28),
    RequestSeed(GLOBEX, "c.shannon@bell-labs.example", "Claude Shannon", "restricted", (TIM, RADIA),
                ("rf-lab",), "Visiting researcher: a six-week collaboration on channel coding.", 26, 45),
    RequestSeed(NORTHWIND, "winner@prizes.example", "Prize Desk", "full_member", (DENNIS,),
                ("general",), HOSTILE_REASON, 20),
    RequestSeed(NORTHWIND, "don.knuth@northwind.example", "Donald Knuth", "full_member", (BARBARA, ALAN),
                ("general", "docs"), "Technical writer for R&D docs.\nBudget approved by Finance (ticket FIN-2231).", 18),
    RequestSeed(GLOBEX, "joan.clarke@audit-partners.example", "Joan Clarke", "restricted", (TIM,),
                ("finance-reports",), "External auditor for the Q4 review; needs read access until the quarter ends.", 12, 60),
    RequestSeed(GLOBEX, "guido@python.example", "Guido van Rossum", "ultra_restricted", (RADIA,),
                ("trial-project",), "Interview candidate doing a paid trial project. _One channel only_, please.", 8, 14),
    RequestSeed(NORTHWIND, "charles.babbage.1791@gmail.com", "Charles Babbage", "full_member", (DENNIS,),
                ("general",), "An old friend of the team; he wants to help with the engine documentation.", 6),
    RequestSeed(NORTHWIND, "sophie.wilson@northwind.example", "Sophie Wilson", "full_member", (ALAN,),
                ("general", "design"), "Returning after a career break; HR approved the rehire. She will lead the design "
                "system.", 3),
    RequestSeed(NORTHWIND, "vint@partner-net.example", None, "restricted", (DENNIS,), ("partners",), None, 1, 30),
]


def channel_id(name: str) -> str:
    return next(cid for cid, cname, _ in CHANNELS if cname == name)


def seed_org(fake: FakeSlack) -> None:
    """Workspaces, channels, people and the approver group (no requests yet)."""
    for team_id, name, domain in TEAMS:
        fake.add_team(team_id, name, domain)
    for cid, name, team_id in CHANNELS:
        fake.add_channel(cid, name=name, team_id=team_id)
    fake.add_user(TOKEN_OWNER, name="org-admin", team_id=NORTHWIND, real_name="Org Admin (invitebot's admin token)")
    for person in PEOPLE:
        fake.add_user(person.id, name=person.name, team_id=person.team_id, real_name=person.real_name)
    fake.add_usergroup(APPROVER_GROUP, team_id=NORTHWIND, handle=APPROVER_GROUP_HANDLE, user_ids=[KATHERINE, RADIA])


def request_fields(seed: RequestSeed, now: float | None = None) -> dict[str, Any]:
    """Keyword arguments for FakeSlack.add_invite_request."""
    now = time.time() if now is None else now
    return {
        "team_id": seed.team_id,
        "email": seed.email,
        "real_name": seed.real_name,
        "invite_type": seed.invite_type,
        "requester_ids": list(seed.requester_ids),
        "channel_ids": [channel_id(name) for name in seed.channels],
        "request_reason": seed.reason,
        "date_created": int(now - seed.hours_ago * 3600),
        "date_expire": int(now + seed.expires_in_days * 86400) if seed.expires_in_days else None,
    }
