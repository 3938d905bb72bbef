"""port_of_int, ip_of_string, getifaddrs, create, delay, print_endline_flush, exit
(docs/rules.md#port_of_int_1)."""

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
from udpsem.base.time import MS, NEVER
from udpsem.hosts.calls import (
    create,
    delay,
    exit_,
    getifaddrs,
    ip_of_string,
    port_of_int,
    print_endline_flush,
    socket,
)
from udpsem.hosts.state import (
    DELAY2,
    EXIT,
    RUN,
    ZOMBIE,
    Delay2,
    ExitState,
    LhConsole,
    LhExit,
    Print2,
    RecvFrom2,
    Ret,
    Select2,
    Sock,
    ThreadEntry,
    eth,
)
from udpsem.hosts.values import LOCALHOST, Errno, Fail, Ok, ip
from udpsem.network.messages import UDP, IPMsg

DSCH = ctx().timing.dsch


# port_of_int -------------------------------------------------------------------------------

def test_port_of_int_1_bounds() -> None:
    for n in (1, 7658, 65535):
        name, st = call(ctx(), host(), port_of_int(n))
        assert name == "port_of_int_1"
        assert thread_state(st.host) == Ret(Ok(n), "port_of_int")


def test_port_of_int_2_out_of_range() -> None:
    for n in (0, -1, 65536):
        name, st = call(ctx(), host(), port_of_int(n))
        assert name == "port_of_int_2"
        assert thread_state(st.host) == Ret(Fail(Errno.EINVAL), "port_of_int")


# ip_of_string ------------------------------------------------------------------------------

def test_ip_of_string_1() -> None:
    name, st = call(ctx(), host(), ip_of_string("192.168.0.11"))
    assert name == "ip_of_string_1"
    assert thread_state(st.host) == Ret(Ok(KURT), "ip_of_string")
    _, st = call(ctx(), host(), ip_of_string("255.255.255.255"))
    assert thread_state(st.host).value == Ok(0xFFFFFFFF)


def test_ip_of_string_2_malformed() -> None:
    for text in ("192.168.0.256", "10.1", "1.2.3.4.5", "a.b.c.d", "", "1..2.3", " 1.2.3.4",
                 "-1.2.3.4", "localhost"):
        name, st = call(ctx(), host(), ip_of_string(text))
        assert name == "ip_of_string_2", text
        assert thread_state(st.host) == Ret(Fail(Errno.EINVAL), "ip_of_string")


# getifaddrs --------------------------------------------------------------------------------

def test_getifaddrs_1_lo_first_then_eth_by_number() -> None:
    extra = ip("10.0.0.9")
    h = host(ifds=[eth(2, ip("10.0.0.5"), 8, (extra, ip("10.0.0.1"))), eth(0, ALAN)])
    name, st = call(ctx(), h, getifaddrs())
    assert name == "getifaddrs_1"
    assert thread_state(st.host) == Ret(Ok((
        ("lo", LOCALHOST, (LOCALHOST,), 8),
        (("eth", 0), ALAN, (ALAN,), 24),
        (("eth", 2), ip("10.0.0.5"), (ip("10.0.0.1"), ip("10.0.0.5"), extra), 8),
    )), "getifaddrs")


def test_getifaddrs_1_loopback_only_host() -> None:
    _, st = call(ctx(), host(ifds=[]), getifaddrs())
    assert thread_state(st.host).value == Ok((("lo", LOCALHOST, (LOCALHOST,), 8),))


# create ------------------------------------------------------------------------------------

def test_create_1_least_free_tid() -> None:
    h = host(threads=[ThreadEntry(1, RUN), ThreadEntry(3, RUN)])
    name, st = call(ctx(now=MS), h, create("prog", 42))
    assert name == "create_1"
    assert [e.tid for e in st.host.ts] == [0, 1, 2, 3]
    assert st.host.thread(2) == ThreadEntry(2, RUN, NEVER)
    assert st.host.thread(0) == ThreadEntry(0, Ret(Ok(2), "create"), MS + DSCH)


def test_create_1_from_non_zero_tid() -> None:
    h = replace(host(), ts=(ThreadEntry(5, RUN),))
    _, st = call(ctx(), h, create("prog"), tid=5)
    assert st.host.thread(0) == ThreadEntry(0, RUN, NEVER)
    assert thread_state(st.host, 5) == Ret(Ok(0), "create")


