"""disconnect, getsockname, getpeername, geterr, getsockopt, setsockopt and close
(docs/rules.md#connect_1, docs/rules.md#geterr_1, docs/rules.md#close_1)."""

from tests.hostkit import ALAN, KURT, call, ctx, host, names_call, thread_state
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import set_thread
from udpsem.hosts.calls import (
    close,
    disconnect,
    geterr,
    getpeername,
    getsockname,
    getsockopt,
    recvfrom,
    setsockopt,
)
from udpsem.hosts.state import RUN, Flags, RecvFrom2, Ret, Select2, SendTo2, Sock, ThreadEntry
from udpsem.hosts.values import LOCALHOST, Arch, Errno, Fail, Ok, SockOpt
from udpsem.network.messages import UDP, IPMsg

M1 = IPMsg(KURT, ALAN, UDP(7658, 40000, b"one"))


# disconnect_1 --------------------------------------------------------------------------------

def test_disconnect_1_forgets_autobound_address_and_port_and_fronts() -> None:
    c = ctx(now=300)
    s = Sock(3, ALAN, 40000, KURT, 7658, es=Errno.ECONNREFUSED, mq=(M1,))
    h = host(socks=[Sock(4, None, 6000), s])
    name, st = call(c, h, disconnect(3))
    assert name == "disconnect_1"
    assert st.host.s == (Sock(3, es=Errno.ECONNREFUSED, mq=(M1,)), Sock(4, None, 6000))
    e = st.host.thread(0)
    assert e is not None and e.state == Ret(Ok(None), "disconnect")
    assert e.deadline == 300 + c.timing.dsch


def test_disconnect_1_keeps_what_bind_fixed() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658, lk=(True, True))
    h = host(socks=[Sock(4, None, 6000), s])
    _, st = call(ctx(), h, disconnect(3))
    assert st.host.s == (Sock(4, None, 6000), Sock(3, ALAN, 5000, lk=(True, True)))
    s = Sock(3, ALAN, 5000, KURT, 7658, lk=(False, True))
    _, st = call(ctx(), host(socks=[Sock(4, None, 6000), s]), disconnect(3))
    assert st.host.s == (Sock(3, None, 5000, lk=(False, True)), Sock(4, None, 6000))


def test_disconnect_1_keeps_autobound_port_while_a_thread_is_blocked() -> None:
    s = Sock(3, ALAN, 40000, KURT, 7658)
    for blocked in (RecvFrom2(3), SendTo2(3, None, b"x", s.quad), Select2((3,), ())):
        h = host(socks=[s], threads=[ThreadEntry(1, blocked, NEVER)])
        _, st = call(ctx(), h, disconnect(3))
        assert st.host.s == (Sock(3, None, 40000),)


def test_disconnect_1_unconnected_socket() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), disconnect(3))
    assert name == "disconnect_1" and st.host.s == (Sock(3),)


# getsockname_1, getpeername_1/2 --------------------------------------------------------------

def test_getsockname_1() -> None:
    name, st = call(ctx(), host(socks=[Sock(3, ALAN, 5000, KURT, 9)]), getsockname(3))
    assert name == "getsockname_1"
    assert thread_state(st.host) == Ret(Ok((ALAN, 5000)), "getsockname")
    _, st = call(ctx(), host(socks=[Sock(3)]), getsockname(3))
    assert thread_state(st.host) == Ret(Ok((None, None)), "getsockname")


def test_getpeername_1() -> None:
    h = host(socks=[Sock(3, ALAN, 5000, KURT, 9)])
    name, st = call(ctx(), h, getpeername(3))
    assert name == "getpeername_1"
    assert thread_state(st.host) == Ret(Ok((KURT, 9)), "getpeername")
    assert st.host.s == h.s


def test_getpeername_2_no_peer_or_no_peer_port() -> None:
    for s in (Sock(3, None, 5000), Sock(3, LOCALHOST, 5000, LOCALHOST, None)):
        name, st = call(ctx(), host(socks=[s]), getpeername(3))
        assert name == "getpeername_2"
        assert thread_state(st.host) == Ret(Fail(Errno.ENOTCONN), "getpeername")


# geterr_1/2 ----------------------------------------------------------------------------------

