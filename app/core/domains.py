"""Email domains read as DNS reads them (UTS-46, IDNA 2008) and compared in one form, their ASCII (A-label) form.

A domain can be typed in a form that looks like another and is mapped to it: KELVIN SIGN is read as "k", fullwidth
letters as their ASCII selves, an ideographic full stop as ".". Such a domain is the mapped one for a deny (it catches
every form that reads as the denied domain), but it is not `plain`: it was not typed as it is read, and whatever handles
the address next (a mail server, Slack, a sign-in provider) may read it otherwise, so callers approve only plain ones.
A domain IDNA refuses (an empty label, a space, a trailing dot, a broken A-label) is malformed and matches nothing.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

import idna

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(frozen=True)
class Domain:
    """A domain as typed, its A-label form (None: malformed), and whether it was typed as it is read."""

    typed: str
    ascii: str | None
    plain: bool = False

    @property
    def malformed(self) -> bool:
        return self.ascii is None


def of_email(email: str) -> Domain:
    """The domain after an address's last "@"; an address without one has a malformed (empty) domain."""
    if "@" not in email:
        return Domain("", None)
    return read(email.rsplit("@", 1)[1])


@functools.lru_cache(maxsize=4096)
def read(typed: str) -> Domain:
    """UTS-46 maps the domain and IDNA 2008 checks it; plain when mapping changed nothing but ASCII letter case."""
    try:
        mapped = idna.uts46_remap(typed, std3_rules=True, transitional=False)
        ascii_form = idna.encode(mapped, std3_rules=True).decode("ascii")
        idna.decode(ascii_form)  # an A-label as typed (xn--…) must decode to a valid U-label
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return Domain(typed, None)
    if ascii_form.endswith("."):
        return Domain(typed, None)  # the root's dot has no place in an address
    return Domain(typed, ascii_form, plain=mapped == typed.translate(_ASCII_LOWER))


def pattern(text: str) -> str | None:
    """A rule's or a filter's domain, "example.com" (exactly) or "*.example.com" (any subdomain), in A-label form;
    None when it is not a domain of at least two labels."""
    wildcard = text.startswith("*.")
    base = read(text[2:] if wildcard else text).ascii
    if base is None or "." not in base:
        return None
    return f"*.{base}" if wildcard else base


def matches(wanted: str, domain: Domain) -> bool:
    """`wanted` (as pattern() gives it) holds for the domain: the same, or any subdomain for "*."; a malformed one, never."""
    if domain.ascii is None:
        return False
    if wanted.startswith("*."):
        return domain.ascii.endswith(wanted[1:])  # its labels are never empty, so "example.com" and "..example.com" miss
    return domain.ascii == wanted


def shown(domain: Domain) -> str:
    """The domain as a person should read it: its A-label form, or as typed (escaped) when it is malformed or a look-alike."""
    if domain.ascii is not None and domain.plain:
        return domain.ascii
    return domain.typed.encode("ascii", "backslashreplace").decode("ascii") or "(none)"