def test_create_2_only_with_badmem() -> None:
    assert names_call(ctx(), host(), create("prog")) == ["create_1"]
    assert names_call(ctx(allow_badmem=True), host(), create("prog")) == ["create_1",
                                                                          "create_2"]
    from tests.hostkit import fire
    from udpsem.hosts.lts import call_enabled
    _, st = fire(call_enabled(ctx(allow_badmem=True), host(), 0, create("p")), "create_2")
    assert st.host.ts == (ThreadEntry(0, Ret(Fail(Errno.EAGAIN), "create"), DSCH),)


# delay -------------------------------------------------------------------------------------

def test_delay_1_sharp_deadline() -> None:
    name, st = call(ctx(now=3 * MS), host(), delay(1500))
    assert name == "delay_1"
    assert st.host.thread(0) == ThreadEntry(0, DELAY2, 3 * MS + 1_500_000)


def test_delay_2_negative() -> None:
    name, st = call(ctx(), host(), delay(-1))
    assert name == "delay_2"
    assert thread_state(st.host) == Ret(Fail(Errno.EINVAL), "delay")


def test_delay_3_only_at_deadline() -> None:
    h = host(threads=[ThreadEntry(1, Delay2(), 2 * MS)])
    assert names_internal(ctx(now=2 * MS - 1), h) == []
    name, st = internal(ctx(now=2 * MS), h, "delay_3")
    assert name == "delay_3"
    assert st.host.thread(1) == ThreadEntry(1, Ret(Ok(None), "delay"), 2 * MS + DSCH)


def test_delay_zero_wakes_at_once() -> None:
    _, st = call(ctx(now=MS), host(), delay(0))
    assert names_internal(ctx(now=MS), st.host) == ["delay_3"]


# print_endline_flush -----------------------------------------------------------------------

def test_print_1_and_print_2() -> None:
    name, st = call(ctx(now=MS), host(), print_endline_flush("KURT down"))
    assert name == "print_1"
    assert st.host.thread(0) == ThreadEntry(0, Print2("KURT down"), MS + DSCH)
    name, st2 = internal(ctx(now=MS + 10), st.host, "print_2")
    assert name == "print_2"
    assert st2.label == LhConsole("KURT down\n")
    assert st2.host.thread(0) == ThreadEntry(0, Ret(Ok(None), "print_endline_flush"),
                                             MS + 10 + DSCH)


# exit --------------------------------------------------------------------------------------

def test_exit_1_zombifies_others() -> None:
    h = host(socks=[Sock(3, None, 5000)],
             threads=[ThreadEntry(1, RecvFrom2(3)), ThreadEntry(2, Ret(Ok(3), "socket"), DSCH),
                      ThreadEntry(4, Select2((3,), ()), 5 * MS)])
    name, st = call(ctx(now=MS), h, exit_())
    assert name == "exit_1"
    assert st.host.ts == (ThreadEntry(0, EXIT, MS + DSCH), ThreadEntry(1, ZOMBIE, NEVER),
                          ThreadEntry(2, ZOMBIE, NEVER), ThreadEntry(4, ZOMBIE, NEVER))
    assert st.host.s == h.s
    # zombies' calls are absorbed, the exiting thread takes no call
    assert names_call(ctx(), st.host, socket(), tid=1) == ["zombie_1"]
    assert names_call(ctx(), st.host, socket(), tid=0) == []


def test_exit_2_clears_threads_and_sockets_keeps_oq() -> None:
    m = IPMsg(ALAN, KURT, UDP(5000, 6000, b"last"))
    h = replace(host(socks=[Sock(3, None, 5000)],
                     threads=[ThreadEntry(0, ExitState(), DSCH), ThreadEntry(1, ZOMBIE)]),
                oq=(m,), oq_deadline=MS)
    assert names_internal(ctx(), h) == ["exit_2", "delivery_out_1"]
    name, st = internal(ctx(), h, "exit_2")
    assert name == "exit_2"
    assert st.label == LhExit()
    assert st.host == replace(h, ts=(), s=())
