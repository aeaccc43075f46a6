"""Requester text reaches a block harmless: it pings nobody, links nowhere, hides nothing and cannot break the message,
whatever it holds."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from app.slack.ui import blocks
from tests.support.block_checks import assert_no_token_cut
from tests.support.rows import request_row

# Text as hostile as a requester can make it: Slack's control sequences, entities, controls, bidi overrides.
HOSTILE = st.lists(
    st.sampled_from(["<!channel>", "<!here>", "<@U0ADMIN01>", "<https://evil.example|click>", "&amp;", "&", "<", ">", "\u202e",
                     "\u2066", "\x00", "\x1b", "\n", "\r\n", "\t", "*", "_", "~", "`", "\u200d", "\u00a0"])
    | st.text(max_size=6),
    max_size=30,
).map("".join)


def test_mrkdwn_control_characters_become_entities():
    assert blocks.escape("<!channel> & <@U0ADMIN01>") == "&lt;!channel&gt; &amp; &lt;@U0ADMIN01&gt;"
    assert blocks.escape("&lt;") == "&amp;lt;"  # typed as text, shown as typed


def test_controls_and_bidi_overrides_go_and_emoji_sequences_stay():
    assert blocks.clean("ada\u202e\u2066lovelace\x00\x1b") == "adalovelace"
    assert blocks.clean("\U0001F469\u200d\U0001F52C") == "\U0001F469\u200d\U0001F52C"
    assert blocks.clean("one\ttwo\u00a0three\u2028four") == "one two three four"
    assert blocks.clean("a\r\nb", lines=True) == "a\nb" and blocks.clean("a\r\nb") == "a b"


def test_a_name_is_one_line_and_adds_no_formatting_of_its_own():
    request = request_row(real_name="*Ada*\n_Lovelace_ ~`<!here>`~", email="ada@example.com")

    assert blocks.who(request) == "*Ada Lovelace &lt;!here&gt;* (ada@example.com)"
    assert blocks.who(request_row(real_name="  ", email="<b>@x.io")) == "*&lt;b&gt;@x.io*"


@given(HOSTILE)
def test_escaped_text_pings_nobody_and_links_nowhere(text):
    escaped = blocks.escape(text)

    assert "<" not in escaped and ">" not in escaped
    assert not re.search(r"&(?!amp;|lt;|gt;)", escaped)
    assert all(char in "\n\u200d" or unicodedata.category(char) not in ("Cc", "Cf", "Cs") for char in escaped)


@given(HOSTILE, st.integers(min_value=2, max_value=200))
def test_shortened_text_fits_and_cuts_no_token_in_half(text, limit):
    shown = blocks.safe(text, limit)

    assert len(shown) <= limit and "\n" not in shown
    assert_no_token_cut({"text": shown})
    assert shown == blocks.escape(blocks.clean(text)) or shown.endswith("…")
