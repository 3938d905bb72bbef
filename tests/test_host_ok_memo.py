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
