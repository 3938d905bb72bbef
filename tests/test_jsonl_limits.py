"""`base.jsonl.parse_line` walks a parsed value for the limits (64-bit integers, finite
numbers, nesting) only when its text could break one; the shortcut never lets a breaking line
through. A property over generated JSON texts, and the edge cases at each limit."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from udpsem.base.jsonl import INT_MAX, INT_MIN, MAX_DEPTH, check_value, parse_line

_numbers = st.one_of(
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
    st.integers(min_value=INT_MAX - 3, max_value=INT_MAX + 3),
    st.integers(min_value=INT_MIN - 3, max_value=INT_MIN + 3),
    st.floats(allow_nan=False, allow_infinity=False),
)
_texts = st.recursive(
    st.one_of(_numbers, st.text(max_size=5), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=20,
).map(json.dumps)


def _refused(text: str) -> bool:
    try:
        parse_line(text)
    except ValueError:
        return True
    return False


@given(_texts)
def test_the_shortcut_refuses_exactly_what_the_walk_refuses(text: str) -> None:
    assert _refused(text) == (check_value(json.loads(text)) is not None)


@pytest.mark.parametrize("text, refused", [
    (str(INT_MAX), False), (str(INT_MAX + 1), True), (str(INT_MIN), False),
    (str(INT_MIN - 1), True), (str(2**62), False), ("[" + str(INT_MAX + 1) + ".5]", False),
    ("1" + "0" * 19, True), ('"' + "9" * 25 + '"', False), ("1e308", False), ("1e309", True), ("-2e308", True),
    ("2" + "0" * 308 + ".5", True), ("1" + "0" * 308 + ".5", False), ("123456789012345678.1e99", False),
    ("[" * MAX_DEPTH + "]" * MAX_DEPTH, False),
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), True),
    ('["[[[[", ' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "]", False),
])
def test_each_limit_at_its_edge(text: str, refused: bool) -> None:
    assert _refused(text) is refused


_integer_texts = st.recursive(
    st.one_of(st.integers(min_value=-(1 << 70), max_value=1 << 70),
              st.integers(min_value=INT_MAX - 3, max_value=INT_MAX + 3),
              st.integers(min_value=INT_MIN - 3, max_value=INT_MIN + 3),
              st.text(alphabet="0123456789abcdef", max_size=20), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=80,
).map(json.dumps)


@given(_integer_texts)
def test_the_integer_shortcut_misses_nothing_in_a_text_without_floats(text: str) -> None:
    """For JSON whose numbers are all integers (as a trace record's are: replay's fast
    path), `may_break_integer_limits` flags every text the walk refuses; hex digits such
    as `e123` (a digest) do not count, where the float check of `may_break_limits` would."""
    from udpsem.base.jsonl import may_break_integer_limits

    if check_value(json.loads(text)) is not None:
        assert may_break_integer_limits(text)


def test_a_digest_is_no_float() -> None:
    from udpsem.base.jsonl import may_break_integer_limits, may_break_limits

    text = '{"digest":"00e1230000000000"}'
    assert may_break_limits(text) and not may_break_integer_limits(text)
