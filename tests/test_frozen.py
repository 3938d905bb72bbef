"""`base.frozen.replace`: the generated `dataclasses.replace` of the hot records means the
same as the standard one."""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.base.frozen import replace
from udpsem.testing import host_cases


@settings(max_examples=60, deadline=None)
@given(host_cases(), st.data())
def test_replace_is_dataclasses_replace_on_hosts_and_sockets(case, data) -> None:  # type: ignore[no-untyped-def]
    """Any subset of fields taken from another well-formed host (or socket) gives the very
    record `dataclasses.replace` gives, of the same class."""
    h = case.host
    other = data.draw(host_cases()).host
    for obj, donor in [(h, other), *zip(h.s, other.s, strict=False)]:
        names = [f.name for f in dataclasses.fields(obj)]
        chosen = data.draw(st.lists(st.sampled_from(names), unique=True))
        changes = {n: getattr(donor, n) for n in chosen}
        got, want = replace(obj, **changes), dataclasses.replace(obj, **changes)
        assert type(got) is type(want) and got == want
        assert replace(obj) == obj and replace(obj) is not obj


@dataclass(frozen=True)
class _Checked:
    a: int
    b: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


@dataclass(frozen=True)
class _Derived:
    a: int
    scale: InitVar[int] = 1
    b: int = field(init=False, default=0)

    def __post_init__(self, scale: int) -> None:
        object.__setattr__(self, "b", self.a * scale)


def test_replace_runs_post_init_and_refuses_unknown_fields() -> None:
    x = _Checked(1, (2,))
    assert replace(x, a=3) == _Checked(3, (2,))
    with pytest.raises(ValueError, match="negative"):
        replace(x, a=-1)
    with pytest.raises(TypeError):
        replace(x, c=1)


def test_a_class_with_initvar_or_init_false_fields_goes_the_standard_way() -> None:
    x = _Derived(2, 3)
    assert replace(x, a=5, scale=2) == dataclasses.replace(x, a=5, scale=2) == _Derived(5, 2)
    with pytest.raises(ValueError, match="init=False"):
        replace(x, b=1)
