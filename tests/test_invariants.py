"""host_ok and network_ok (docs/model.md#invariants): each conjunct is detected and named, and
every host the strategies generate satisfies host_ok."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given

from tests.hostkit import ALAN, KURT, host
from udpsem.base.time import MS, NEVER
from udpsem.core.invariants import network_ok, network_violations
from udpsem.hosts.invariants import HOST_CONJUNCTS, host_ok, host_violations, result_violation
from udpsem.hosts.state import (
    DELAY2,
    EXIT,
    NEIGH_RETRANS,
    RUN,
    ZOMBIE,
    Host,
    HostConsts,
    Interface,
    Print2,
    RecvFrom2,
    Ret,
    Select2,
    SendTo2,
    Sock,
    ThreadEntry,
    Timing,
    eth,
)
from udpsem.hosts.values import LOCALHOST, Errno, Fail, Ok, ip
from udpsem.network.faults import Faults
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg
from udpsem.programs.heartbeat import HeartbeatOptions, build
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.state.world import InFlight
from udpsem.testing import HostCase, host_cases

T = Timing()
NOW = 5 * MS
GOOD_SOCK = Sock(3, ALAN, 7658, KURT, None, None, lk=(True, True))
UDP_IN = IPMsg(KURT, ALAN, UDP(40000, 7658, b"ping"))


def good() -> Host:
    """A busy but well-formed host: a connected socket with data, a blocked reader, a RET,
    a sleeper, a non-empty out-queue."""
    return replace(
        host(socks=[replace(GOOD_SOCK, mq=(UDP_IN,))],
             threads=[ThreadEntry(1, RecvFrom2(3)), ThreadEntry(2, Ret(Ok(3), "socket"),
                                                                NOW + T.dsch),
                      ThreadEntry(3, DELAY2, NOW + 1)]),
        oq=(IPMsg(ALAN, KURT, UDP(7658, 7658, b"x")),), oq_deadline=NOW + T.doq)


def test_the_reference_host_is_ok() -> None:
    assert host_violations(good(), HostConsts(), T, NOW) == []


def _sock(h: Host, **kw: object) -> Host:
    return replace(h, s=(replace(h.s[0], **kw),))


def _thread(h: Host, tid: int, state: object, dl: int = NEVER) -> Host:
    ts = tuple(e for e in h.ts if e.tid != tid) + (ThreadEntry(tid, state, dl),)  # type: ignore[arg-type]
    return replace(h, ts=tuple(sorted(ts, key=lambda e: e.tid)))


BREAKS: dict[str, Callable[[Host], Host]] = {
    "R1": lambda h: replace(h, ts=tuple(reversed(h.ts))),
    "I1": lambda h: replace(h, ifds=tuple(i for i in h.ifds if not i.is_lo)),
    "I2": lambda h: replace(h, ifds=(*h.ifds, Interface(("eth", 7), (ALAN,), ALAN, 24))),
    "S1": lambda h: _sock(h, fd=1),
    "S2": lambda h: _sock(h, is1=ip("8.8.8.8")),
    "S3": lambda h: _sock(h, is2=None, ps2=80),
    "S4": lambda h: _sock(h, is1=None, is2=None, lk=(True, False)),
    "S5": lambda h: _sock(h, es=Errno.EAGAIN),
    "S6": lambda h: _sock(h, mq=(IPMsg(KURT, ip("8.8.8.8"), UDP(1, 2, b"")),)),
    "S7": lambda h: replace(_sock(h, cl=True), ts=(h.ts[0],)),
    "S8": lambda h: _sock(h, rcvtimeo=1),  # 1 ns is not a whole number of jiffies
    "T1": lambda h: _thread(h, 3, DELAY2, NEVER),
    "T2": lambda h: _thread(h, 2, Ret(Ok("three"), "socket"), NOW),
    "T3": lambda h: _thread(h, 1, RecvFrom2(9)),
    "T4": lambda h: _thread(h, 4, SendTo2(3, None, b"", (ALAN, 7658, None, None))),
    "T5": lambda h: _thread(h, 4, Select2((3, 17), ()), NEVER),
    "T6": lambda h: _thread(h, 4, ZOMBIE),
    "Q1": lambda h: replace(h, oq=(IPMsg(KURT, ALAN, UDP(1, 2, b"")),)),
    "Q2": lambda h: replace(h, oq_deadline=NOW + T.doq + 1),
    "Q3": lambda h: replace(h, oqf=True),
    "G1": lambda h: _thread(h, 3, DELAY2, NOW - 1),
    "I3": lambda h: replace(h, ifds=tuple(replace(i, up=1) if not i.is_lo else i  # type: ignore[arg-type]
                                          for i in h.ifds)),
}


def test_every_conjunct_has_a_breaking_example() -> None:
    assert set(BREAKS) == set(HOST_CONJUNCTS)


@pytest.mark.parametrize("conjunct", sorted(BREAKS))
def test_a_broken_conjunct_is_named(conjunct: str) -> None:
    try:
        broken = BREAKS[conjunct](good())
    except TypeError:
        # The compiled build's records check their field types when built, so an ill-typed
        # field (I3's `up=1`) cannot even be made there: the conjunct holds by construction.
        assert os.environ.get("UDPSEM_BUILD") == "compiled"
        return
    found = host_violations(broken, HostConsts(), T, NOW)
    assert conjunct in {v.conjunct for v in found}, found
    assert not host_ok(broken, HostConsts(), T, NOW)
    assert all(v.detail for v in found)


def test_timers_are_read_relative_to_now() -> None:
    h = good()
    assert host_ok(h, HostConsts(), T, NOW)
    # Later than the RET's deadline: its timer would be negative (G1).
    late = host_violations(h, HostConsts(), T, NOW + T.dsch + 1)
    assert {"G1"} <= {v.conjunct for v in late}


def test_exiting_program_shape() -> None:
    h = host(threads=[ThreadEntry(0, EXIT, NOW), ThreadEntry(1, ZOMBIE)])
    assert host_ok(h, HostConsts(), T, NOW)
    two = host(threads=[ThreadEntry(0, EXIT, NOW), ThreadEntry(1, EXIT, NOW)])
    assert "T6" in {v.conjunct for v in host_violations(two, HostConsts(), T, NOW)}
    mixed = host(threads=[ThreadEntry(0, EXIT, NOW), ThreadEntry(1, RUN)])
    assert "T6" in {v.conjunct for v in host_violations(mixed, HostConsts(), T, NOW)}


def test_orphan_with_a_blocked_thread_is_ok() -> None:
    h = host(socks=[Sock(3, None, 40000, cl=True)], threads=[ThreadEntry(1, RecvFrom2(3))])
    assert host_ok(h, HostConsts(), T, 0)


def test_out_queue_full_flag_follows_oq_cap() -> None:
    m = IPMsg(ALAN, KURT, UDP(1, 2, b""))
    h = replace(host(), oq=(m,), oq_deadline=T.doq, oqf=True)
    assert host_ok(h, HostConsts(oq_cap=1), T, 0)
    assert "Q3" in {v.conjunct for v in host_violations(h, HostConsts(), T, 0)}


@pytest.mark.parametrize("call,value,ok", [
    ("socket", Ok(3), True), ("socket", Ok(None), False), ("socket", Ok(True), False),
    ("bind", Ok(None), True), ("bind", Fail(Errno.EADDRINUSE), True),
    ("bind", Fail(Errno.ECONNREFUSED), False),
    ("getsockname", Ok((None, None)), True), ("getsockname", Ok((ALAN, 0)), False),
    ("recvfrom", Ok((KURT, 40000, b"ping")), True), ("recvfrom", Ok((KURT, None, "s")), False),
    ("recvfrom", Fail(Errno.EINTR), True),
    ("select", Ok(((3,), ())), True), ("select", Ok(([3], [])), False),
    ("geterr", Ok(Errno.ECONNREFUSED), True), ("getsockopt", Ok(-1), False),
    ("getsockopt", Ok(4000), True), ("getsockopt", Ok("on"), False),
    ("recvfrom", Ok((KURT, 40000, b"pi", True)), True),
    ("recvfrom", Ok((KURT, 40000, b"pi", 1)), False),
    ("recvfrom", Ok((None, None, b"")), True), ("recvfrom", Ok((None, None, b"x")), False),
    ("shutdown", Fail(Errno.ENOTCONN), True), ("sendto", Fail(Errno.EPIPE), True),
    ("fionread", Ok(0), True), ("fionread", Ok(-1), False),
    ("port_of_int", Ok(65536), False), ("ip_of_string", Ok(2**32), False),
    ("getifaddrs", Ok((("lo", LOCALHOST, (LOCALHOST,), 8),)), True),
    ("create", Ok(4), True), ("delay", Fail(Errno.EINTR), True),
    ("print_endline_flush", Ok(None), True), ("exit", Ok(None), False), ("", Ok(None), False),
])
def test_t2_result_types(call: str, value: object, ok: bool) -> None:
    assert (result_violation(call, value) is None) == ok


@given(host_cases())
def test_generated_hosts_satisfy_host_ok(case: HostCase) -> None:
    v = host_violations(case.host, case.consts, case.timing, case.now)
    assert not v, v


# network_ok ----------------------------------------------------------------------------------

def _heartbeat() -> tuple[object, object]:
    return build(HeartbeatOptions(), Faults(), GeneratorRuntime())


def test_initial_heartbeat_world_is_network_ok() -> None:
    setup, w = _heartbeat()
    assert network_violations(setup, w) == []  # type: ignore[arg-type]


def _conjuncts(setup: object, w: object) -> set[str]:
    return {v.conjunct for v in network_violations(setup, w)}  # type: ignore[arg-type]


def test_network_conjuncts_are_named() -> None:
    setup, w = _heartbeat()
    alan, kurt = w.machines  # type: ignore[attr-defined]
    # N1: two machines with one name.
    assert "N1" in _conjuncts(setup, replace(w, machines=(alan, alan)))
    # N2: KURT takes ALAN's address.
    kurt2 = replace(kurt, host=replace(kurt.host, ifds=(kurt.host.ifds[0], eth(0, ALAN))))
    assert "N2" in _conjuncts(setup, replace(w, machines=(alan, kurt2)))
    # N3: a crashed machine that kept its application.
    assert "N3" in _conjuncts(setup, replace(w, machines=(alan, replace(kurt, host=None))))
    # host conjuncts carry the machine's name.
    bad = replace(alan, host=replace(alan.host, oqf=True))
    vs = network_violations(setup, replace(w, machines=(bad, kurt)))  # type: ignore[arg-type]
    assert any(v.conjunct == "Q3" and v.where == "ALAN" for v in vs)
    # M1: a message in transit longer than dpropmax.
    f = InFlight(UDP_IN, w.now + setup.timing.dpropmax + 1, "KURT", 0)  # type: ignore[attr-defined]
    assert "M1" in _conjuncts(setup, replace(w, net=(f,)))
    ok = InFlight(UDP_IN, w.now + setup.timing.dpropmax, "KURT", 0)  # type: ignore[attr-defined]
    assert network_ok(setup, replace(w, net=(ok,)))  # type: ignore[arg-type]
    bad_msg = InFlight(IPMsg(KURT, ALAN, UDP(0, 1, b"")), w.now, "KURT", 0)
    assert "M1" in _conjuncts(setup, replace(w, net=(bad_msg,)))
    # M2: a held datagram (neighbour resolution) needs a holder with dynamic neighbours, and
    # a timer at one of its entry's probes.
    neigh = {k: replace(c, neigh=True) for k, c in setup.consts.items()}  # type: ignore[attr-defined]
    setup_n = replace(setup, consts=neigh)
    held = InFlight(UDP_IN, w.now + NEIGH_RETRANS, "KURT", 0, w.now)  # type: ignore[attr-defined]
    assert network_ok(setup_n, replace(w, net=(held,)))  # type: ignore[arg-type]
    assert "M2" in _conjuncts(setup, replace(w, net=(held,)))  # static neighbours
    off = replace(held, deadline=held.deadline - 1)
    assert "M2" in _conjuncts(setup_n, replace(w, net=(off,)))  # not a probe time
    foreign = replace(held, src="ALAN")  # not ALAN's address
    assert "M2" in _conjuncts(setup_n, replace(w, net=(foreign,)))
    # C2: the host will answer thread 0, but no snippet waits for it.
    ret = replace(alan, host=replace(alan.host, ts=(ThreadEntry(0, Ret(Ok(3), "socket"),
                                                                w.now),)))
    assert "C2" in _conjuncts(setup, replace(w, machines=(ret, kurt)))
    # N4: a snippet whose tid the host does not know.
    setup2, w2 = _heartbeat()
    ts_less = replace(alan, host=replace(alan.host, ts=()))
    from udpsem.state.components import Snippet
    snip = Snippet(0, "EXTERN", None, None)
    assert "N4" in _conjuncts(setup2, replace(w2, machines=(replace(ts_less, snippets=(snip,)),
                                                            kurt)))
    # C1: a snippet waiting for a LIB answer while its thread is RUN.
    assert "C1" in _conjuncts(setup2, replace(w2, machines=(replace(alan, snippets=(snip,)),
                                                            kurt)))
    # C3: a store answer for a thread without a snippet.
    from udpsem.state.components import StoreRet
    sr = StoreRet(0, 1, w.now)
    assert "C3" in _conjuncts(setup2, replace(w2, machines=(replace(alan, storerets=(sr,)),
                                                            kurt)))


def test_icmp_and_print_states_are_ok() -> None:
    h = replace(host(threads=[ThreadEntry(1, Print2("hi"), NOW)]),
                oq=(IPMsg(ALAN, KURT, ICMP(IcmpKind.PORT_UNREACH, KURT, 1, ALAN, 2)),),
                oq_deadline=NOW)
    assert host_ok(h, HostConsts(), T, NOW)

