"""recvfrom_* (docs/rules.md#recvfrom_1)."""

from tests.hostkit import (
    ALAN,
    KURT,
    call,
    ctx,
    fire,
    host,
    internal,
    names_call,
    names_internal,
    thread_state,
)
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import set_thread
from udpsem.hosts.calls import recvfrom
from udpsem.hosts.lts import internal_enabled, urgent
from udpsem.hosts.state import RUN, RecvFrom2, Ret, Sock, ThreadEntry
from udpsem.hosts.values import Arch, Errno, Fail, Ok
from udpsem.network.messages import UDP, IPMsg

M1 = IPMsg(KURT, ALAN, UDP(7658, 5000, b"one"))
M2 = IPMsg(KURT, ALAN, UDP(None, 5000, b"two"))


def test_recvfrom_1_takes_the_head_datagram() -> None:
    c = ctx(now=500)
    h = host(socks=[Sock(4, None, 6000), Sock(3, None, 5000, mq=(M1, M2))])
    name, st = call(c, h, recvfrom(3, False))
    assert name == "recvfrom_1"
    assert st.host.s == (Sock(4, None, 6000), Sock(3, None, 5000, mq=(M2,)))
    e = st.host.thread(0)
    assert e is not None and e.state == Ret(Ok((KURT, 7658, b"one")), "recvfrom")
    assert e.deadline == 500 + c.timing.dsch
    _, st2 = call(c, set_thread(st.host, 0, RUN), recvfrom(3, True))
    assert thread_state(st2.host) == Ret(Ok((KURT, None, b"two")), "recvfrom")


def test_recvfrom_2_nonblocking_empty_does_not_autobind() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(), h, recvfrom(3, True))
    assert name == "recvfrom_2"
    assert st.host.s == (Sock(3),)
    assert thread_state(st.host) == Ret(Fail(Errno.EAGAIN), "recvfrom")


def test_recvfrom_3_error_before_queued_data() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED, mq=(M1,))
    for nb in (True, False):
        name, st = call(ctx(), host(socks=[s]), recvfrom(3, nb))
        assert name == "recvfrom_3"
        assert st.host.s[0] == Sock(3, ALAN, 5000, KURT, 7658, mq=(M1,))
        assert thread_state(st.host) == Ret(Fail(Errno.ECONNREFUSED), "recvfrom")


def test_recvfrom_4_blocks_and_autobinds() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 6000)])
    name, st = call(ctx(), h, recvfrom(3, False), eph=41000)
    assert name == "recvfrom_4"
    assert st.host.s == (Sock(3, None, 41000), Sock(4, None, 6000))
    e = st.host.thread(0)
    assert e is not None and e.state == RecvFrom2(3) and e.deadline == NEVER


def test_recvfrom_4_bound_socket_keeps_port() -> None:
    h = host(socks=[Sock(3, ALAN, 5000)])
    name, st = call(ctx(), h, recvfrom(3, False))
    assert name == "recvfrom_4" and st.host.s == h.s


def test_recvfrom_5_blocking_without_ephemeral_port() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 50000)])
    name, st = call(ctx(eph=(50000, 50000)), h, recvfrom(3, False))
    assert name == "recvfrom_5"
    assert st.host.s == h.s
    assert thread_state(st.host) == Ret(Fail(Errno.EAGAIN), "recvfrom")
    # non-blocking: recvfrom_2, which never autobinds
    assert names_call(ctx(eph=(50000, 50000)), h, recvfrom(3, True)) == ["recvfrom_2"]
    # data queued: no bind needed
    h2 = host(socks=[Sock(3, mq=(M1,)), Sock(4, None, 50000)])
    assert names_call(ctx(eph=(50000, 50000)), h2, recvfrom(3, False)) == ["recvfrom_1"]


def test_recvfrom_6_wakes_a_blocked_reader() -> None:
    c = ctx(now=100)
    h = host(socks=[Sock(3, None, 5000, mq=(M1,))],
             threads=[ThreadEntry(1, RecvFrom2(3), NEVER)])
    assert names_internal(c, h) == ["recvfrom_6"] and urgent(c, h)
    _, st = internal(c, h, "recvfrom_6")
    assert st.host.s == (Sock(3, None, 5000),)
    e = st.host.thread(1)
    assert e is not None and e.state == Ret(Ok((KURT, 7658, b"one")), "recvfrom")
    assert e.deadline == 100 + c.timing.dsch


def test_recvfrom_6_one_datagram_two_readers() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(M1,))],
             threads=[ThreadEntry(1, RecvFrom2(3), NEVER), ThreadEntry(2, RecvFrom2(3), NEVER)])
    enabled = internal_enabled(ctx(), h)
    assert [(e.rule.name, e.tid) for e in enabled] == [("recvfrom_6", 1), ("recvfrom_6", 2)]
    _, st = fire(enabled[:1])
    assert thread_state(st.host, 1) == Ret(Ok((KURT, 7658, b"one")), "recvfrom")
    assert thread_state(st.host, 2) == RecvFrom2(3)
    assert "recvfrom_6" not in names_internal(ctx(), st.host)


def test_recvfrom_6_not_on_empty_queue() -> None:
    h = host(socks=[Sock(3, None, 5000)], threads=[ThreadEntry(1, RecvFrom2(3), NEVER)])
    assert names_internal(ctx(), h) == []
    assert not urgent(ctx(), h)


def test_recvfrom_6_on_orphan_then_gc() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(M1,), cl=True)],
             threads=[ThreadEntry(1, RecvFrom2(3), NEVER)])
    _, st = internal(ctx(), h, "recvfrom_6")
    assert st.host.s == ()
    assert thread_state(st.host, 1) == Ret(Ok((KURT, 7658, b"one")), "recvfrom")


def test_recvfrom_7_error_while_blocked_also_on_windows() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED, mq=(M1,))
    h = host(socks=[s], threads=[ThreadEntry(1, RecvFrom2(3), NEVER)])
    for arch in (Arch.LINUX, Arch.WINDOWS):
        assert names_internal(ctx(arch=arch), h) == ["recvfrom_7"]
        _, st = internal(ctx(arch=arch), h, "recvfrom_7")
        assert st.host.s == (Sock(3, ALAN, 5000, KURT, 7658, mq=(M1,)),)
        assert thread_state(st.host, 1) == Ret(Fail(Errno.ECONNREFUSED), "recvfrom")
