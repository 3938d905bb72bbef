"""socket_* and bind_* (docs/rules.md#socket_1)."""

from dataclasses import replace

from tests.hostkit import ALAN, KURT, call, ctx, host, names_call, thread_state
from udpsem.hosts.calls import bind, socket
from udpsem.hosts.state import Flags, Ret, Sock
from udpsem.hosts.values import Errno, Fail, Ok


def test_socket_1_least_free_fd() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), socket())
    assert name == "socket_1"
    assert thread_state(st.host) == Ret(Ok(4), "socket")
    assert st.host.s[0] == Sock(4)


def test_socket_2_emfile() -> None:
    name, st = call(ctx(open_max=4), host(socks=[Sock(3)]), socket())
    assert name == "socket_2"
    assert thread_state(st.host).value == Fail(Errno.EMFILE)


def test_bind_1_explicit_and_front() -> None:
    h = host(socks=[Sock(3), Sock(4)])
    name, st = call(ctx(), h, bind(4, None, 7658))
    assert name == "bind_1"
    assert st.host.s[0] == Sock(4, None, 7658, lk=(False, True))
    assert thread_state(st.host) == Ret(Ok(None), "bind")


def test_bind_1_ephemeral_is_a_choice() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), bind(3, None, None), eph=40000)
    assert name == "bind_1" and st.host.s[0].ps1 == 40000 and st.host.s[0].lk == (False, False)


def test_bind_failures_in_linux_order() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 2000)])
    assert names_call(ctx(), h, bind(3, KURT, 80)) == ["bind_2"]
    assert names_call(ctx(), h, bind(3, ALAN, 80)) == ["bind_3"]
    assert names_call(ctx(), h, bind(4, ALAN, 2001)) == ["bind_4"]
    assert names_call(ctx(), h, bind(3, None, 2000)) == ["bind_5"]
    assert names_call(ctx(linux_error_order=False), h, bind(4, KURT, 80)) == [
        "bind_2", "bind_3", "bind_4"]


def test_bind_5_not_with_reuseaddr_on_both() -> None:
    f = Flags(False, True)
    h = host(socks=[Sock(3, f=f), Sock(4, None, 2000, f=f)])
    assert names_call(ctx(), h, bind(3, None, 2000)) == ["bind_1"]


def test_bind_6_no_ephemeral_port() -> None:
    h = host(socks=[Sock(3), Sock(4, None, 50000)])
    assert names_call(ctx(eph=(50000, 50000)), h, bind(3, None, None)) == ["bind_6"]


def test_notsockfd() -> None:
    h = host(socks=[replace(Sock(3), cl=True)])
    assert names_call(ctx(), h, bind(1, None, None)) == ["notsockfd_1"]
    assert names_call(ctx(), h, bind(3, None, None)) == ["notsockfd_2"]
    assert names_call(ctx(), h, bind(9, None, None)) == ["notsockfd_2"]
