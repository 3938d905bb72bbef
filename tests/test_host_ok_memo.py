"""HostOkMemo (exploration's memoised host_ok) gives exactly host_violations' list."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.hosts.invariants import HostOkMemo, host_violations
from udpsem.hosts.state import Interface, Sock
from udpsem.testing import host_cases


@settings(max_examples=80, deadline=None)
@given(host_cases(), st.data())
def test_memo_equals_host_violations(case, data) -> None:  # type: ignore[no-untyped-def]
    memo = HostOkMemo(size=4)  # small: the eviction path runs too
    h = case.host
    variants = [h]
    # broken variants that share components with h: a duplicate fd, a bad interface, a
    # closed socket nobody refers to, a later time
    if h.s:
        variants.append(replace(h, s=(*h.s, h.s[0])))
        variants.append(replace(h, s=(replace(h.s[0], cl=True), *h.s[1:])))
    variants.append(replace(h, ifds=(*h.ifds, Interface(("eth", 9), (5,), 5, 40))))
    variants.append(replace(h, s=(*h.s, Sock(99, ps1=0))))
    for v in variants * 2:  # the second round comes from the memo
        now = data.draw(st.sampled_from([case.now, case.now + 1, case.now + 10**9]))
        assert memo.violations(v, case.consts, case.timing, now) == \
            host_violations(v, case.consts, case.timing, now)


def test_bounded_memos_stay_bounded_even_at_size_one() -> None:
    """The three checker memos share `remember`: full, the older half goes, and at least one
    entry (size 1 dropped none before, so such a memo grew without bound)."""
    from udpsem.core.invariants import MachineMemo, PartsMemo
    from udpsem.hosts.invariants import remember

    memo: dict[int, int] = {}
    for k in range(10):
        remember(memo, 1, k, k)
        assert memo == {k: k}
    memo = {}
    for k in range(10):
        remember(memo, 4, k, k)
    # full at 4, 6 and 8: each time the older two go first (0-1, 2-3, 4-5)
    assert list(memo) == [6, 7, 8, 9]
    things = [object() for _ in range(5)]
    m, p = MachineMemo(size=1), PartsMemo(size=1)
    for x in things:
        assert m.get(x, 0, lambda: 1) == 1 and p.get((x,), (0,), lambda: 2) == 2
    assert len(m._memo) == len(p._memo) == 1
