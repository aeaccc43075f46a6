"""What a button carries: each value decodes to what was encoded, and anything we did not write is a ValueError."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.slack.ids import BatchValue, ButtonValue, DomainValue

ID = st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True)
TEAM_ID = st.from_regex(r"T[A-Z0-9]{2,31}", fullmatch=True)
LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
DOMAIN = st.builds(lambda wild, labels: ("*." if wild else "") + ".".join(labels), st.booleans(), st.lists(LABEL, min_size=2, max_size=4))
# Text that is JSON some of the time: objects with the right keys and values of any kind, and plain text.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(["id", "team", "batch", "domain"])
GARBAGE = st.text() | st.builds(json.dumps, JSON_VALUES) | st.builds(json.dumps, st.dictionaries(KEYS, JSON_VALUES, max_size=3))


@given(ID, ID)
def test_a_decision_button_value_round_trips(request_id, team_id):
    value = ButtonValue(request_id, team_id)
    assert ButtonValue.decode(value.encode()) == value
    assert len(value.encode()) <= 2000  # Slack's limit for a button's value


@given(st.integers(min_value=1, max_value=2**63))
def test_a_batch_value_round_trips(batch_id):
    assert BatchValue.decode(BatchValue(batch_id).encode()) == BatchValue(batch_id)


@given(DOMAIN, st.none() | TEAM_ID)
def test_a_domain_value_round_trips(domain, team):
    value = DomainValue(domain, team)
    assert DomainValue.decode(value.encode()) == value


@given(GARBAGE)
def test_a_decision_button_reads_only_what_it_wrote(raw):
    try:
        value = ButtonValue.decode(raw)
    except ValueError:
        return
    assert re.fullmatch(r"[A-Za-z0-9]{1,32}", value.request_id) and re.fullmatch(r"[A-Za-z0-9]{1,32}", value.team_id)
    assert ButtonValue.decode(value.encode()) == value


@given(GARBAGE)
def test_a_batch_button_reads_only_what_it_wrote(raw):
    try:
        value = BatchValue.decode(raw)
    except ValueError:
        return
    assert type(value.batch_id) is int and value.batch_id >= 1


@given(GARBAGE)
def test_a_domain_button_reads_only_what_it_wrote(raw):
    try:
        value = DomainValue.decode(raw)
    except ValueError:
        return
    assert re.fullmatch(r"(\*\.)?[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?", value.domain)
    assert value.team is None or re.fullmatch(r"T[A-Z0-9]{2,31}", value.team)


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (ButtonValue, "not json"),
        (ButtonValue, "[]"),
        (ButtonValue, '{"id": "Ir1"}'),
        (ButtonValue, '{"id": "Ir 1", "team": "T1"}'),
        (ButtonValue, '{"id": "Ir1", "team": 7}'),
        (ButtonValue, '{"id": "Ir1\\n", "team": "T1"}'),
        (ButtonValue, json.dumps({"id": "I" * 33, "team": "T1"})),
        (BatchValue, '{"batch": 0}'),
        (BatchValue, '{"batch": true}'),
        (BatchValue, '{"batch": "7"}'),
        (BatchValue, "7"),
        (DomainValue, '{"domain": "Example.com"}'),
        (DomainValue, '{"domain": "example.com", "team": "E0ORG"}'),
        (DomainValue, '{"domain": "example.com\\n"}'),
        (DomainValue, '{"domain": "example.com", "team": "T0ALPHA01\\n"}'),
        (DomainValue, '{"team": "T0ALPHA01"}'),
    ],
)
def test_values_we_did_not_write_are_refused(kind, raw):
    with pytest.raises(ValueError):
        kind.decode(raw)


def test_the_encoded_forms_are_compact_json():
    assert ButtonValue("Ir0001", "T0ALPHA01").encode() == '{"id":"Ir0001","team":"T0ALPHA01"}'
    assert BatchValue(7).encode() == '{"batch":7}'
    assert DomainValue("*.example.com").encode() == '{"domain":"*.example.com"}'
    assert DomainValue("example.com", "T0ALPHA01").encode() == '{"domain":"example.com","team":"T0ALPHA01"}'
