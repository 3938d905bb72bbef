"""The rules added by experiment on Linux 6.18 (issue 12): buffer length and MSG_PEEK,
FIONREAD, shutdown and EPIPE, SO_RCVTIMEO / SO_SNDTIMEO, SO_RCVBUF and receive-buffer drops,
SO_BROADCAST and local broadcast. Each test makes its rule fire; the expected values are the
kernel's answers to the same calls (tests/conformance checks them against it)."""

from __future__ import annotations

from dataclasses import replace

from tests.hostkit import ALAN, KURT, call, ctx, host, internal, names_call, recv, thread_state
from udpsem.base.time import MS, NEVER
from udpsem.hosts.auxiliary import fits, jiffies_ns, set_thread, truesize
from udpsem.hosts.calls import (
    connect,
    fionread,
    getsockopt,
    recvfrom,
    sendto,
    setsockopt,
    shutdown,
)
from udpsem.hosts.invariants import host_violations
from udpsem.hosts.state import (
    LINUX_RMEM_DEFAULT,
    RUN,
    Flags,
    HostConsts,
    RecvFrom2,
    Ret,
    SendTo2,
    Sock,
    ThreadEntry,
    eth,
)
from udpsem.hosts.values import (
    BROADCAST,
    LO_BROADCAST,
    LOCALHOST,
    Errno,
    Fail,
    Ok,
    Shut,
    SockOpt,
)
from udpsem.network.messages import UDP, IPMsg

M1 = IPMsg(KURT, ALAN, UDP(7658, 5000, b"hello world"))
M2 = IPMsg(KURT, ALAN, UDP(7658, 5000, b"two"))
LO_ONLY: tuple = ()


def _ret(h, tid=0):  # type: ignore[no-untyped-def]
    e = h.thread(tid)
    assert e is not None and isinstance(e.state, Ret)
    return e.state.value


# Buffer length, peek, FIONREAD -------------------------------------------------------------

def test_recvfrom_9_truncates_and_flags() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(M1, M2))])
    name, st = call(ctx(), h, recvfrom(3, True, maxlen=5))
    assert name == "recvfrom_9"
    assert _ret(st.host) == Ok((KURT, 7658, b"hello", True))
    assert st.host.s[0].mq == (M2,)  # the rest of the datagram is gone
    name, st = call(ctx(), set_thread(st.host, 0, RUN), recvfrom(3, True, maxlen=100))
    assert _ret(st.host) == Ok((KURT, 7658, b"two", False))


def test_recvfrom_8_peek_leaves_the_datagram() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(M1,))])
    name, st = call(ctx(), h, recvfrom(3, True, maxlen=5, peek=True))
    assert name == "recvfrom_8"
    assert _ret(st.host) == Ok((KURT, 7658, b"hello", True))
    assert st.host.s[0].mq == (M1,)
    name, st = call(ctx(), h, recvfrom(3, False, peek=True))
    assert name == "recvfrom_8" and _ret(st.host) == Ok((KURT, 7658, b"hello world"))


def test_peek_still_reports_and_clears_the_error() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED, mq=(M1,))
    name, st = call(ctx(), host(socks=[s]), recvfrom(3, True, peek=True))
    assert name == "recvfrom_3" and st.host.s[0].es is None


def test_fionread_1_reads_the_head_only() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(M1, M2), es=Errno.ECONNREFUSED)])
    name, st = call(ctx(), h, fionread(3))
    assert name == "fionread_1" and _ret(st.host) == Ok(11)
    assert st.host.s[0].es == Errno.ECONNREFUSED  # neither reported nor cleared
    _, st = call(ctx(), host(socks=[Sock(3)]), fionread(3))
    assert _ret(st.host) == Ok(0)


def test_recvfrom_12_blocked_bounded_receive_gets_a_datagram() -> None:
    s = Sock(3, None, 5000, mq=(M1,))
    h = host(socks=[s], threads=[ThreadEntry(1, RecvFrom2(3, 4, False))])
    _name, st = internal(ctx(), h, "recvfrom_12")
    assert _ret(st.host, 1) == Ok((KURT, 7658, b"hell", True)) and st.host.s[0].mq == ()


# Shutdown ------------------------------------------------------------------------------------

