"""CSV cells a spreadsheet would run as a formula get a leading quote (OWASP); plain values, `-` and numbers do not."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import export

FORMULA_STARTS = "=+-@\t\r"
NUMBER = st.builds(
    lambda sign, whole, fraction: f"{sign}{whole}{fraction}",
    st.sampled_from(["", "-", "+"]),
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from(["", ".5", ".25", ".0"]),
)


def opens_a_formula(text: str) -> bool:
    """What a spreadsheet may evaluate: a cell that starts with one of OWASP's characters and is not a plain number or sign."""
    if not text or text[0] not in FORMULA_STARTS:
        return False
    if text[0] not in "+-":
        return True
    parts = text[1:].split(".")
    lone_sign = text[1:] == ""
    number = len(parts) <= 2 and all(part and all(c in "0123456789" for c in part) for part in parts)
    return not (lone_sign or number)


@pytest.mark.parametrize("text", ["-", "-1", "-42.5", "+3", "0", "ok", "2026-01-05T09:30:00Z", "ada@example.com"])
def test_placeholders_numbers_and_plain_text_are_written_as_they_are(text: str) -> None:
    assert export.csv_cell(text) == text


@pytest.mark.parametrize(
    "text", ["=1+1", "+SUM(A1:A9)", "-1+cmd|' /C calc'!A0", "-1 bulk", "--", "- 1", "@admin", "\tTAB", "\r=x", "-=1", "+-1"]
)
def test_what_could_open_a_formula_gets_a_quote(text: str) -> None:
    assert export.csv_cell(text) == "'" + text


@given(st.one_of(st.text(), st.text(alphabet=FORMULA_STARTS + "1.=A(x "), NUMBER, NUMBER.map(lambda n: n + "+1")))
def test_a_cell_is_quoted_exactly_when_it_could_open_a_formula_and_reads_back_unchanged(text: str) -> None:
    cell = export.csv_cell(text)

    assert cell == ("'" + text if opens_a_formula(text) else text)
    assert not opens_a_formula(cell)
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL).writerow([cell])
    [[read]] = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert read == cell


def test_none_is_an_empty_cell() -> None:
    assert export.csv_cell(None) == ""
