"""The lazy free-port sequence offered by an autobind equals the list it stands for."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from udpsem.hosts.auxiliary import FreePorts, free_ephemeral
from udpsem.hosts.state import HostConsts, Sock


@given(st.integers(0, 40), st.integers(-1, 60), st.lists(st.integers(0, 100), max_size=20))
def test_free_ports_is_the_list_of_free_ports(lo: int, span: int, taken: list[int]) -> None:
    hi = lo + span
    ref = [p for p in range(lo, hi + 1) if p not in set(taken)]
    f = FreePorts(lo, hi, taken)
    assert len(f) == len(ref)
    assert list(f) == ref
    assert [f[k] for k in range(len(ref))] == ref
    assert [f[-k] for k in range(1, len(ref) + 1)] == [ref[-k] for k in range(1, len(ref) + 1)]
    assert all((p in f) == (p in ref) for p in range(-2, 110))
    assert f == ref


def test_free_ephemeral_skips_bound_ports() -> None:
    consts = HostConsts()  # Linux: 32768..60999, 28,232 ports
    f = free_ephemeral(consts, (Sock(3, ps1=32768), Sock(4, ps1=32770), Sock(5, ps1=80)))
    assert len(f) == 28_232 - 2
    assert f[0] == 32769 and f[1] == 32771 and f[-1] == 60999
    assert 32768 not in f and 32769 in f and 80 not in f