def test_shutdown_2_unconnected_fails_but_takes_effect() -> None:
    h = host(socks=[Sock(3, None, 5000)])
    name, st = call(ctx(), h, shutdown(3, Shut.SHUT_RD))
    assert name == "shutdown_2" and _ret(st.host) == Fail(Errno.ENOTCONN)
    assert st.host.s[0].shut == (True, False)


def test_shutdown_1_connected_and_flags_accumulate() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658)])
    name, st = call(ctx(), h, shutdown(3, Shut.SHUT_WR))
    assert name == "shutdown_1" and _ret(st.host) == Ok(None)
    _, st = call(ctx(), set_thread(st.host, 0, RUN), shutdown(3, Shut.SHUT_RD))
    assert st.host.s[0].shut == (True, True)
    _, st2 = call(ctx(), host(socks=[Sock(3, ALAN, 5000, KURT, 7658)]),
                  shutdown(3, Shut.SHUT_RDWR))
    assert st2.host.s[0].shut == (True, True)


def test_recvfrom_11_shut_receive_returns_nothing_without_binding() -> None:
    h = host(socks=[Sock(3, shut=(True, False))])
    name, st = call(ctx(), h, recvfrom(3, False))
    assert name == "recvfrom_11" and _ret(st.host) == Ok((None, None, b""))
    assert st.host.s[0].ps1 is None
    assert names_call(ctx(), h, recvfrom(3, True)) == ["recvfrom_2"]  # EAGAIN when non-blocking
    _, st = call(ctx(), h, recvfrom(3, False, maxlen=10))
    assert _ret(st.host) == Ok((None, None, b"", False))
    # queued data still comes first
    h2 = host(socks=[Sock(3, None, 5000, mq=(M2,), shut=(True, False))])
    assert names_call(ctx(), h2, recvfrom(3, False)) == ["recvfrom_1"]


def test_recvfrom_14_shutdown_wakes_a_blocked_receiver() -> None:
    s = Sock(3, None, 5000, shut=(True, False))
    h = host(socks=[s], threads=[ThreadEntry(1, RecvFrom2(3))])
    _name, st = internal(ctx(), h, "recvfrom_14")
    assert _ret(st.host, 1) == Ok((None, None, b""))


def test_sendto_13_epipe_after_shut_wr_autobinds() -> None:
    h = host(socks=[Sock(3, shut=(False, True))])
    name, st = call(ctx(), h, sendto(3, (KURT, 7), b"x", False), eph=41000)
    assert name == "sendto_13" and _ret(st.host) == Fail(Errno.EPIPE)
    assert st.host.s[0].ps1 == 41000 and st.host.oq == ()
    # EPIPE after the pending error and after EMSGSIZE (the kernel's order)
    s = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED, shut=(False, True))
    assert names_call(ctx(), host(socks=[s]), sendto(3, None, b"x", False)) == ["sendto_5"]
    big = sendto(3, None, b"x" * 65508, False)
    assert names_call(ctx(), host(socks=[s]), big) == ["sendto_6"]


def test_sendto_14_shutdown_fails_a_blocked_sender() -> None:
    full = IPMsg(ALAN, KURT, UDP(5000, 7, b""))
    s = Sock(3, ALAN, 5000, shut=(False, True))
    h = replace(host(socks=[s], threads=[ThreadEntry(1, SendTo2(3, (KURT, 7), b"x",
                                                                (ALAN, 5000, None, None)))]),
                oq=(full,), oq_deadline=100, oqf=True)
    _name, st = internal(ctx(oq_cap=1), h, "sendto_14")
    assert _ret(st.host, 1) == Fail(Errno.EPIPE)


# Timeouts --------------------------------------------------------------------------------------

def test_jiffy_rounding() -> None:
    k = HostConsts()
    assert jiffies_ns(k, 0) is None and jiffies_ns(k, -5) == 0
    assert jiffies_ns(k, 1) == 4 * MS and jiffies_ns(k, 1500) == 4 * MS
    assert jiffies_ns(k, 5000) == 8 * MS and jiffies_ns(k, 100_000) == 100 * MS


def test_setsockopt_3_and_getsockopt_3_timeouts() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_RCVTIMEO, 1500))
    assert name == "setsockopt_3" and st.host.s[0].rcvtimeo == 4 * MS
    name, st2 = call(ctx(), set_thread(st.host, 0, RUN), getsockopt(3, SockOpt.SO_RCVTIMEO))
    assert name == "getsockopt_3" and _ret(st2.host) == Ok(4000)
    _, st = call(ctx(), h, setsockopt(3, SockOpt.SO_SNDTIMEO, -1))
    assert st.host.s[0].sndtimeo == 0
    # No timeout set (None): getsockopt_3 still applies and answers 0. Its guard's witness
    # is a 1-tuple, since a witness of None would mean "does not apply".
    name, st3 = call(ctx(), h, getsockopt(3, SockOpt.SO_SNDTIMEO))
    assert name == "getsockopt_3" and _ret(st3.host) == Ok(0)


