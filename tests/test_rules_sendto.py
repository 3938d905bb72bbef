"""sendto_* (docs/rules.md#sendto_1)."""

from collections.abc import Sequence

from tests.hostkit import (
    ALAN,
    KURT,
    call,
    ctx,
    host,
    internal,
    names_call,
    names_internal,
)
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import Quad
from udpsem.hosts.calls import sendto
from udpsem.hosts.lts import urgent
from udpsem.hosts.state import Host, Ret, SendTo2, Sock, ThreadEntry
from udpsem.hosts.values import LOCALHOST, Arch, Errno, Fail, Ok, ip
from udpsem.network.messages import UDP, IPMsg

BCAST = ip("255.255.255.255")
OTHER = IPMsg(ALAN, KURT, UDP(1234, 9, b"queued"))


def full_host(socks: Sequence[Sock], threads: Sequence[ThreadEntry] = ()) -> Host:
    """A host whose out-queue (capacity 1, see `ctx(oq_cap=1)`) holds one message."""
    h = host(socks=socks, threads=threads)
    return Host(h.ifds, h.ts, h.s, (OTHER,), 700, True)


def ret_of(h: Host, tid: int = 0) -> object:
    e = h.thread(tid)
    assert e is not None
    return e.state


# sendto_1 ------------------------------------------------------------------------------------

def test_sendto_1_autobinds_and_queues_the_datagram() -> None:
    c = ctx(now=1000)
    h = host(socks=[Sock(4, None, 6000), Sock(3)])
    name, st = call(c, h, sendto(3, (KURT, 7658), b"hi", False), eph=40000)
    assert name == "sendto_1"
    assert st.host.s == (Sock(4, None, 6000), Sock(3, None, 40000))  # position kept
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(40000, 7658, b"hi")),)
    assert st.host.oq_deadline == 1000 + c.timing.doq and not st.host.oqf
    e = st.host.thread(0)
    assert e is not None and e.state == Ret(Ok(None), "sendto")
    assert e.deadline == 1000 + c.timing.dsch


def test_sendto_1_to_peer_behind_a_queued_message() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658)])
    h = Host(h.ifds, h.ts, h.s, (OTHER,), 700, False)
    name, st = call(ctx(oq_cap=2), h, sendto(3, None, b"x", True))
    assert name == "sendto_1"
    assert st.host.oq == (OTHER, IPMsg(ALAN, KURT, UDP(5000, 7658, b"x")))
    assert st.host.oq_deadline == 700 and st.host.oqf


def test_sendto_1_explicit_destination_overrides_peer() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658)])
    name, st = call(ctx(), h, sendto(3, (ip("192.168.0.20"), 53), b"q", False))
    assert name == "sendto_1"
    assert st.host.oq == (IPMsg(ALAN, ip("192.168.0.20"), UDP(5000, 53, b"q")),)


def test_sendto_1_peer_without_port_sends_to_port_0() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, None)])
    _, st = call(ctx(), h, sendto(3, None, b"", False))
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(5000, None, b"")),)


def test_sendto_1_zero_address_is_this_host_on_linux() -> None:
    name, st = call(ctx(), host(socks=[Sock(3, None, 5000)]), sendto(3, (0, 9), b"z", False))
    assert name == "sendto_1"
    assert st.host.oq == (IPMsg(LOCALHOST, LOCALHOST, UDP(5000, 9, b"z")),)


def test_sendto_1_payload_limits() -> None:
    h = host(socks=[Sock(3, None, 5000)])
    assert names_call(ctx(), h, sendto(3, (KURT, 9), bytes(65507), False)) == ["sendto_1"]
    assert names_call(ctx(arch=Arch.FREEBSD), h,
                      sendto(3, (KURT, 9), bytes(9216), False)) == ["sendto_1"]


def test_sendto_1_windows_ignores_and_keeps_pending_error() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 9, es=Errno.ECONNREFUSED)])
    name, st = call(ctx(arch=Arch.WINDOWS), h, sendto(3, None, b"w", False))
    assert name == "sendto_1"
    assert st.host.s[0].es == Errno.ECONNREFUSED
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(5000, 9, b"w")),)


