"""select_1..select_5 (docs/rules.md#select_1)."""

from dataclasses import replace

from tests.hostkit import (
    ALAN,
    KURT,
    call,
    ctx,
    host,
    internal,
    names_call,
    names_internal,
    thread_state,
)
from udpsem.base.registry import get
from udpsem.base.time import MS, NEVER
from udpsem.hosts.calls import select
from udpsem.hosts.lts import urgent
from udpsem.hosts.state import Host, Ret, Select2, Sock, ThreadEntry
from udpsem.hosts.values import Errno, Fail, Ok
from udpsem.network.messages import UDP, IPMsg

MSG = IPMsg(KURT, ALAN, UDP(4000, 5000, b"beat"))


def blocked(rs: tuple[int, ...], ws: tuple[int, ...], deadline: int = NEVER,
            socks: list[Sock] | None = None, oqf: bool = False) -> Host:
    h = host(socks=socks or [], threads=[ThreadEntry(1, Select2(rs, ws), deadline)])
    return replace(h, oqf=oqf, oq=(MSG,) if oqf else (), oq_deadline=MS if oqf else NEVER)


# select_1 ----------------------------------------------------------------------------------

def test_select_1_with_timeout_sets_sharp_deadline() -> None:
    name, st = call(ctx(now=7 * MS), host(socks=[Sock(3)]), select([3], [1], 2500))
    assert name == "select_1"
    e = st.host.thread(0)
    assert e is not None and e.state == Select2((3,), (1,)) and e.deadline == 7 * MS + 2_500_000


def test_select_1_without_timeout_never() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), select([3, 3], [], None))
    assert name == "select_1"
    e = st.host.thread(0)
    assert e is not None and e.state == Select2((3, 3), ()) and e.deadline == NEVER


def test_select_1_even_when_ready_and_timeout_zero() -> None:
    h = host(socks=[Sock(3, None, 5000, mq=(MSG,))])
    name, st = call(ctx(now=5), h, select([3], [], 0))
    assert name == "select_1"
    assert st.host.thread(0).deadline == 5  # type: ignore[union-attr]
    # ... and select_3 then answers at once (urgent).
    assert names_internal(ctx(now=5), st.host) == ["select_3"]


def test_select_1_accepts_console_and_empty_sets() -> None:
    assert names_call(ctx(), host(), select([0], [1, 2], 10)) == ["select_1"]
    assert names_call(ctx(), host(), select([], [], None)) == ["select_1"]


# select_2 / select_5 -----------------------------------------------------------------------

def test_select_2_unknown_fd() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), select([3], [4], None))
    assert name == "select_2"
    assert thread_state(st.host) == Ret(Fail(Errno.EBADF), "select")


def test_select_2_closed_orphan_is_bad() -> None:
    orphan = Sock(3, None, 5000, cl=True)
    h = host(socks=[orphan], threads=[ThreadEntry(1, Select2((3,), ()), NEVER)])
    assert names_call(ctx(), h, select([3], [], None)) == ["select_2"]


def test_select_5_negative_timeout() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), select([3], [], -1))
    assert name == "select_5"
    assert thread_state(st.host) == Ret(Fail(Errno.EINVAL), "select")


def test_select_5_before_select_2_in_linux_order() -> None:
    h = host()
    assert names_call(ctx(), h, select([9], [], -1)) == ["select_5"]
    assert names_call(ctx(linux_error_order=False), h, select([9], [], -1)) == [
        "select_5", "select_2"]


# select_3 ----------------------------------------------------------------------------------

def test_select_3_readable_and_writable_keep_order_and_duplicates() -> None:
    socks = [Sock(3, None, 5000, mq=(MSG,)), Sock(4, None, 5001),
             Sock(5, None, 5002, es=Errno.ECONNREFUSED)]
    h = blocked((4, 3, 5, 3, 0), (5, 1, 4), deadline=3 * MS, socks=socks)
    assert get("select_3").urgent
    assert urgent(ctx(now=MS), h)
    name, st = internal(ctx(now=MS), h, "select_3")
    assert name == "select_3"
    e = st.host.thread(1)
    assert e is not None
    assert e.state == Ret(Ok(((3, 5, 3), (5, 1, 4))), "select")
    assert e.deadline == MS + ctx().timing.dsch


def test_select_3_full_oq_not_writable_but_error_is() -> None:
    socks = [Sock(3, None, 5000), Sock(4, None, 5001, es=Errno.ECONNREFUSED)]
    h = blocked((), (3,), socks=socks, oqf=True)
    assert "select_3" not in names_internal(ctx(), h)
    h2 = blocked((), (3, 4), socks=socks, oqf=True)
    _, st = internal(ctx(), h2, "select_3")
    assert thread_state(st.host, 1) == Ret(Ok(((), (4,))), "select")


def test_select_3_console_writable_not_readable() -> None:
    h = blocked((0,), (), deadline=MS)
    assert names_internal(ctx(), h) == []
    _, st = internal(ctx(), blocked((0,), (2,)), "select_3")
    assert thread_state(st.host, 1) == Ret(Ok(((), (2,))), "select")


def test_select_3_closed_socket_never_ready() -> None:
    orphan = Sock(3, None, 5000, mq=(MSG,), es=Errno.ECONNREFUSED, cl=True)
    h = blocked((3,), (3,), socks=[orphan])
    assert "select_3" not in names_internal(ctx(), h)


# select_4 ----------------------------------------------------------------------------------

def test_select_4_at_deadline_only() -> None:
    h = blocked((3,), (), deadline=2 * MS, socks=[Sock(3, None, 5000)])
    assert names_internal(ctx(now=2 * MS - 1), h) == []
    name, st = internal(ctx(now=2 * MS), h, "select_4")
    assert name == "select_4"
    assert thread_state(st.host, 1) == Ret(Ok(((), ())), "select")
    assert st.host.thread(1).deadline == 2 * MS + ctx().timing.dsch  # type: ignore[union-attr]


def test_select_4_not_when_something_ready_at_deadline() -> None:
    h = blocked((3,), (), deadline=2 * MS, socks=[Sock(3, None, 5000, mq=(MSG,))])
    assert names_internal(ctx(now=2 * MS), h) == ["select_3"]


def test_select_4_never_without_timeout() -> None:
    h = blocked((3,), (), socks=[Sock(3, None, 5000)])
    assert names_internal(ctx(now=10**12), h) == []


def test_select_4_releases_orphan_via_gc() -> None:
    orphan = Sock(3, None, 5000, cl=True)
    h = blocked((3,), (), deadline=MS, socks=[orphan])
    _, st = internal(ctx(now=MS), h, "select_4")
    assert st.host.s == ()
