"""The sockets-interface rules added by experiment on Linux 6.18 (issue 12, second part): poll,
select's exception set, SO_SELECT_ERR_QUEUE, SO_SNDBUF. Each test makes its rule fire; the
expected values are the kernel's answers to the same calls (tests/conformance checks them
against it, scenarios_iface.py)."""

from __future__ import annotations

from dataclasses import replace

from tests.hostkit import ALAN, KURT, call, ctx, host, internal, names_internal, thread_state
from tests.hostkit import recv as deliver
from udpsem.base.time import MS, NEVER
from udpsem.hosts.auxiliary import poll_mask, set_thread
from udpsem.hosts.calls import (
    bind,
    connect,
    getsockopt,
    poll,
    read,
    recv,
    select,
    send,
    sendto,
    setsockopt,
    write,
)
from udpsem.hosts.invariants import host_violations
from udpsem.hosts.state import (
    LINUX_WMEM_DEFAULT,
    RUN,
    Flags,
    Poll2,
    RecvFrom2,
    Ret,
    Select2,
    Sock,
    ThreadEntry,
)
from udpsem.hosts.values import (
    LOCALHOST,
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


# SO_REUSEPORT, IP_FREEBIND ----------------------------------------------------------------------

AWAY = 0x0A090909  # 10.9.9.9: not an address of the test host


def test_setsockopt_7_and_getsockopt_7() -> None:
    h = host(socks=[Sock(3)])
    for opt, attr in ((SockOpt.SO_REUSEPORT, "reuseport"), (SockOpt.IP_FREEBIND, "freebind")):
        name, st = call(ctx(), h, setsockopt(3, opt, 5))  # any non-zero int is on
        assert name == "setsockopt_7" and getattr(st.host.s[0].f, attr) is True
        name, st2 = call(ctx(), set_thread(st.host, 0, RUN), getsockopt(3, opt))
        assert name == "getsockopt_7" and _ret(st2.host) == Ok(True)


def test_bind_1_shares_a_port_with_reuseport_and_the_newest_holder_decides() -> None:
    rp = Flags(reuseport=True)
    newest = Sock(4, LOCALHOST, 5000, f=rp)
    oldest = Sock(5, LOCALHOST, 5000)  # cleared SO_REUSEPORT after the group formed
    h = host(socks=[newest, oldest, Sock(3, f=rp)])
    name, st = call(ctx(), h, bind(3, LOCALHOST, 5000))
    assert name == "bind_1" and st.host.s[0].ps1 == 5000
    h = host(socks=[oldest, newest, Sock(3, f=rp)])  # now the one without the flag is newest
    name, st = call(ctx(), h, bind(3, LOCALHOST, 5000))
    assert name == "bind_5" and _ret(st.host) == Fail(Errno.EADDRINUSE)
    # SO_REUSEADDR on one side and SO_REUSEPORT on the other: a conflict
    h = host(socks=[Sock(4, LOCALHOST, 5000, f=rp), Sock(3, f=Flags(reuseaddr=True))])
    name, _ = call(ctx(), h, bind(3, LOCALHOST, 5000))
    assert name == "bind_5"


def test_delivery_to_a_reuseport_group_is_a_choice() -> None:
    rp = Flags(reuseport=True)
    a, b = Sock(3, LOCALHOST, 5000, f=rp), Sock(4, LOCALHOST, 5000, f=rp)
    plain = Sock(5, None, 5000)  # a worse match: never chosen
    m = IPMsg(LOCALHOST, LOCALHOST, UDP(7000, 5000, b"x"))
    h = replace(host(socks=[a, b, plain]), oq=(m,), oq_deadline=MS)
    got = set()
    for fd in (3, 4):
        _name, st = internal(ctx(), h, "delivery_loopback_udp_1", sock=fd)
        got.add(tuple(s.fd for s in st.host.s if s.mq))
    assert got == {(3,), (4,)}
    # without SO_REUSEPORT the most recently bound takes it, no choice
    h = replace(host(socks=[replace(a, f=Flags()), replace(b, f=Flags())]), oq=(m,),
                oq_deadline=MS)
    _, st = internal(ctx(), h, "delivery_loopback_udp_1")
    assert [s.fd for s in st.host.s if s.mq] == [3]


def test_bind_7_freebind_binds_an_absent_address() -> None:
    h = host(socks=[Sock(3, f=Flags(freebind=True))])
    name, st = call(ctx(), h, bind(3, AWAY, 6000))
    assert name == "bind_7" and st.host.s[0].is1 == AWAY and st.host.s[0].lk == (True, True)
    assert host_violations(st.host) == []  # S2 allows it: unconnected
    name, _ = call(ctx(), host(socks=[Sock(3)]), bind(3, AWAY, 6000))
    assert name == "bind_2"  # without IP_FREEBIND
    name, _ = call(ctx(), h, bind(3, 0xE0000001, 6000))  # 224.0.0.1: multicast, bind_8
    assert name == "bind_8"


def test_sendto_11_and_connect_2_no_route_from_a_freebound_address() -> None:
    s = Sock(3, AWAY, 6000, f=Flags(freebind=False))  # bound with IP_FREEBIND, then cleared
    name, st = call(ctx(), host(socks=[s]), sendto(3, (LOCALHOST, 7000), b"x", False))
    assert name == "sendto_11" and _ret(st.host) == Fail(Errno.ENETUNREACH)
    name, st = call(ctx(), host(socks=[s]), connect(3, KURT, 7000))
    assert name == "connect_2" and st.host.s[0].is2 is None


def test_s2_refuses_a_connected_socket_on_an_absent_address() -> None:
    s = Sock(3, AWAY, 6000, KURT, 7000)
    assert [v.conjunct for v in host_violations(host(socks=[s]))] == ["S2"]


# send, write, recv, read ----------------------------------------------------------------------

def test_send_and_write_are_sendto_without_a_destination() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658)
    for c in (send(3, b"hi"), write(3, b"hi")):
        name, st = call(ctx(), host(socks=[s]), c)
        assert name == "sendto_1" and st.host.oq[0].body.data == b"hi"
    name, st = call(ctx(), host(socks=[Sock(3)]), send(3, b"x"))
    assert name == "sendto_4" and _ret(st.host) == Fail(Errno.EDESTADDRREQ)