def test_recvfrom_4_with_timeout_then_recvfrom_13() -> None:
    h = host(socks=[Sock(3, None, 5000, rcvtimeo=100 * MS)])
    name, st = call(ctx(now=7), h, recvfrom(3, False))
    assert name == "recvfrom_4"
    e = st.host.thread(0)
    assert e is not None and e.deadline == 7 + 100 * MS
    assert not host_violations(st.host, HostConsts(), now=7)
    c = ctx(now=7 + 100 * MS)
    name, st2 = internal(c, st.host, "recvfrom_13")
    assert _ret(st2.host) == Fail(Errno.EAGAIN)


def test_recvfrom_10_zero_timeout_gives_up_at_once() -> None:
    h = host(socks=[Sock(3, rcvtimeo=0)])
    name, st = call(ctx(), h, recvfrom(3, False))
    assert name == "recvfrom_10" and _ret(st.host) == Fail(Errno.EAGAIN)
    assert st.host.s[0].ps1 is None


def test_sendto_16_and_sendto_15_send_timeouts() -> None:
    full = IPMsg(ALAN, KURT, UDP(5000, 7, b""))

    def h(timeo: int) -> object:
        return replace(host(socks=[Sock(3, ALAN, 5000, sndtimeo=timeo)]), oq=(full,),
                       oq_deadline=100, oqf=True)

    name, st = call(ctx(oq_cap=1), h(0), sendto(3, (KURT, 7), b"x", False))  # type: ignore[arg-type]
    assert name == "sendto_16" and _ret(st.host) == Fail(Errno.EAGAIN)
    name, st = call(ctx(oq_cap=1), h(8 * MS), sendto(3, (KURT, 7), b"x", False))  # type: ignore[arg-type]
    assert name == "sendto_2"
    e = st.host.thread(0)
    assert e is not None and e.deadline == 8 * MS
    name, st2 = internal(ctx(now=8 * MS, oq_cap=1), replace(st.host, oq_deadline=9 * MS),
                         "sendto_15")
    assert _ret(st2.host) == Fail(Errno.EAGAIN)


# Receive buffer --------------------------------------------------------------------------------

def test_truesize_steps() -> None:
    assert [truesize(n) for n in (0, 197, 198, 1000, 1669, 1670, 16004, 16005, 65507)] == \
        [832, 832, 1280, 2304, 2304, 4352, 16640, 16837, 66339]
    assert LINUX_RMEM_DEFAULT // truesize(1000) == 92  # Linux keeps 92 of 1000


def test_setsockopt_4_clamps_and_doubles() -> None:
    h = host(socks=[Sock(3)])
    for v, want in ((0, 2304), (1000, 2304), (2304, 4608), (10_000, 20_000),
                    (10**9, 8388608), (-1, 8388608)):
        name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_RCVBUF, v))
        assert name == "setsockopt_4" and st.host.s[0].rcvbuf == want, v
    name, st = call(ctx(rmem_default=LINUX_RMEM_DEFAULT), h, getsockopt(3, SockOpt.SO_RCVBUF))
    assert name == "getsockopt_4" and _ret(st.host) == Ok(212992)
    _, st = call(ctx(), h, getsockopt(3, SockOpt.SO_RCVBUF))
    assert _ret(st.host) == Ok(None)  # the paper's unbounded queue


def test_delivery_loopback_udp_3_drops_when_full() -> None:
    m = IPMsg(LOCALHOST, LOCALHOST, UDP(6000, 5000, b"x" * 100))
    s = Sock(3, LOCALHOST, 5000, mq=(m, m), rcvbuf=2304)  # 2 × 832 queued; a third overflows
    assert not fits(HostConsts(), s, m)
    h = replace(host(ifds=LO_ONLY, socks=[s]), oq=(m,), oq_deadline=100)
    _name, st = internal(ctx(), h, "delivery_loopback_udp_3")
    assert st.host.s[0].mq == (m, m) and st.host.oq == ()
    # an empty queue always takes one datagram, however big
    big = IPMsg(LOCALHOST, LOCALHOST, UDP(6000, 5000, b"x" * 65507))
    assert fits(HostConsts(), replace(s, mq=()), big)


