"""The host rules of issue 12's last part, each determined by experiment on Linux 6.18 and
made to fire here: MSG_TRUNC as a receive flag (recvfrom_18, and recvfrom_11/12/14 with it),
IP_FREEBIND to martian addresses (bind_7) and binds to broadcast and multicast addresses
(bind_8, send_src). The expected values are the kernel's answers to the same calls
(tests/conformance/scenarios_host.py checks them against it)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.hostkit import ALAN, KURT, call, ctx, host, internal, names_call
from udpsem.hosts.auxiliary import bindable_bcast, freebindable, send_src, set_thread
from udpsem.hosts.calls import bind, connect, recv, recvfrom, sendto
from udpsem.hosts.invariants import host_violations, result_violation
from udpsem.hosts.state import Flags, Host, RecvFrom2, Ret, Sock, eth
from udpsem.hosts.values import BROADCAST, LO_BROADCAST, LOCALHOST, Errno, Fail, Ok, ip
from udpsem.network.messages import UDP, IPMsg

TEN = IPMsg(KURT, ALAN, UDP(7658, 5000, b"0123456789"))
EMPTY = IPMsg(KURT, ALAN, UDP(7658, 5000, b""))


def _ret(h: Host, tid: int = 0) -> Any:
    e = h.thread(tid)
    assert e is not None and isinstance(e.state, Ret)
    return e.state.value


# MSG_TRUNC -------------------------------------------------------------------------------------

def test_recvfrom_18_answers_the_real_length() -> None:
    s = Sock(3, None, 5000, mq=(TEN, EMPTY))
    name, st = call(ctx(), host(socks=[s]), recvfrom(3, True, maxlen=4, trunc=True))
    assert name == "recvfrom_18"
    assert _ret(st.host) == Ok((KURT, 7658, b"0123", True, 10))
    assert st.host.s[0].mq == (EMPTY,)  # taken
    name, st = call(ctx(), host(socks=[s]), recvfrom(3, True, trunc=True))  # no length
    assert _ret(st.host) == Ok((KURT, 7658, b"0123456789", False, 10))
    name, st = call(ctx(), host(socks=[replace(s, mq=(EMPTY,))]), recv(3, 4, trunc=True))
    assert name == "recvfrom_18" and _ret(st.host) == Ok((b"", 0))


def test_recvfrom_18_with_peek_sizes_the_next_datagram() -> None:
    s = Sock(3, None, 5000, mq=(TEN,))
    name, st = call(ctx(), host(socks=[s]), recv(3, 0, nonblock=True, peek=True, trunc=True))
    assert name == "recvfrom_18" and _ret(st.host) == Ok((b"", 10))
    assert st.host.s[0].mq == (TEN,)  # still queued
    # without MSG_TRUNC the same peek is recvfrom_8, and answers the copied bytes only
    name, st = call(ctx(), host(socks=[s]), recv(3, 0, nonblock=True, peek=True))
    assert name == "recvfrom_8" and _ret(st.host) == Ok(b"")


def test_recvfrom_18_with_so_rxq_ovfl_puts_the_length_last() -> None:
    s = Sock(3, None, 5000, mq=(TEN,), f=Flags(rxq_ovfl=True), drops=2, mqd=(2,))
    name, st = call(ctx(), host(socks=[s]), recvfrom(3, True, maxlen=4, ovfl=True, trunc=True))
    assert name == "recvfrom_18" and _ret(st.host) == Ok((KURT, 7658, b"0123", True, 2, 10))


def test_msg_trunc_yields_to_a_pending_error_and_the_error_queue() -> None:
    s = Sock(3, None, 5000, es=Errno.ECONNREFUSED, mq=(TEN,))
    assert names_call(ctx(), host(socks=[s]), recvfrom(3, True, 4, trunc=True)) == ["recvfrom_3"]
    s = Sock(3, None, 5000)
    assert names_call(ctx(), host(socks=[s]), recvfrom(3, True, 4, trunc=True)) == ["recvfrom_2"]
    # MSG_ERRQUEUE ignores MSG_TRUNC (Linux returns the bytes copied)
    assert names_call(ctx(), host(socks=[s]), recvfrom(3, True, 4, errqueue=True,
                                                       trunc=True)) == ["recvfrom_16"]


def test_recvfrom_12_a_blocked_receive_with_msg_trunc() -> None:
    name, st = call(ctx(), host(socks=[Sock(3, None, 5000)]), recvfrom(3, False, 3, trunc=True))
    assert name == "recvfrom_4"
    blocked = st.host.thread(0)
    assert blocked is not None and blocked.state == RecvFrom2(3, 3, trunc=True)
    h = replace(st.host, s=(replace(st.host.s[0], mq=(TEN,)),))
    name, st2 = internal(ctx(), h, "recvfrom_12")
    assert _ret(st2.host) == Ok((KURT, 7658, b"012", True, 10))


def test_recvfrom_11_and_14_with_msg_trunc_answer_length_zero() -> None:
    shut = Sock(3, None, 5000, shut=(True, False))
    name, st = call(ctx(), host(socks=[shut]), recvfrom(3, False, 3, trunc=True))
    assert name == "recvfrom_11" and _ret(st.host) == Ok((None, None, b"", False, 0))
    name, st = call(ctx(), host(socks=[shut]), recv(3, 3, trunc=True))
    assert name == "recvfrom_11" and _ret(st.host) == Ok((b"", 0))
    h = set_thread(host(socks=[shut]), 0, RecvFrom2(3, 3, trunc=True))
    name, st = internal(ctx(), h, "recvfrom_14")
    assert _ret(st.host) == Ok((None, None, b"", False, 0))


def test_t2_knows_the_msg_trunc_answers() -> None:
    for good in [(KURT, 7658, b"0123", True, 10), (b"ab", 6), (None, None, b"", False, 0),
                 (KURT, 7658, b"0123", True, 2, 10), (b"", 0)]:
        assert result_violation("recvfrom", Ok(good)) is None, good
    for bad in [(b"abc", 2), (b"ab", -1), (None, None, b"", False, 3),
                (KURT, 7658, b"0123", True, 2, 3), ("x", 1)]:
        assert result_violation("recvfrom", Ok(bad)) is not None, bad


# IP_FREEBIND to martian addresses; broadcast and multicast binds --------------------------------

MARTIANS = [ip("0.1.2.3"), ip("240.0.0.1"), ip("250.1.1.1")]


def test_bind_7_freebind_binds_martian_addresses() -> None:
    for m in MARTIANS:
        name, st = call(ctx(), host(socks=[Sock(3, f=Flags(freebind=True))]), bind(3, m, 6000))
        assert name == "bind_7" and st.host.s[0].is1 == m
        assert host_violations(st.host) == []
        name, _ = call(ctx(), host(socks=[Sock(3)]), bind(3, m, 6000))
        assert name == "bind_2"  # EADDRNOTAVAIL without IP_FREEBIND
        bound = Sock(3, m, 6000)
        name, st = call(ctx(), host(socks=[bound]), sendto(3, (LOCALHOST, 7000), b"x", False))
        assert name == "sendto_11" and _ret(st.host) == Fail(Errno.ENETUNREACH)


def test_bind_8_binds_broadcast_and_multicast_without_freebind() -> None:
    h = host()  # ETH 192.168.0.14/24
    subnet_bcast = ip("192.168.0.255")
    for a in (BROADCAST, subnet_bcast, ip("224.0.0.1"), ip("239.1.2.3")):
        assert bindable_bcast(h, a) and not freebindable(h, a)
        for f in (Flags(), Flags(freebind=True)):
            name, st = call(ctx(), host(socks=[Sock(3, f=f)]), bind(3, a, 6000))
            assert name == "bind_8" and st.host.s[0].is1 == a and st.host.s[0].ps1 == 6000
            assert st.host.s[0].lk == (True, True)
            assert host_violations(st.host) == []
    # another network's broadcast is not the host's: it needs IP_FREEBIND (bind_7)
    other = ip("10.77.0.255")
    assert not bindable_bcast(h, other) and freebindable(h, other)
    assert names_call(ctx(), host(socks=[Sock(3)]), bind(3, other, 6000)) == ["bind_2"]


def test_bind_8_ephemeral_port_and_conflicts() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), bind(3, BROADCAST, None))
    assert name == "bind_8" and st.host.s[0].ps1 is not None
    holder = Sock(4, None, 6000)  # a wildcard socket on the port conflicts
    assert names_call(ctx(), host(socks=[Sock(3), holder]), bind(3, BROADCAST, 6000)) == \
        ["bind_5"]


def test_a_broadcast_bound_socket_sends_from_the_routes_source() -> None:
    h = host(socks=[Sock(3, BROADCAST, 6000)])
    assert send_src(h, BROADCAST) is None and send_src(h, LO_BROADCAST) is None
    assert send_src(h, ALAN) == ALAN
    name, st = call(ctx(), h, sendto(3, (KURT, 7000), b"x", False))
    assert name == "sendto_1" and st.host.oq[0].src == ALAN  # not 255.255.255.255
    name, st = call(ctx(), h, sendto(3, (LOCALHOST, 7000), b"x", False))
    assert st.host.oq[0].src == LOCALHOST
    lo_b = host(socks=[Sock(3, LO_BROADCAST, 6000)])
    name, st = call(ctx(), lo_b, sendto(3, (LOCALHOST, 7000), b"x", False))
    assert name == "sendto_1" and st.host.oq[0].src == LOCALHOST


def test_a_broadcast_bound_socket_connects_and_keeps_its_address() -> None:
    h = host(socks=[Sock(3, BROADCAST, 6000)])
    name, st = call(ctx(), h, connect(3, KURT, 7000))
    assert name == "connect_1"
    s = st.host.s[0]
    assert (s.is1, s.ps1, s.is2, s.ps2) == (BROADCAST, 6000, KURT, 7000)
    assert host_violations(st.host) == []  # S2: a broadcast address may be connected


def test_a_loopback_only_host_has_no_broadcast_route_from_a_broadcast_bound_socket() -> None:
    lo_only = host(socks=[Sock(3, BROADCAST, 6000, f=Flags(broadcast=True))], ifds=[])
    name, st = call(ctx(), lo_only, sendto(3, (BROADCAST, 7000), b"x", False))
    assert name == "sendto_11" and _ret(st.host) == Fail(Errno.ENETUNREACH)


def test_s2_still_refuses_an_arbitrary_foreign_address() -> None:
    s = Sock(3, ip("10.9.9.9"), 6000)  # not freebound state: fine unconnected (bind_7) ...
    assert host_violations(host(socks=[s])) == []
    s = Sock(3, ip("10.9.9.9"), 6000, KURT, 7000)  # ... never connected
    assert [v.conjunct for v in host_violations(host(socks=[s]))] == ["S2"]
    s = Sock(3, ip("192.168.0.255"), 6000, KURT, 7000)  # the host's subnet broadcast
    assert host_violations(host(socks=[s], ifds=[eth(0, ALAN)])) == []


# SO_SNDBUF and fragments (sendto_19) ------------------------------------------------------------

# The largest datagram Linux 6.18 sent over veth for each MTU and SO_SNDBUF read-back value
# (None: every size up to 65507 fits), measured in two namespaces (tests of frag_count and
# frag_truesize against all twelve).
SNDBUF_LIMITS = [(1500, 4608, 5912), (1500, 10000, 13312), (1500, 20000, 26632),
                 (1500, 60000, None), (1000, 4608, 3900), (1000, 10000, 8780),
                 (1000, 20000, 17564), (1000, 60000, 51724), (4000, 4608, 7948),
                 (4000, 10000, 11924), (4000, 20000, 19876), (4000, 60000, 59636)]


def test_the_fragment_formula_predicts_every_measured_limit() -> None:
    from udpsem.hosts.auxiliary import frag_count, frag_truesize

    for mtu, sndbuf, largest in SNDBUF_LIMITS:
        def fits(n: int, mtu: int = mtu, sndbuf: int = sndbuf) -> bool:
            k = frag_count(mtu, n)
            return k < 2 or 1 + (k - 1) * frag_truesize(mtu) <= 2 * sndbuf
        if largest is None:
            assert fits(65507), (mtu, sndbuf)
        else:
            assert fits(largest) and not fits(largest + 1), (mtu, sndbuf, largest)
    assert frag_count(1500, 1472) == 1 and frag_count(1500, 1473) == 2
    assert frag_truesize(1500) == 2304 and frag_truesize(4000) == 8448


def _linux(**kw: Any) -> Any:
    from udpsem.hosts.state import LINUX_WMEM_DEFAULT
    return ctx(wmem_default=LINUX_WMEM_DEFAULT, **kw)


def test_sendto_19_refuses_fragments_beyond_twice_the_send_buffer() -> None:
    small = Sock(3, sndbuf=4608)  # SO_SNDBUF 0 reads 4608
    for nb in (True, False):
        name, st = call(_linux(), host(socks=[small]), sendto(3, (KURT, 7000), b"f" * 5913, nb))
        assert name == "sendto_19" and _ret(st.host) == Fail(Errno.ENOBUFS)
        assert st.host.oq == () and st.host.s[0].ps1 is not None  # nothing sent; autobound
    name, st = call(_linux(), host(socks=[small]), sendto(3, (KURT, 7000), b"f" * 5912, True))
    assert name == "sendto_1" and len(st.host.oq) == 1  # 4 fragments fit
    # to this host (through lo, MTU 65536) nothing is fragmented
    name, _ = call(_linux(), host(socks=[small]), sendto(3, (ALAN, 7000), b"f" * 64000, True))
    assert name == "sendto_1"
    # the default buffer (212992 bytes) holds every datagram's fragments; the paper's host
    # (no WMEM_DEFAULT) has unbounded send buffers
    for c, s in ((_linux(), Sock(3)), (ctx(), Sock(3))):
        name, _ = call(c, host(socks=[s]), sendto(3, (KURT, 7000), b"f" * 65507, True))
        assert name == "sendto_1"


def test_sendto_19_comes_after_epipe_and_a_pending_error() -> None:
    big = b"f" * 20000
    shut = Sock(3, sndbuf=4608, shut=(False, True))
    assert names_call(_linux(), host(socks=[shut]), sendto(3, (KURT, 7000), big, True)) == \
        ["sendto_13"]
    err = Sock(3, sndbuf=4608, es=Errno.ECONNREFUSED)
    assert names_call(_linux(), host(socks=[err]), sendto(3, (KURT, 7000), big, True)) == \
        ["sendto_5"]
    huge = b"f" * 70000
    assert names_call(_linux(), host(socks=[Sock(3, sndbuf=4608)]),
                      sendto(3, (KURT, 7000), huge, True)) == ["sendto_6"]  # EMSGSIZE