def test_recvfrom_9_for_recv_and_read_answers_the_data_only() -> None:
    s = Sock(3, None, 5000, mq=(M1,))
    name, st = call(ctx(), host(socks=[s]), recv(3, 3, True))
    assert name == "recvfrom_9" and _ret(st.host) == Ok(b"hel") and st.host.s[0].mq == ()
    name, st = call(ctx(), host(socks=[s]), read(3, 100))
    assert name == "recvfrom_9" and _ret(st.host) == Ok(b"hello")
    name, st = call(ctx(), host(socks=[s]), recv(3, 2, True, peek=True))
    assert name == "recvfrom_8" and _ret(st.host) == Ok(b"he") and st.host.s[0].mq == (M1,)


def test_read_1_zero_bytes_touches_nothing() -> None:
    s = Sock(3, ALAN, 5000, KURT, 7658, es=Errno.ECONNREFUSED, mq=(M1,))
    name, st = call(ctx(), host(socks=[s]), read(3, 0))
    assert name == "read_1" and _ret(st.host) == Ok(b"")
    assert st.host.s[0] == s  # neither the datagram nor the error is touched
    name, _ = call(ctx(), host(socks=[Sock(3)]), read(3, 0))  # unbound, empty: no blocking
    assert name == "read_1"
    name, st = call(ctx(), host(socks=[s]), recv(3, 0, True))  # recv of 0 is a receive
    assert name == "recvfrom_3" and _ret(st.host) == Fail(Errno.ECONNREFUSED)


def test_blocked_read_and_shutdown_answer_the_data_only() -> None:
    s = Sock(3, None, 5000, mq=(M1,))
    h = host(socks=[s], threads=[ThreadEntry(1, RecvFrom2(3, 100, False, "read"))])
    _, st = internal(ctx(), h, "recvfrom_12")
    assert _ret(st.host, 1) == Ok(b"hello")
    shut = Sock(3, None, 5000, shut=(True, False))
    h = host(socks=[shut], threads=[ThreadEntry(1, RecvFrom2(3, 10, False, "recv"))])
    _, st = internal(ctx(), h, "recvfrom_14")
    assert _ret(st.host, 1) == Ok(b"")
    _, st = call(ctx(), host(socks=[shut]), read(3, 10))
    assert _ret(st.host) == Ok(b"")


# The error queue's payload, the drop counter ---------------------------------------------------