def test_sendto_1_broadcast_off_linux() -> None:
    h = host(socks=[Sock(3, None, 5000)])
    name, st = call(ctx(arch=Arch.FREEBSD), h, sendto(3, (BCAST, 9), b"b", False))
    assert name == "sendto_1"
    assert st.host.oq == (IPMsg(ALAN, BCAST, UDP(5000, 9, b"b")),)


# sendto_2 / sendto_3 -------------------------------------------------------------------------

def test_sendto_2_blocks_on_full_queue_recording_quad() -> None:
    h = full_host([Sock(3, None, None, None, None)])
    name, st = call(ctx(oq_cap=1), h, sendto(3, (KURT, 7658), b"d", False), eph=40003)
    assert name == "sendto_2"
    assert st.host.s[0] == Sock(3, None, 40003)
    e = st.host.thread(0)
    assert e is not None
    assert e.state == SendTo2(3, (KURT, 7658), b"d", (None, 40003, None, None))
    assert e.deadline == NEVER
    assert st.host.oq == (OTHER,) and st.host.oqf


def test_sendto_3_nonblocking_on_full_queue() -> None:
    h = full_host([Sock(3)])
    name, st = call(ctx(oq_cap=1), h, sendto(3, (KURT, 7658), b"d", True), eph=40004)
    assert name == "sendto_3"
    assert st.host.s[0] == Sock(3, None, 40004)
    assert ret_of(st.host) == Ret(Fail(Errno.EAGAIN), "sendto")
    assert st.host.oq == (OTHER,)


def test_sendto_2_and_3_not_with_pending_error_except_on_windows() -> None:
    h = full_host([Sock(3, ALAN, 5000, KURT, 9, es=Errno.ECONNREFUSED)])
    assert names_call(ctx(oq_cap=1), h, sendto(3, None, b"d", False)) == ["sendto_5"]
    assert names_call(ctx(oq_cap=1), h, sendto(3, None, b"d", True)) == ["sendto_5"]
    w = ctx(oq_cap=1, arch=Arch.WINDOWS)
    assert names_call(w, h, sendto(3, None, b"d", False)) == ["sendto_2"]
    assert names_call(w, h, sendto(3, None, b"d", True)) == ["sendto_3"]


# failures ------------------------------------------------------------------------------------

def test_sendto_4_no_destination_autobinds() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(), h, sendto(3, None, b"d", False), eph=40005)
    assert name == "sendto_4"
    assert st.host.s[0] == Sock(3, None, 40005)
    assert ret_of(st.host) == Ret(Fail(Errno.EDESTADDRREQ), "sendto")
    name, st = call(ctx(arch=Arch.WINDOWS), h, sendto(3, None, b"d", False))
    assert name == "sendto_4"
    assert ret_of(st.host) == Ret(Fail(Errno.ENOTCONN), "sendto")


def test_sendto_5_reports_and_clears_pending_error() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 9, es=Errno.ECONNREFUSED)])
    name, st = call(ctx(), h, sendto(3, None, b"d", False))
    assert name == "sendto_5"
    assert st.host.s[0] == Sock(3, ALAN, 5000, KURT, 9)
    assert ret_of(st.host) == Ret(Fail(Errno.ECONNREFUSED), "sendto")
    assert st.host.oq == ()
    name, st = call(ctx(arch=Arch.FREEBSD),
                    host(socks=[Sock(3, es=Errno.EHOSTUNREACH)]),
                    sendto(3, (KURT, 9), b"d", False), eph=50000)
    assert name == "sendto_5"
    assert st.host.s[0] == Sock(3, None, 50000)
    assert ret_of(st.host) == Ret(Fail(Errno.EHOSTUNREACH), "sendto")


