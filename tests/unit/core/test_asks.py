"""An ask survives its trip through the outbox's JSON payload exactly: the worker decides what the clicker asked."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from app.core.asks import Ask
from app.store.models import Action, Source

text = st.text(max_size=40)
asks = st.builds(
    Ask,
    request_id=text,
    action=st.sampled_from(list(Action)),
    actor_id=text,
    source=st.sampled_from(list(Source)),
    reply_to=st.dictionaries(st.sampled_from(["surface", "channel", "user", "url"]), text),
    actor_team=st.none() | text,
    reason=st.none() | st.text(max_size=500),
    channel=st.none() | text,
    clicked=st.none() | st.tuples(text, text),
    log_request_id=st.none() | text,
)


@given(asks)
def test_an_ask_read_back_from_its_stored_payload_is_the_same_ask(ask: Ask) -> None:
    assert Ask.from_payload(json.loads(json.dumps(ask.payload()))) == ask
