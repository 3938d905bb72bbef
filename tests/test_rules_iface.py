"""The sockets-interface rules added by experiment on Linux 6.18 (issue 12, second part): poll,
select's exception set, SO_SELECT_ERR_QUEUE, SO_SNDBUF. Each test makes its rule fire; the
expected values are the kernel's answers to the same calls (tests/conformance checks them
against it, scenarios_iface.py)."""

from __future__ import annotations

from tests.hostkit import ALAN, KURT, call, ctx, host, internal, names_internal, thread_state
from udpsem.base.time import MS, NEVER
from udpsem.hosts.auxiliary import poll_mask, set_thread
from udpsem.hosts.calls import getsockopt, poll, select, setsockopt
from udpsem.hosts.invariants import host_violations
from udpsem.hosts.state import (
    LINUX_WMEM_DEFAULT,
    RUN,
    Flags,
    Poll2,
    Ret,
    Select2,
    Sock,
    ThreadEntry,
)
from udpsem.hosts.values import (
    POLL_ALL,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    Errno,
    Fail,
    Ok,
    SockOpt,
)
from udpsem.network.messages import UDP, IPMsg

M1 = IPMsg(KURT, ALAN, UDP(7658, 5000, b"hello"))
WRITE = POLLOUT | POLLWRNORM | POLLWRBAND


def _ret(h, tid=0):  # type: ignore[no-untyped-def]
    e = h.thread(tid)
    assert e is not None and isinstance(e.state, Ret)
    return e.state.value


# poll -----------------------------------------------------------------------------------------

def test_poll_1_blocks_with_the_timeout_in_ms() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(now=5), h, poll([(3, POLLIN)], 30))
    assert name == "poll_1" and thread_state(st.host) == Poll2(((3, POLLIN),))
    assert st.host.thread(0).deadline == 5 + 30 * MS
    # any negative timeout waits for ever; events are taken as a C short
    _, st = call(ctx(), h, poll([(3, -1)], -7))
    assert st.host.thread(0).deadline == NEVER
    assert thread_state(st.host) == Poll2(((3, 0xFFFF),))


def test_poll_2_more_entries_than_open_max() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(open_max=4), h, poll([(-1, 0)] * 5, 0))
    assert name == "poll_2" and _ret(st.host) == Fail(Errno.EINVAL)
    name, _ = call(ctx(open_max=4), h, poll([(-1, 0)] * 4, 0))
    assert name == "poll_1"


def test_poll_3_answers_each_entry() -> None:
    s = Sock(3, None, 5000, mq=(M1,))
    err = Sock(4, ALAN, 5001, KURT, 7658, es=Errno.ECONNREFUSED)
    ents = ((-1, POLLIN), (3, POLLIN), (3, POLLOUT), (4, POLLIN), (9, 0), (0, POLL_ALL))
    h = host(socks=[s, err], threads=[ThreadEntry(1, Poll2(ents), NEVER)])
    name, st = internal(ctx(), h, "poll_3")
    assert name == "poll_3"
    # negative fd skipped; IN only as asked; OUT; ERR unasked (not IN); NVAL; console writable
    assert _ret(st.host, 1) == Ok((0, POLLIN, POLLOUT, POLLERR, POLLNVAL, WRITE))


def test_poll_mask_shutdown_and_error_queue() -> None:
    c = ctx()
    rd = Sock(3, None, 5000, shut=(True, False))
    both = Sock(4, None, 5001, shut=(True, True))
    eq = Sock(5, None, 5002, f=Flags(recverr=True, select_err_queue=True),
              eq=((Errno.ECONNREFUSED, KURT, 7),))
    h = host(socks=[rd, both, eq])
    assert poll_mask(h, c.consts, 3) == POLLIN | POLLRDNORM | POLLRDHUP | WRITE
    assert poll_mask(h, c.consts, 4) == POLLIN | POLLRDNORM | POLLRDHUP | POLLHUP | WRITE
    assert poll_mask(h, c.consts, 5) == POLLERR | POLLPRI | WRITE  # 782, as Linux answers
    assert poll_mask(h, c.consts, 5) == 782


def test_poll_3_does_not_wake_for_a_socket_closed_meanwhile() -> None:
    orphan = Sock(3, None, 5000, cl=True)
    h = host(socks=[orphan], threads=[ThreadEntry(1, Poll2(((3, POLLIN),)), 80 * MS)])
    assert "poll_3" not in names_internal(ctx(), h)
    assert host_violations(h) == []  # S7: the poll refers to the orphan


def test_poll_4_timeout_answers_pollnval_for_a_closed_socket() -> None:
    orphan = Sock(3, None, 5000, cl=True)
    live = Sock(4, None, 5001)
    ents = ((3, POLLIN), (4, POLLIN))
    h = host(socks=[orphan, live], threads=[ThreadEntry(1, Poll2(ents), 80 * MS)])
    _name, st = internal(ctx(now=80 * MS), h, "poll_4")
    assert _ret(st.host, 1) == Ok((POLLNVAL, 0))
    h = host(socks=[live], threads=[ThreadEntry(1, Poll2(((4, POLLIN),)), 80 * MS)])
    assert "poll_4" not in names_internal(ctx(now=79 * MS), h)  # sharp timer
    _, st = internal(ctx(now=80 * MS), h, "poll_4")
    assert _ret(st.host, 1) == Ok((0,))


