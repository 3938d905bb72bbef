"""connect_* (docs/rules.md#connect_1)."""

from tests.hostkit import ALAN, KURT, call, ctx, host, names_call, thread_state
from udpsem.hosts.calls import connect
from udpsem.hosts.state import RecvFrom2, Ret, Sock, ThreadEntry
from udpsem.hosts.values import LOCALHOST, Arch, Errno, Fail, Ok, ip
from udpsem.network.messages import UDP, IPMsg

BCAST = ip("255.255.255.255")
SUBNET_BCAST = ip("192.168.0.255")


def test_connect_1_autobinds_sets_local_address_and_fronts() -> None:
    c = ctx(now=1000)
    h = host(socks=[Sock(4, None, 6000), Sock(3)])
    name, st = call(c, h, connect(3, KURT, 7658), eph=40000)
    assert name == "connect_1"
    assert st.host.s == (Sock(3, ALAN, 40000, KURT, 7658), Sock(4, None, 6000))
    e = st.host.thread(0)
    assert e is not None and e.state == Ret(Ok(None), "connect")
    assert e.deadline == 1000 + c.timing.dsch
    assert st.host.oq == ()


def test_connect_1_keeps_bound_address_position_error_and_queue() -> None:
    m = IPMsg(KURT, ALAN, UDP(9, 5000, b"old"))
    s = Sock(4, ALAN, 5000, es=Errno.ECONNREFUSED, mq=(m,), lk=(True, True))
    h = host(socks=[Sock(3, None, 6000), s])
    name, st = call(ctx(), h, connect(4, KURT, None))
    assert name == "connect_1"
    assert st.host.s[0] == Sock(3, None, 6000)
    assert st.host.s[1] == Sock(4, ALAN, 5000, KURT, None, Errno.ECONNREFUSED, mq=(m,),
                                lk=(True, True))


def test_connect_1_reconnect_changes_peer() -> None:
    h = host(socks=[Sock(3, ALAN, 40000, KURT, 7658)])
    name, st = call(ctx(), h, connect(3, ip("192.168.0.20"), 53))
    assert name == "connect_1"
    assert st.host.s[0] == Sock(3, ALAN, 40000, ip("192.168.0.20"), 53)


def test_connect_1_zero_address_means_this_host_on_linux() -> None:
    name, st = call(ctx(), host(socks=[Sock(3, None, 5000)]), connect(3, 0, 9))
    assert name == "connect_1"
    assert st.host.s[0] == Sock(3, LOCALHOST, 5000, LOCALHOST, 9)


def test_connect_1_zero_address_is_not_normalised_on_windows() -> None:
    name, st = call(ctx(arch=Arch.WINDOWS), host(socks=[Sock(3, None, 5000)]), connect(3, 0, 9))
    assert name == "connect_1"
    assert st.host.s[0] == Sock(3, ALAN, 5000, 0, 9)


def test_connect_1_broadcast_accepted_off_linux() -> None:
    for arch in (Arch.WINDOWS, Arch.FREEBSD):
        name, st = call(ctx(arch=arch), host(socks=[Sock(3, None, 5000)]),
                        connect(3, BCAST, 9))
        assert name == "connect_1"
        assert st.host.s[0].is2 == BCAST


def test_connect_2_no_route_autobinds_and_keeps_old_peer() -> None:
    h = host(ifds=[], socks=[Sock(3), Sock(4, LOCALHOST, 5000, LOCALHOST, 9)])
    name, st = call(ctx(), h, connect(3, KURT, 7658), eph=40001)
    assert name == "connect_2"
    assert st.host.s[0] == Sock(3, None, 40001)
    assert thread_state(st.host) == Ret(Fail(Errno.ENETUNREACH), "connect")
    name, st = call(ctx(), h, connect(4, KURT, 7658))
    assert name == "connect_2"
    assert st.host.s[1] == Sock(4, LOCALHOST, 5000, LOCALHOST, 9)


def test_connect_2_not_for_local_destination_on_loopback_only_host() -> None:
    h = host(ifds=[], socks=[Sock(3, None, 5000)])
    assert names_call(ctx(), h, connect(3, ip("127.0.0.5"), 9)) == ["connect_1"]


def test_connect_3_broadcast_on_linux_autobinds() -> None:
    h = host(socks=[Sock(3)])
    for dst in (BCAST, SUBNET_BCAST):
        name, st = call(ctx(), h, connect(3, dst, 9), eph=40002)
        assert name == "connect_3"
        assert st.host.s[0] == Sock(3, None, 40002)
        assert thread_state(st.host) == Ret(Fail(Errno.EACCES), "connect")


def test_connect_4_no_ephemeral_port() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 50000)])
    name, st = call(ctx(eph=(50000, 50000)), h, connect(3, KURT, 7658))
    assert name == "connect_4"
    assert st.host.s == h.s
    assert thread_state(st.host) == Ret(Fail(Errno.EAGAIN), "connect")


def test_connect_4_not_when_already_bound() -> None:
    h = host(socks=[Sock(3, None, 50001), Sock(4, None, 50000)])
    assert names_call(ctx(eph=(50000, 50000)), h, connect(3, KURT, 7658)) == ["connect_1"]


def test_connect_failures_in_linux_order() -> None:
    h = host(ifds=[], socks=[Sock(3), Sock(4, None, 50000)])
    # no route and broadcast: 2 before 3
    assert names_call(ctx(), h, connect(3, BCAST, 9)) == ["connect_2"]
    assert names_call(ctx(linux_error_order=False), h, connect(3, BCAST, 9)) == [
        "connect_2", "connect_3"]
    # no ephemeral port: 4 only, the others need the autobind
    assert names_call(ctx(eph=(50000, 50000), linux_error_order=False), h,
                      connect(3, BCAST, 9)) == ["connect_4"]


def test_connect_on_closed_socket_is_ebadf() -> None:
    h = host(socks=[Sock(3, None, 5000, cl=True)],
             threads=[ThreadEntry(1, RecvFrom2(3))])
    assert names_call(ctx(), h, connect(3, KURT, 9)) == ["notsockfd_2"]
