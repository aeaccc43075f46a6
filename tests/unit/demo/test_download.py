"""The Content-Disposition a shared file downloads with: any name survives it exactly, and nothing in a name can break
the header or add another one."""

from __future__ import annotations

import re
from email.message import Message
from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from app.demo.download import content_disposition

ATTR_CHAR = re.compile(r"[A-Za-z0-9!#$&+\-.^_`|~%]*")  # RFC 8187 attr-char, plus the %XX escapes


def test_a_plain_name_reads_the_same_in_both_forms() -> None:
    header = content_disposition("invitebot-audit-2026-11-07-to-2026-12-07.csv")
    assert header == (
        'attachment; filename="invitebot-audit-2026-11-07-to-2026-12-07.csv"; '
        "filename*=UTF-8''invitebot-audit-2026-11-07-to-2026-12-07.csv"
    )


@given(st.text(max_size=80))
def test_any_name_comes_back_exactly_from_filename_star_and_the_header_stays_one_line_of_ascii(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and header.isprintable()  # no CR, LF or other control character: no second header
    plain, _, starred = header.removeprefix('attachment; filename="').partition("\"; filename*=UTF-8''")
    assert '"' not in plain and "\\" not in plain and len(plain) == len(name)
    assert ATTR_CHAR.fullmatch(starred) and unquote(starred, errors="strict") == name
    message = Message()
    message["Content-Disposition"] = header
    assert message.get_content_disposition() == "attachment"
    assert message.get_filename() == plain.strip()  # the parser trims the quoted form