def test_intr_1_interrupts_a_poll() -> None:
    h = host(socks=[Sock(3)], threads=[ThreadEntry(1, Poll2(((3, POLLIN),)), NEVER)])
    _, st = internal(ctx(allow_intr=True), h, "intr_1")
    assert _ret(st.host, 1) == Fail(Errno.EINTR)


# select's exception set ------------------------------------------------------------------------

def test_select_3_exception_set_needs_select_err_queue() -> None:
    plain = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED)
    marked = Sock(4, ALAN, 5001, KURT, 7658, es=Errno.ECONNREFUSED,
                  f=Flags(select_err_queue=True))
    h = host(socks=[plain, marked])
    name, st = call(ctx(), h, select([3, 4], [], 0, [3, 4]))
    assert name == "select_1" and thread_state(st.host) == Select2((3, 4), (), (3, 4))
    name, st = internal(ctx(), st.host, "select_3")
    assert _ret(st.host) == Ok(((3, 4), (), (4,)))


def test_select_3_error_queue_alone_is_readable() -> None:
    s = Sock(3, None, 5000, f=Flags(recverr=True), eq=((Errno.ECONNREFUSED, KURT, 7),))
    h = host(socks=[s], threads=[ThreadEntry(1, Select2((3,), ()), NEVER)])
    _, st = internal(ctx(), h, "select_3")
    assert _ret(st.host, 1) == Ok(((3,), ()))


def test_select_4_with_exception_set_answers_a_triple() -> None:
    h = host(socks=[Sock(3, None, 5000)],
             threads=[ThreadEntry(1, Select2((3,), (), (3,)), 10 * MS)])
    _, st = internal(ctx(now=10 * MS), h, "select_4")
    assert _ret(st.host, 1) == Ok(((), (), ()))


def test_select_2_checks_the_exception_set() -> None:
    name, st = call(ctx(), host(socks=[Sock(3)]), select([3], [], 0, [7]))
    assert name == "select_2" and _ret(st.host) == Fail(Errno.EBADF)


# Options ---------------------------------------------------------------------------------------

def test_setsockopt_5_and_getsockopt_5_select_err_queue() -> None:
    h = host(socks=[Sock(3)])
    name, st = call(ctx(), h, getsockopt(3, SockOpt.SO_SELECT_ERR_QUEUE))
    assert name == "getsockopt_5" and _ret(st.host) == Ok(False)
    name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_SELECT_ERR_QUEUE, True))
    assert name == "setsockopt_5" and st.host.s[0].f.select_err_queue is True
    _, st = call(ctx(), set_thread(st.host, 0, RUN), getsockopt(3, SockOpt.SO_SELECT_ERR_QUEUE))
    assert _ret(st.host) == Ok(True)


def test_setsockopt_6_sndbuf_clamp_and_doubling() -> None:
    # Linux 6.18 (scenarios_iface.sndbuf_clamp_and_doubling): 0, 1000 → 4608; 4608 → 9216;
    # 5000 → 10000; 10^9 and -1 → 2 × wmem_max = 8388608.
    expect = {0: 4608, 1000: 4608, 4608: 9216, 5000: 10000, 10**9: 8388608, -1: 8388608}
    for v, want in expect.items():
        h = host(socks=[Sock(3)])
        name, st = call(ctx(), h, setsockopt(3, SockOpt.SO_SNDBUF, v))
        assert name == "setsockopt_6" and st.host.s[0].sndbuf == want
        name, st = call(ctx(), set_thread(st.host, 0, RUN), getsockopt(3, SockOpt.SO_SNDBUF))
        assert name == "getsockopt_6" and _ret(st.host) == Ok(want)


def test_getsockopt_6_default_is_the_hosts() -> None:
    h = host(socks=[Sock(3)])
    _, st = call(ctx(wmem_default=LINUX_WMEM_DEFAULT), h, getsockopt(3, SockOpt.SO_SNDBUF))
    assert _ret(st.host) == Ok(212992)
    _, st = call(ctx(), h, getsockopt(3, SockOpt.SO_SNDBUF))
    assert _ret(st.host) == Ok(None)  # the paper's model: no per-socket bound


def test_shutdown_state_reads_as_hup_in_poll() -> None:
    s = Sock(3, None, 5000, shut=(True, True))
    h = host(socks=[s], threads=[ThreadEntry(1, Poll2(((3, POLLIN),)), NEVER)])
    _, st = internal(ctx(), h, "poll_3")
    assert _ret(st.host, 1) == Ok((POLLIN | POLLHUP,))
