"""`invitebot policy check FILE` and `invitebot policy test --email …`: a policy file, tried without Slack or a database.

`check` says whether the file can be used (every problem as `file:line: what`, exit 2); `test` says which rule a request
would match first, why each rule before it did not, and what that would mean in the file's mode. Only INVITES_POLICY is
read from the environment, so neither needs Slack tokens. User-group membership cannot be looked up offline: a group
a rule names does not match unless `--requester S…` says the requester is in it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core import domains, policy
from app.core.policy import Facts, Mode, Policy, PolicyError, Rule, Then

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class PolicySettings(BaseSettings):
    """The one setting `invitebot policy` reads (the same variable, and the same blank-means-unset, as Settings)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    INVITES_POLICY: Path | None = None

    @field_validator("INVITES_POLICY", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("policy", help="check a policy file (INVITES_POLICY), or try a request against it")
    actions = parser.add_subparsers(dest="policy_command", required=True)
    check = actions.add_parser("check", help="check a policy file: OK with its rules and digest, or every problem with its line")
    check.add_argument("file", type=Path, metavar="FILE")
    test = actions.add_parser("test", help="which rule a request would match first, and what it would do in the file's mode")
    test.add_argument("--email", required=True, help="the address invited, such as ada@example.com")
    test.add_argument("--type", default="full_member", choices=policy.INVITE_TYPES, help="the invite type (default full_member)")
    test.add_argument("--team", help="the workspace id (T…) the request is for")
    test.add_argument(
        "--requester",
        action="append",
        default=[],
        metavar="ID",
        help="a requester's user id (U…/W…); repeat for several. A user-group id (S…) counts the requesters as in that "
        "group, since membership cannot be looked up offline",
    )
    test.add_argument("--reason", help="the requester's reason, if they gave one")
    test.add_argument("--channel", action="append", default=[], metavar="ID", help="a channel id (C…/G…) asked for; repeat for several")
    test.add_argument("--file", type=Path, metavar="FILE", help="the policy file (default: INVITES_POLICY)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the file can be used (whether or not a rule matches), 2 when it cannot or the arguments are wrong."""
    if args.policy_command == "check":
        return _check(args.file)
    return _test(args)


def _load(path: Path) -> Policy | None:
    """The policy, or None once every problem is printed on stderr."""
    try:
        return policy.load(path)
    except PolicyError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return None


def _check(path: Path) -> int:
    loaded = _load(path)
    if loaded is None:
        return 2
    print(f"{path}: OK — {loaded.summary()}")
    return 0


def _test(args: argparse.Namespace) -> int:
    path = args.file or PolicySettings().INVITES_POLICY
    if path is None:
        return _usage("no policy file: give --file FILE, or set INVITES_POLICY")
    if not _EMAIL.match(args.email):
        return _usage(f"--email {args.email!r} is not an address like ada@example.com")
    if args.team is not None and not policy.TEAM_ID.match(args.team):
        return _usage(f"--team {args.team!r} is not a workspace id (T…)")
    bad = [value for value in args.requester if not policy.REQUESTER_ID.match(value)]
    if bad:
        return _usage(f"--requester {bad[0]!r} is not a user id (U…/W…) or user-group id (S…)")
    bad = [value for value in args.channel if not policy.CHANNEL_ID.match(value)]
    if bad:
        return _usage(f"--channel {bad[0]!r} is not a channel id (C…/G…)")
    users = tuple(value for value in args.requester if not value.startswith("S"))
    groups = frozenset(value for value in args.requester if value.startswith("S"))
    if groups and not users:
        return _usage("--requester S… says the requester is in that group: give the requester's user id (U…/W…) too")
    loaded = _load(path)
    if loaded is None:
        return 2
    facts = Facts(
        email=args.email,
        invite_type=args.type,
        team_id=args.team,
        requester_ids=users,
        reason=args.reason,
        channel_ids=tuple(args.channel),
    )
    for line in _explain(loaded, facts, groups):
        print(line)
    return 0


def _explain(loaded: Policy, facts: Facts, groups: frozenset[str]) -> list[str]:
    """Each rule in order up to the one that fires: why it did not match, then what the first match would do."""
    if facts.domain.malformed:
        return [f"the address's domain {domains.shown(facts.domain)} is malformed: no rule applies, a person decides"]
    lines: list[str] = []
    for rule in loaded.rules:
        unchecked: list[str] = []

        def member_of(group: str, _user: str) -> bool:
            if group in groups:
                return True
            if group not in unchecked:
                unchecked.append(group)
            return False

        explained = policy.explain(rule, facts, member_of)
        if explained.matches:
            return [*lines, *_fires(loaded.mode, rule, explained.held)]
        if not explained.missed:  # it might match: no rule after it may decide in its place
            why = "; ".join(explained.unchecked)
            held = f"rule {rule.name} (line {rule.line}) cannot be checked: {why}"
            return [*lines, held, "held for a person: no later rule decides"]
        note = "".join(f" (group {group} not checked offline)" for group in unchecked)
        lines.append(f"rule {rule.name} (line {rule.line}) does not match: {'; '.join(explained.missed)}{note}")
    lines.append("no rule matches: a person decides")
    return lines


def _fires(mode: Mode, rule: Rule, why: tuple[str, ...]) -> list[str]:
    lines = [f"rule {rule.name} (line {rule.line}) would {_action(rule)}: {', '.join(why)}"]
    if rule.then is Then.DENY:
        lines.append(f"  with the reason: {rule.reason}")
    if mode is Mode.SHADOW:
        lines.append("mode shadow: a person still decides")
    elif rule.then is Then.APPROVE:
        lines.append("mode enforce: invitebot approves it at once")
    elif rule.then is Then.DENY:
        lines.append("mode enforce: invitebot denies it at once, with the rule's reason")
    else:
        lines.append(f"mode enforce: it is approved once {rule.count} different approvers approve (one deny still denies it)")
    return lines


def _action(rule: Rule) -> str:
    return f"require {rule.verdict}" if rule.then is Then.REQUIRE_APPROVALS else rule.then.value


def _usage(message: str) -> int:
    print(f"invitebot policy: {message}", file=sys.stderr)
    return 2