def test_sendto_6_too_big_autobinds() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(), h, sendto(3, (KURT, 9), bytes(65508), False), eph=40006)
    assert name == "sendto_6"
    assert st.host.s[0] == Sock(3, None, 40006)
    assert ret_of(st.host) == Ret(Fail(Errno.EMSGSIZE), "sendto")
    assert names_call(ctx(arch=Arch.FREEBSD), h,
                      sendto(3, (KURT, 9), bytes(9217), False)) == ["sendto_6"]


def test_sendto_7_no_ephemeral_port() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 50000)])
    name, st = call(ctx(eph=(50000, 50000)), h, sendto(3, (KURT, 9), b"d", False))
    assert name == "sendto_7"
    assert st.host.s == h.s
    assert ret_of(st.host) == Ret(Fail(Errno.EAGAIN), "sendto")
    # a bound socket needs no ephemeral port
    h = host(socks=[Sock(3, None, 7000), Sock(4, None, 50000)])
    assert names_call(ctx(eph=(50000, 50000)), h, sendto(3, (KURT, 9), b"d", False)) == [
        "sendto_1"]


def test_sendto_11_no_route_autobinds() -> None:
    h = host(ifds=[], socks=[Sock(3)])
    name, st = call(ctx(), h, sendto(3, (KURT, 9), b"d", False), eph=40007)
    assert name == "sendto_11"
    assert st.host.s[0] == Sock(3, None, 40007)
    assert ret_of(st.host) == Ret(Fail(Errno.ENETUNREACH), "sendto")
    assert st.host.oq == ()
    # loopback destinations are routable on a loopback-only host
    assert names_call(ctx(), h, sendto(3, (ip("127.0.0.9"), 9), b"d", False)) == ["sendto_1"]


def test_sendto_12_broadcast_on_linux() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, ip("192.168.0.255"), 9)])
    name, st = call(ctx(), h, sendto(3, None, b"d", False))
    assert name == "sendto_12"
    assert ret_of(st.host) == Ret(Fail(Errno.EACCES), "sendto")
    assert st.host.s == h.s and st.host.oq == ()
    assert names_call(ctx(), h, sendto(3, (BCAST, 9), b"d", False)) == ["sendto_12"]


def test_sendto_failures_in_linux_order() -> None:
    h = host(ifds=[], socks=[Sock(3, es=Errno.ECONNREFUSED), Sock(4, None, 50000)])
    big = bytes(70000)
    assert names_call(ctx(), h, sendto(3, None, big, False)) == ["sendto_4"]
    assert names_call(ctx(), h, sendto(3, (KURT, 9), big, False)) == ["sendto_11"]
    assert names_call(ctx(), h, sendto(3, (BCAST, 9), big, False)) == ["sendto_11"]
    assert names_call(ctx(linux_error_order=False), h, sendto(3, (BCAST, 9), big, False)) == [
        "sendto_11", "sendto_12", "sendto_6", "sendto_5"]
    assert names_call(ctx(), h, sendto(3, (LOCALHOST, 9), big, False)) == ["sendto_6"]
    assert names_call(ctx(eph=(50000, 50000), linux_error_order=False), h,
                      sendto(3, None, big, False)) == ["sendto_7"]


# slow rules ----------------------------------------------------------------------------------

def blocked(fd: int = 3, dest: tuple[int, int] | None = None,
            q: Quad = (ALAN, 5000, KURT, 7658)) -> ThreadEntry:
    return ThreadEntry(1, SendTo2(fd, dest, b"late", q), NEVER)


def test_sendto_8_sends_once_the_queue_has_room() -> None:
    c = ctx(now=2000, oq_cap=1)
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658)], threads=[blocked()])
    assert names_internal(c, h) == ["sendto_8"] and urgent(c, h)
    _, st = internal(c, h, "sendto_8")
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(5000, 7658, b"late")),)
    assert st.host.oq_deadline == 2000 + c.timing.doq and st.host.oqf
    e = st.host.thread(1)
    assert e is not None and e.state == Ret(Ok(None), "sendto")
    assert e.deadline == 2000 + c.timing.dsch


def test_sendto_8_not_while_queue_full() -> None:
    c = ctx(oq_cap=1)
    h = full_host([Sock(3, ALAN, 5000, KURT, 7658)], [blocked()])
    assert "sendto_8" not in names_internal(c, h)


