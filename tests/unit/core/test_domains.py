"""Email domains compared in their ASCII (A-label) form after UTS-46 mapping: look-alikes read as the domain they imitate
but are never plain, malformed domains match nothing, and "*." takes subdomains only."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.core import domains
from app.core.domains import Domain

LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True).filter(lambda label: label[2:4] != "--")
NAME = st.lists(LABEL, min_size=2, max_size=4).map(".".join)  # a plain ASCII domain like mail.example.com
# Characters UTS-46 maps onto ASCII ones: the fullwidth forms of letters and digits.
FULLWIDTH = {c: chr(ord(c) - 0x21 + 0xFF01) for c in string.ascii_lowercase + string.digits}
DOTS = ("\u3002", "\uff0e", "\uff61")  # ideographic, fullwidth and halfwidth ideographic full stops


def read_email(email: str) -> Domain:
    return domains.of_email(email)


# -- the cases that were let through ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "ascii"),
    [
        ("ada@\u212apmg.com", "kpmg.com"),  # KELVIN SIGN lower-cases to "k"
        ("ada@\uff47mail.com", "gmail.com"),  # fullwidth g
        ("ada@gmail\u3002com", "gmail.com"),  # ideographic full stop
        ("ada@gmail.com\u200b", "gmail.com"),  # a zero-width space UTS-46 drops
        ("ada@\u00adgmail.com", "gmail.com"),  # a soft hyphen UTS-46 drops
        ("ada@B\u00dcCHER.de", "xn--bcher-kva.de"),  # non-ASCII upper case
        ("ada@bu\u0308cher.de", "xn--bcher-kva.de"),  # decomposed ü
    ],
)
def test_a_look_alike_reads_as_the_domain_it_imitates_but_is_not_plain(email, ascii):
    domain = read_email(email)

    assert (domain.ascii, domain.plain) == (ascii, False)


@pytest.mark.parametrize(
    ("email", "ascii"),
    [
        ("ada@kpmg.com", "kpmg.com"),
        ("ada@KPMG.Com", "kpmg.com"),  # ASCII case is read the same everywhere
        ("ada@b\u00fccher.de", "xn--bcher-kva.de"),  # an internationalised domain typed in its own (U-label) form
        ("ada@xn--bcher-kva.de", "xn--bcher-kva.de"),  # … or in its A-label form
        ("ada@XN--BCHER-KVA.de", "xn--bcher-kva.de"),
        ('"a@b"@example.com', "example.com"),  # the domain is after the last @
    ],
)
def test_a_domain_typed_as_it_reads_is_plain(email, ascii):
    domain = read_email(email)

    assert (domain.ascii, domain.plain) == (ascii, True)


@pytest.mark.parametrize(
    "email",
    [
        "ada@..example.com",
        "ada@.example.com",
        "ada@example..com",
        "ada@example.com.",  # the root's dot has no place in an address
        "ada@",
        "ada",
        "ada@exa mple.com",
        "ada@a_b.com",
        "ada@-example.com",
        "ada@ab--cd.com",
        "ada@xn--a.com",  # an A-label that decodes to nothing valid
        "ada@xn--ls8h.la",  # an A-label of a character IDNA 2008 refuses
        "ada@[192.0.2.1]",
        f"ada@{'a' * 64}.com",
        "ada@" + ".".join(["a" * 60] * 5),  # over 253 characters
    ],
)
def test_a_malformed_domain_matches_nothing(email):
    domain = read_email(email)

    assert domain.malformed and domain.ascii is None and not domain.plain
    assert not domains.matches("example.com", domain) and not domains.matches("*.example.com", domain)


@pytest.mark.parametrize(
    ("pattern", "email", "matches"),
    [
        ("example.com", "ada@example.com", True),
        ("example.com", "ada@EXAMPLE.com", True),
        ("EXAMPLE.COM", "ada@example.com", True),
        ("example.com", "ada@mail.example.com", False),
        ("example.com", "ada@notexample.com", False),
        ("*.example.com", "ada@mail.example.com", True),
        ("*.example.com", "ada@a.b.example.com", True),
        ("*.example.com", "ada@Mail.Example.Com", True),
        ("*.example.com", "ada@example.com", False),
        ("*.example.com", "ada@badexample.com", False),
        ("*.example.com", "ada@example.com.evil.org", False),
        ("*.example.com", "ada@..example.com", False),
        ("*.example.com", "ada@.example.com", False),
        ("gmail.com", "ada@\uff47mail.com", True),
        ("gmail.com", "ada@gmail\u3002com", True),
        ("kpmg.com", "ada@\u212apmg.com", True),
        ("b\u00fccher.de", "ada@xn--bcher-kva.de", True),
        ("*.b\u00fccher.de", "ada@shop.b\u00fccher.de", True),
    ],
)
def test_patterns(pattern, email, matches):
    wanted = domains.pattern(pattern)

    assert wanted is not None
    assert domains.matches(wanted, read_email(email)) is matches


@pytest.mark.parametrize("text", ["com", "*.com", "*", "", "..example.com", "example.com.", "a b.com", "*.*.example.com"])
def test_what_is_no_pattern(text):
    assert domains.pattern(text) is None


def test_a_look_alike_is_shown_with_its_characters_spelled_out():
    assert domains.shown(read_email("ada@\u212apmg.com")) == "\\u212apmg.com"
    assert domains.shown(read_email("ada@Example.com")) == "example.com"
    assert domains.shown(read_email("ada@")) == "(none)"


# -- properties ---------------------------------------------------------------------------------------------------------


TRICKY = string.ascii_letters + string.digits + ".-_@ " + "\u212a\uff47\u3002\u00df\u00fc\u0308\u200b\u00ad\u0130"
ADDRESS = st.text(max_size=80) | st.builds(
    "{}@{}".format, st.text(max_size=8), st.text(max_size=40) | st.text(TRICKY, max_size=40) | NAME
)


@given(ADDRESS)
def test_any_address_reads_without_raising_and_its_form_is_ascii_and_stable(text):
    domain = read_email(text)

    if domain.ascii is not None:
        assert domain.ascii.isascii() and domain.ascii == domain.ascii.lower()
        assert "" not in domain.ascii.split(".") and len(domain.ascii) <= 253
        again = domains.read(domain.ascii)
        assert (again.ascii, again.plain) == (domain.ascii, True)  # the A-label form is itself, and plain
    else:
        assert not domain.plain


@given(NAME)
def test_a_plain_ascii_domain_reads_as_itself_in_any_ascii_case(name):
    for typed in (name, name.upper(), name.title()):
        assert domains.read(typed) == Domain(typed, name, plain=True)


@given(NAME, st.data())
def test_mapped_characters_read_as_the_ascii_domain_but_are_never_plain(name, data):
    positions = [i for i, c in enumerate(name) if c in FULLWIDTH or c == "."]
    chosen = data.draw(st.sets(st.sampled_from(positions), min_size=1))
    typed = "".join(
        (data.draw(st.sampled_from(DOTS)) if c == "." else FULLWIDTH[c]) if i in chosen else c for i, c in enumerate(name)
    )

    domain = domains.read(typed)

    assert domain.ascii == name and not domain.plain
    assert domains.matches(name, domain)


@given(NAME, NAME)
def test_a_wildcard_takes_subdomains_only(base, other):
    wanted = domains.pattern(f"*.{base}")
    assert wanted == f"*.{base}"

    assert not domains.matches(wanted, domains.read(base))
    assert domains.matches(wanted, domains.read(f"{other}.{base}"))
    for empty in (f".{base}", f"..{base}", f"{other}..{base}"):
        assert not domains.matches(wanted, domains.read(empty))
    assume(not other.endswith(f".{base}") and other != base)
    assert not domains.matches(wanted, domains.read(other))
    assert not domains.matches(wanted, domains.read(f"{other}{base}"))  # no dot before it: another domain


@given(NAME, NAME)
def test_an_exact_pattern_takes_that_domain_only(base, other):
    assume(other != base)

    assert domains.matches(base, domains.read(base))
    assert not domains.matches(base, domains.read(other))
    assert not domains.matches(base, domains.read(f"{other}.{base}"))
