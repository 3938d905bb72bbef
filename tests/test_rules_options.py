"""The socket-option table (udpsem.hosts.options): every option has its row, every row names
registered rules, exactly one rule answers each setsockopt and getsockopt, and the values read
back are Linux's (the figures measured on Linux 6.18 that the rules' docstrings cite)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.hostkit import call, ctx, host, names_call, thread_state
from udpsem.base.registry import RULES
from udpsem.hosts import calls as C
from udpsem.hosts.options import OPTIONS
from udpsem.hosts.state import (
    LINUX_RMEM_DEFAULT,
    LINUX_WMEM_DEFAULT,
    RUN,
    Host,
    Ret,
    Sock,
    ThreadEntry,
)
from udpsem.hosts.values import BOOL_OPTS, Arch, Errno, Fail, Ok, SockOpt

FD = 3


def _host() -> Host:
    return host(socks=(Sock(FD),))


def _ctx() -> Any:
    return ctx(rmem_default=LINUX_RMEM_DEFAULT, wmem_default=LINUX_WMEM_DEFAULT,
               arch=Arch.LINUX)


def _answer(h: Host) -> Any:
    r = thread_state(h)
    assert isinstance(r, Ret)
    return r.value


def _set_get(opt: SockOpt, value: Any) -> tuple[str, Any, str, Any]:
    c, h = _ctx(), _host()
    set_rule, step = call(c, h, C.setsockopt(FD, opt, value))
    set_answer = _answer(step.host)
    h2 = replace(step.host, ts=(ThreadEntry(0, RUN),))  # the thread back to RUN
    get_rule, step2 = call(c, h2, C.getsockopt(FD, opt))
    return set_rule, set_answer, get_rule, _answer(step2.host)


def test_every_option_has_a_row_naming_registered_rules() -> None:
    assert set(OPTIONS) == set(SockOpt)
    for opt, o in OPTIONS.items():
        assert o.opt == opt
        assert RULES[o.set_rule].call == "setsockopt", o
        assert RULES[o.get_rule].call == "getsockopt", o
        if o.refused_by is not None:
            assert RULES[o.refused_by].call == "setsockopt"
            assert RULES[o.refused_by].errors == ("EINVAL",)


def _values(opt: SockOpt) -> st.SearchStrategy[Any]:
    if opt in BOOL_OPTS:
        return st.booleans() | st.integers(-3, 3)
    return st.integers(-(2**31), 2**31) | st.sampled_from([-1, 0, 1, 255, 256, 1000])


@given(st.sampled_from(sorted(SockOpt)).flatmap(lambda o: st.tuples(st.just(o), _values(o))))
def test_exactly_one_rule_sets_and_one_reads_each_option(ov: tuple[SockOpt, Any]) -> None:
    opt, value = ov
    o = OPTIONS[opt]
    c, h = _ctx(), _host()
    names = names_call(c, h, C.setsockopt(FD, opt, value))
    if o.read_only:  # IP_MTU: never set; read by rules of its own (tests/test_pmtu.py)
        assert names == [o.set_rule]
        assert RULES[o.set_rule].errors == ("ENOPROTOOPT",)
        return
    want = o.set_rule if o.accepts(value) else o.refused_by
    assert names == [want]
    assert names_call(c, h, C.getsockopt(FD, opt)) == [o.get_rule]
    set_rule, set_answer, get_rule, got = _set_get(opt, value)
    assert set_answer == (Ok(None) if o.accepts(value) else Fail(Errno.EINVAL))
    if o.accepts(value):
        assert got == Ok(o.read(c.consts, o.store(c.consts, Sock(FD), value)))


# What Linux 6.18 read back after each setting (the experiments the rules' docstrings cite).
LINUX_READBACK = [
    (SockOpt.SO_REUSEADDR, True, True),
    (SockOpt.SO_BSDCOMPAT, True, False),  # obsolete: accepted and ignored
    (SockOpt.SO_BROADCAST, 1, True),
    (SockOpt.IP_RECVERR, 5, True),
    (SockOpt.SO_SELECT_ERR_QUEUE, 1, True),
    (SockOpt.SO_REUSEPORT, 5, True),
    (SockOpt.IP_FREEBIND, 1, True),
    (SockOpt.SO_RXQ_OVFL, 0, False),
    (SockOpt.SO_RCVTIMEO, 1, 4000),        # rounded up to one jiffy at HZ = 250
    (SockOpt.SO_SNDTIMEO, 1500, 4000),
    (SockOpt.SO_RCVTIMEO, -5, 0),          # stored as "give up at once", reads 0
    (SockOpt.SO_RCVBUF, 1000, 2304),       # doubled, at least SOCK_MIN_RCVBUF
    (SockOpt.SO_RCVBUF, 10000, 20000),
    (SockOpt.SO_RCVBUF, 10**9, 8388608),   # clamped to rmem_max 4194304, doubled
    (SockOpt.SO_SNDBUF, 1000, 4608),       # at least SOCK_MIN_SNDBUF
    (SockOpt.SO_SNDBUF, 5000, 10000),
    (SockOpt.SO_SNDBUF, -1, 8388608),      # taken as unsigned: the cap
    (SockOpt.IP_TTL, 255, 255),
    (SockOpt.IP_TTL, -1, 64),              # the default, net.ipv4.ip_default_ttl
    (SockOpt.IP_MTU_DISCOVER, 0, 0),       # PMTUDISC_DONT
    (SockOpt.IP_MTU_DISCOVER, 5, 5),       # PMTUDISC_OMIT
]


def test_values_read_back_as_on_linux() -> None:
    for opt, value, want in LINUX_READBACK:
        set_rule, set_answer, get_rule, got = _set_get(opt, value)
        assert set_answer == Ok(None), (opt, value)
        assert got == Ok(want), (opt, value, got)
        assert (set_rule, get_rule) == (OPTIONS[opt].set_rule, OPTIONS[opt].get_rule)


def test_a_refused_value_leaves_the_option_unchanged() -> None:
    for bad in (0, 256, -2):
        set_rule, set_answer, _, got = _set_get(SockOpt.IP_TTL, bad)
        assert (set_rule, set_answer, got) == ("setsockopt_10", Fail(Errno.EINVAL), Ok(64))


def test_defaults_before_any_setting() -> None:
    c, h = _ctx(), _host()
    for opt, want in [(SockOpt.SO_RCVBUF, LINUX_RMEM_DEFAULT), (SockOpt.SO_SNDBUF,
                      LINUX_WMEM_DEFAULT), (SockOpt.IP_TTL, 64), (SockOpt.SO_RCVTIMEO, 0),
                      (SockOpt.IP_MTU_DISCOVER, 1),
                      (SockOpt.SO_REUSEPORT, False)]:
        _, step = call(c, h, C.getsockopt(FD, opt))
        assert _answer(step.host) == Ok(want), opt
