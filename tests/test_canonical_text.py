"""`canonical_text` (the direct writer behind `canonical_bytes`) is exactly the JSON text of
`canonical`, so thread digests are unchanged."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from udpsem.hosts.values import Errno, Fail, Ok
from udpsem.programs.data import canonical, canonical_text


class Colour(enum.Enum):
    RED = 1
    BLUE = "b"


class Level(enum.IntEnum):
    LOW = 0
    HIGH = 7


@dataclass(frozen=True)
class Pair:
    a: object
    b: object


_leaves = (st.none() | st.booleans() | st.integers() | st.text() | st.binary() | st.floats()
           | st.sampled_from(list(Colour)) | st.sampled_from(list(Level))
           | st.sampled_from(list(Errno)))
values = st.recursive(
    _leaves,
    lambda inner: (st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.tuples()
                   | st.builds(Pair, inner, inner) | st.builds(Ok, inner)
                   | st.dictionaries(st.integers() | st.text(max_size=3), inner, max_size=3)
                   | st.frozensets(st.integers(), max_size=3)),
    max_leaves=12)


def _reference(x: object) -> str:
    return json.dumps(canonical(x), sort_keys=True, separators=(",", ":"))


@given(values)
def test_canonical_text_is_the_text_of_canonical(x: object) -> None:
    assert canonical_text(x) == _reference(x)


def test_typical_answers() -> None:
    for x in (Ok(None), Ok(7658), Ok(((3,), ())), Ok((1, 2, b"ping")), Fail(Errno.EAGAIN),
              Ok(True), Ok("é")):
        assert canonical_text(x) == _reference(x)