def test_recvfrom_17_errqueue_payload_and_extended_error() -> None:
    from udpsem.hosts.calls import recvfrom
    from udpsem.hosts.state import ErrEntry
    from udpsem.network.messages import IcmpKind

    ent = ErrEntry(Errno.ECONNREFUSED, KURT, 7, b"request-7", ALAN, IcmpKind.PORT_UNREACH)
    nxt = ErrEntry(Errno.EHOSTUNREACH, KURT, 8, b"", None, IcmpKind.HOST_UNREACH)
    s = Sock(3, None, 5000, es=Errno.ECONNREFUSED, f=Flags(recverr=True), eq=(ent, nxt))
    name, st = call(ctx(), host(socks=[s]), recvfrom(3, True, maxlen=4, errqueue=True))
    assert name == "recvfrom_17"
    assert _ret(st.host) == Ok((KURT, 7, b"requ", True,
                                (Errno.ECONNREFUSED, 2, 3, 3, 0, 0, ALAN)))
    assert st.host.s[0].eq == (nxt,) and st.host.s[0].es == Errno.EHOSTUNREACH
    _, st = call(ctx(), set_thread(st.host, 0, RUN), recvfrom(3, True, maxlen=9, errqueue=True))
    assert _ret(st.host) == Ok((KURT, 8, b"", False, (Errno.EHOSTUNREACH, 2, 3, 1, 0, 0, None)))
    assert st.host.s[0].es is None


def test_icmp_quotes_the_payload_only_on_a_quoting_host() -> None:
    from udpsem.network.messages import ICMP

    m = IPMsg(KURT, ALAN, UDP(7658, 5000, b"q" * 600))
    for quote, want in ((True, b"q" * 520), (False, b"")):
        _, st = deliver(ctx(icmp_quote=quote), host(), m)
        (icmp,) = st.host.oq
        assert isinstance(icmp.body, ICMP) and icmp.body.data == want


def test_drop_counter_and_rxq_ovfl_stamps() -> None:
    from udpsem.hosts.calls import recvfrom

    full = Sock(3, None, 5000, rcvbuf=2304, mq=(M1, M1), f=Flags(rxq_ovfl=True))
    m = IPMsg(KURT, ALAN, UDP(7658, 5000, b"x" * 100))
    name, st = deliver(ctx(), host(socks=[full]), m)
    assert name == "delivery_in_udp_4" and st.host.s[0].drops == 1 and st.host.s[0].mq == (M1,
                                                                                           M1)
    # a datagram queued now is stamped with the count; receiving reports it
    s = replace(st.host.s[0], mq=(M1,), drops=3)
    name, st = deliver(ctx(), host(socks=[s]), m)
    assert name == "delivery_in_udp_1" and st.host.s[0].mqd == (0, 3)
    assert host_violations(st.host) == []
    h = st.host
    _, st = call(ctx(), h, recvfrom(3, True, ovfl=True))
    assert _ret(st.host) == Ok((KURT, 7658, b"hello", False, 0)) and st.host.s[0].mqd == (3,)
    _, st = call(ctx(), set_thread(st.host, 0, RUN), recvfrom(3, True, maxlen=1, ovfl=True))
    assert _ret(st.host) == Ok((KURT, 7658, b"x", True, 3)) and st.host.s[0].mqd == ()
    # with the option off at the receive, no control message: 0
    off = replace(h, s=(replace(h.s[0], f=Flags(), mq=h.s[0].mq[1:], mqd=(3,)),))
    _, st = call(ctx(), off, recvfrom(3, True, ovfl=True))
    assert _ret(st.host) == Ok((KURT, 7658, b"x" * 100, False, 0))


def test_reuseport_group_member_full_drops_even_if_another_has_room() -> None:
    rp = Flags(reuseport=True)
    m = IPMsg(LOCALHOST, LOCALHOST, UDP(7000, 5000, b"x" * 100))
    full = Sock(3, LOCALHOST, 5000, f=rp, rcvbuf=2304, mq=(m, m))
    room = Sock(4, LOCALHOST, 5000, f=rp)
    h = replace(host(socks=[full, room]), oq=(m,), oq_deadline=MS)
    names = names_internal(ctx(), h)
    assert "delivery_loopback_udp_1" in names and "delivery_loopback_udp_3" in names
    _, st = internal(ctx(), h, "delivery_loopback_udp_3")
    assert st.host.s[0].drops == 1 and st.host.oq == ()


def test_poll_3_answers_at_once_for_a_socket_closed_before_the_call() -> None:
    # Linux 6.18 (scenarios_iface.poll_of_an_already_closed_socket): a reader still blocked
    # on the socket keeps it (an orphan here); poll(fd, -1) then answers POLLNVAL at once.
    orphan = Sock(3, LOCALHOST, 5000, cl=True)
    reader = ThreadEntry(1, RecvFrom2(3), NEVER)
    h = host(socks=[orphan], threads=[reader])
    name, st = call(ctx(), h, poll([(3, POLLIN)], -1))
    assert name == "poll_1" and thread_state(st.host) == Poll2(((3, POLLIN),), (3,))
    _, st = internal(ctx(), st.host, "poll_3")
    assert _ret(st.host) == Ok((POLLNVAL,))