def test_sendto_8_linux_uses_recorded_quad_after_disconnect() -> None:
    h = host(socks=[Sock(3)], threads=[blocked(q=(None, 40000, KURT, 7658))])
    _, st = internal(ctx(), h, "sendto_8")
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(40000, 7658, b"late")),)


def test_sendto_8_windows_ignores_pending_error() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED)],
             threads=[blocked()])
    c = ctx(arch=Arch.WINDOWS)
    assert names_internal(c, h) == ["sendto_8"]
    _, st = internal(c, h, "sendto_8")
    assert st.host.s[0].es == Errno.ECONNREFUSED and len(st.host.oq) == 1


def test_sendto_8_on_orphan_then_gc() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 7658, cl=True)], threads=[blocked()])
    _, st = internal(ctx(), h, "sendto_8")
    assert st.host.s == ()
    assert st.host.oq == (IPMsg(ALAN, KURT, UDP(5000, 7658, b"late")),)


def test_sendto_9_error_while_blocked() -> None:
    h = full_host([Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED)], [blocked()])
    c = ctx(oq_cap=1)
    assert "sendto_9" in names_internal(c, h) and "sendto_8" not in names_internal(c, h)
    _, st = internal(c, h, "sendto_9")
    assert st.host.s[0].es is None
    assert ret_of(st.host, 1) == Ret(Fail(Errno.ECONNREFUSED), "sendto")
    assert st.host.oq == (OTHER,)
    assert "sendto_9" not in names_internal(ctx(oq_cap=1, arch=Arch.WINDOWS), h)


def test_sendto_10_disconnected_while_blocked_off_linux() -> None:
    h = full_host([Sock(3, None, 40000)], [blocked(q=(ALAN, 40000, KURT, 7658))])
    _, st = internal(ctx(oq_cap=1, arch=Arch.FREEBSD), h, "sendto_10")
    assert ret_of(st.host, 1) == Ret(Fail(Errno.EDESTADDRREQ), "sendto")
    assert st.host.oq == (OTHER,)
    _, st = internal(ctx(oq_cap=1, arch=Arch.WINDOWS), h, "sendto_10")
    assert ret_of(st.host, 1) == Ret(Fail(Errno.ENOTCONN), "sendto")
    # with room in the queue, off linux a disconnected peer-send fails instead of sending
    h2 = host(socks=[Sock(3, None, 40000)], threads=[blocked(q=(ALAN, 40000, KURT, 7658))])
    assert names_internal(ctx(arch=Arch.FREEBSD), h2) == ["sendto_10"]
    assert names_internal(ctx(), h2) == ["sendto_8"]


def test_sendto_10_not_with_explicit_destination() -> None:
    h = full_host([Sock(3, None, 40000)], [blocked(dest=(KURT, 9), q=(None, 40000, None, None))])
    assert "sendto_10" not in names_internal(ctx(oq_cap=1, arch=Arch.FREEBSD), h)


def test_sendto_10_defers_to_a_pending_error_on_freebsd() -> None:
    """Regression (found by the intended-overlap sanity property): a blocked peer-send on a
    disconnected freebsd socket with a pending error takes sendto_9 only."""
    from tests.hostkit import ctx, host, names_internal
    from udpsem.base.time import NEVER
    from udpsem.hosts.state import SendTo2, Sock, ThreadEntry
    from udpsem.hosts.values import Arch, Errno

    blocked = ThreadEntry(1, SendTo2(3, None, b"x", (None, 40000, None, None)), NEVER)
    h = host(socks=[Sock(3, None, 40000, es=Errno.ECONNREFUSED)], threads=[blocked])
    assert names_internal(ctx(arch=Arch.FREEBSD, oq_cap=1), h) == ["sendto_9"]
    h2 = host(socks=[Sock(3, None, 40000)], threads=[blocked])
    assert names_internal(ctx(arch=Arch.FREEBSD, oq_cap=1), h2) == ["sendto_10"]
