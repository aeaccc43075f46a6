"""The demo's policy file (INVITES_POLICY): one rule of each kind, written into the demo's folder in shadow mode."""

from __future__ import annotations

import re
from pathlib import Path

FILE_NAME = "policy.yml"
MODES = ("shadow", "enforce")
STARTING_MODE = "shadow"  # the mode POLICY says
_MODE_LINE = re.compile(r"^mode:[^\n]*$", re.MULTILINE)

# The seeded requests meet every rule: staff addresses as full members, a personal address, guests, and the
# "Prize Desk" request, which no rule matches.
POLICY = """\
# invitebot's policy for the demo org. The demo's "Policy" switch rewrites the mode and restarts invitebot.
mode: shadow
rules:
  - name: employees
    when: {email_domain: [northwind.example, globex.example], invite_type: [full_member]}
    then: approve
  - name: personal-mail
    when: {email_domain: [gmail.com, outlook.com]}
    then: deny
    reason: "Personal addresses cannot join; please ask for a work address."
  - name: guests
    when: {invite_type: [restricted, ultra_restricted]}
    then: require_approvals
    count: 2
"""


def write(folder: Path) -> Path:
    """The policy file in `folder`, as the demo starts (shadow mode)."""
    path = folder / FILE_NAME
    path.write_text(POLICY, encoding="utf-8")
    return path


def set_mode(path: Path, mode: str) -> None:
    """Rewrite the file's mode line, keeping the rest of the file as it is (someone may have edited its rules)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    text = path.read_text(encoding="utf-8")
    text = _MODE_LINE.sub(f"mode: {mode}", text, count=1) if _MODE_LINE.search(text) else f"mode: {mode}\n{text}"
    path.write_text(text, encoding="utf-8")