def test_delivery_in_udp_4_drops_when_full() -> None:
    s = Sock(3, None, 5000, mq=(M2, M2), rcvbuf=2304)
    name, st = recv(ctx(), host(socks=[s]), IPMsg(KURT, ALAN, UDP(7658, 5000, b"three")))
    assert name == "delivery_in_udp_4" and st.host.s[0].mq == (M2, M2)
    assert st.host.oq == ()  # no ICMP


# Broadcast -------------------------------------------------------------------------------------

def test_setsockopt_2_getsockopt_2_and_a_broadcast_send() -> None:
    h = host(ifds=LO_ONLY, socks=[Sock(3, LOCALHOST, 5000, lk=(True, True))])
    assert names_call(ctx(), h, sendto(3, (BROADCAST, 9), b"x", False)) == ["sendto_12"]
    name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_BROADCAST, True))
    assert name == "setsockopt_2"
    h2 = set_thread(st.host, 0, RUN)
    name, st = call(ctx(), h2, getsockopt(3, SockOpt.SO_BROADCAST))
    assert name == "getsockopt_2" and _ret(st.host) == Ok(True)
    name, st = call(ctx(), h2, sendto(3, (BROADCAST, 9), b"x", False))
    assert name == "sendto_1" and st.host.oq[0].dst == BROADCAST
    # unbound on a loopback-only host: no route even with the flag
    u = host(ifds=LO_ONLY, socks=[Sock(4, f=Flags(broadcast=True))])
    assert names_call(ctx(), u, sendto(4, (BROADCAST, 9), b"x", False)) == ["sendto_11"]
    # 127.255.255.255 is a broadcast address too
    assert names_call(ctx(), host(ifds=LO_ONLY, socks=[Sock(5)]),
                      sendto(5, (LO_BROADCAST, 9), b"x", False)) == ["sendto_12"]
    name, _ = call(ctx(), h2, connect(3, BROADCAST, 9))
    assert name == "connect_1"


def test_delivery_loopback_bcast_1_reaches_the_wildcard_socket_only() -> None:
    m = IPMsg(LOCALHOST, BROADCAST, UDP(5000, 6000, b"hi"))
    wild = Sock(4, None, 6000)
    spec = Sock(5, LOCALHOST, 6000)
    h = replace(host(ifds=LO_ONLY, socks=[spec, wild]), oq=(m,), oq_deadline=100)
    _, st = internal(ctx(), h, "delivery_loopback_bcast_1")
    assert [s.mq for s in st.host.s] == [(), (m,)]
    h2 = replace(host(ifds=LO_ONLY, socks=[spec]), oq=(m,), oq_deadline=100)
    _, st = internal(ctx(), h2, "delivery_loopback_bcast_2")
    assert st.host.oq == () and st.host.s[0].mq == ()  # dropped, no ICMP
    # a subnet broadcast with an ETH never goes to the network in the model
    sub = IPMsg(ALAN, ALAN | 0xFF, UDP(5000, 6000, b"hi"))
    h3 = replace(host(ifds=[eth(0, ALAN)], socks=[wild]), oq=(sub,), oq_deadline=100)
    _name, st = internal(ctx(), h3, "delivery_loopback_bcast_1")
    assert st.host.s[0].mq == (sub,)


def test_states_keep_their_defaults() -> None:
    """The paper's calls leave the new state alone (same Sock, same RecvFrom2)."""
    h = host(socks=[Sock(3, None, 5000)])
    _, st = call(ctx(), h, recvfrom(3, False))
    assert thread_state(st.host) == RecvFrom2(3)
    e = st.host.thread(0)
    assert e is not None and e.deadline == NEVER


def test_extension_fields_stay_out_of_encodings_at_their_default() -> None:
    """Traces and digests of the paper's programs stay byte-identical: the new fields are
    encoded only once they leave their defaults."""
    from udpsem.traces.encode import JsonText, dumps, jsonable

    plain, shut = Sock(3, None, 5000), Sock(3, None, 5000, shut=(True, False))
    enc = JsonText()
    for s in (plain, shut, recvfrom(3, False), recvfrom(3, False, maxlen=4)):
        assert enc(s) == dumps(jsonable(s))
    assert "shut" not in dumps(jsonable(plain)) and "shut" in dumps(jsonable(shut))
    assert "maxlen" not in enc(recvfrom(3, False)) and '"maxlen":4' in enc(recvfrom(3, False, 4))