def test_geterr_1_no_error() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), geterr(3))
    assert name == "geterr_1"
    assert thread_state(st.host) == Ret(Ok(None), "geterr")


def test_geterr_2_returns_and_clears_error() -> None:
    s = Sock(3, ALAN, 5000, KURT, 9, es=Errno.ECONNREFUSED)
    h = host(socks=[Sock(4), s])
    name, st = call(ctx(), h, geterr(3))
    assert name == "geterr_2"
    assert thread_state(st.host) == Ret(Ok(Errno.ECONNREFUSED), "geterr")
    assert st.host.s == (Sock(4), Sock(3, ALAN, 5000, KURT, 9))


# getsockopt_1, setsockopt_1 ------------------------------------------------------------------

def test_getsockopt_1_reuseaddr() -> None:
    h = host(socks=[Sock(3, f=Flags(False, True))])
    name, st = call(ctx(), h, getsockopt(3, SockOpt.SO_REUSEADDR))
    assert name == "getsockopt_1"
    assert thread_state(st.host) == Ret(Ok(True), "getsockopt")
    _, st = call(ctx(), host(socks=[Sock(3)]), getsockopt(3, SockOpt.SO_REUSEADDR))
    assert thread_state(st.host) == Ret(Ok(False), "getsockopt")


def test_getsockopt_1_bsdcompat_always_false_on_linux() -> None:
    h = host(socks=[Sock(3, f=Flags(True, False))])
    _, st = call(ctx(), h, getsockopt(3, SockOpt.SO_BSDCOMPAT))
    assert thread_state(st.host) == Ret(Ok(False), "getsockopt")
    for arch in (Arch.WINDOWS, Arch.FREEBSD):
        _, st = call(ctx(arch=arch), h, getsockopt(3, SockOpt.SO_BSDCOMPAT))
        assert thread_state(st.host) == Ret(Ok(True), "getsockopt")


def test_setsockopt_1_sets_each_flag_in_place() -> None:
    h = host(socks=[Sock(4), Sock(3, None, 5000)])
    name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_REUSEADDR, True))
    assert name == "setsockopt_1"
    assert st.host.s == (Sock(4), Sock(3, None, 5000, f=Flags(False, True)))
    assert thread_state(st.host) == Ret(Ok(None), "setsockopt")
    h2 = host(socks=[Sock(3, f=Flags(False, True))])
    _, st = call(ctx(), h2, setsockopt(3, SockOpt.SO_BSDCOMPAT, True))
    assert st.host.s == (Sock(3, f=Flags(True, True)),)
    _, st = call(ctx(), set_thread(st.host, 0, RUN), setsockopt(3, SockOpt.SO_REUSEADDR, False))
    assert st.host.s == (Sock(3, f=Flags(True, False)),)


# close_1/2 -----------------------------------------------------------------------------------

def test_close_1_removes_the_socket() -> None:
    h = host(socks=[Sock(4, None, 6000), Sock(3, None, 5000, mq=(M1,))],
             threads=[ThreadEntry(1, RecvFrom2(4), NEVER)])
    name, st = call(ctx(), h, close(3))
    assert name == "close_1"
    assert st.host.s == (Sock(4, None, 6000),)
    assert thread_state(st.host) == Ret(Ok(None), "close")


def test_close_2_orphans_a_socket_a_thread_is_blocked_on() -> None:
    s = Sock(3, None, 5000)
    for blocked in (RecvFrom2(3), SendTo2(3, (KURT, 9), b"x", (None, 5000, None, None)),
                    Select2((), (3,))):
        h = host(socks=[Sock(4), s], threads=[ThreadEntry(1, blocked, NEVER)])
        assert names_call(ctx(), h, close(3)) == ["close_2"]
        _, st = call(ctx(), h, close(3))
        assert st.host.s == (Sock(4), Sock(3, None, 5000, cl=True))
        assert thread_state(st.host) == Ret(Ok(None), "close")
        assert thread_state(st.host, 1) == blocked
        # every later call on the fd is EBADF
        again = set_thread(st.host, 0, RUN)
        assert names_call(ctx(), again, close(3)) == ["notsockfd_2"]
        assert names_call(ctx(), again, recvfrom(3, True)) == ["notsockfd_2"]
