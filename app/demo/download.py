"""A file shared in Slack as the demo page downloads it: the headers that name it and say what it is."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str) -> str:
    """An attachment named `filename` exactly (filename*, RFC 8187), with a plain ASCII stand-in for older clients."""
    ascii_name = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