# Loopback immediacy ------------------------------------------------------------------------------

def test_sendto_17_delivers_before_returning() -> None:
    c = ctx(loopback_sync=True)
    r = Sock(4, LOCALHOST, 6000)
    h = host(ifds=LO_ONLY, socks=[Sock(3, LOCALHOST, 5000), r])
    name, st = call(c, h, sendto(3, (LOCALHOST, 6000), b"now", False))
    assert name == "sendto_17" and st.host.oq == ()
    assert st.host.s[1].mq == (IPMsg(LOCALHOST, LOCALHOST, UDP(5000, 6000, b"now")),)
    # to a closed port: the connected sender has ECONNREFUSED when sendto returns
    s = Sock(3, LOCALHOST, 5000, LOCALHOST, 7000)
    name, st = call(c, host(ifds=LO_ONLY, socks=[s]), sendto(3, None, b"x", False))
    assert name == "sendto_17" and st.host.s[0].es == Errno.ECONNREFUSED
    assert _ret(st.host) == Ok(None) and st.host.oq == ()
    # without the setting, the paper's timing: queued, delivered later by the out-queue
    assert names_call(ctx(), host(ifds=LO_ONLY, socks=[s]),
                      sendto(3, None, b"x", False)) == ["sendto_1"]
    # an off-host destination still goes through the out-queue
    h3 = host(socks=[Sock(3, ALAN, 5000)])
    assert names_call(c, h3, sendto(3, (KURT, 7), b"x", False)) == ["sendto_1"]


# IP_RECVERR and the error queue ---------------------------------------------------------------------

def test_ip_recverr_errors_reach_unconnected_sockets_and_queue() -> None:
    from udpsem.hosts.state import ErrEntry
    from udpsem.network.messages import ICMP, IcmpKind

    s = Sock(3, None, 5000, f=Flags(recverr=True))
    icmp = IPMsg(KURT, ALAN, ICMP(IcmpKind.PORT_UNREACH, ALAN, 5000, KURT, 7))
    name, st = recv(ctx(), host(socks=[s]), icmp)
    assert name == "delivery_in_icmp_1"
    assert st.host.s[0].es == Errno.ECONNREFUSED
    # the entry: the error, the failed datagram's destination, its quoted payload (none: this
    # ICMP quotes addresses only), the ICMP's sender, its kind
    assert st.host.s[0].eq == (ErrEntry(Errno.ECONNREFUSED, KURT, 7, b"", KURT,
                                        IcmpKind.PORT_UNREACH),)
    host_unreach = IPMsg(KURT, ALAN, ICMP(IcmpKind.HOST_UNREACH, ALAN, 5000, KURT, 8))
    _, st2 = recv(ctx(), st.host, host_unreach)
    assert st2.host.s[0].es == Errno.EHOSTUNREACH and len(st2.host.s[0].eq) == 2
    # reading the queue: the next entry's error stays pending, the last read clears it
    name, st3 = call(ctx(), st2.host, recvfrom(3, True, errqueue=True))
    assert name == "recvfrom_15" and _ret(st3.host) == Ok((KURT, 7, Errno.ECONNREFUSED))
    assert st3.host.s[0].es == Errno.EHOSTUNREACH
    _, st4 = call(ctx(), set_thread(st3.host, 0, RUN), recvfrom(3, False, errqueue=True))
    assert st4.host.s[0].es is None and st4.host.s[0].eq == ()
    name, st5 = call(ctx(), set_thread(st4.host, 0, RUN), recvfrom(3, False, errqueue=True))
    assert name == "recvfrom_16" and _ret(st5.host) == Fail(Errno.EAGAIN)
    # without the option an unconnected socket hears nothing
    assert names_call(ctx(), host(socks=[Sock(3)]), setsockopt(3, SockOpt.IP_RECVERR, True)) \
        == ["setsockopt_2"]
    name, _ = recv(ctx(), host(socks=[Sock(3, None, 5000)]), icmp)
    assert name == "delivery_in_icmp_2"
    _, st7 = call(ctx(), host(socks=[s]), getsockopt(3, SockOpt.IP_RECVERR))
    assert _ret(st7.host) == Ok(True)
