"""Input rules (docs/rules.md): delivery_in_udp_1/2/3, delivery_in_icmp_1/2, ICMP_GEN and
the arch differences in matching."""

from dataclasses import replace

from tests.hostkit import ALAN, KURT, ctx, host, names_recv, recv
from udpsem.base.time import MS, NEVER
from udpsem.hosts.lts import recv_enabled
from udpsem.hosts.state import Flags, LhRecvMsg, Sock
from udpsem.hosts.values import LOCALHOST, Arch, Errno, IcmpGen, ip
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg

DOQ = ctx().timing.doq
ROUTER = ip("192.168.0.1")


def udp(src: int, dst: int, sp: int | None, dp: int | None, data: bytes = b"beat") -> IPMsg:
    return IPMsg(src, dst, UDP(sp, dp, data))


def icmp(src: int, q: tuple[int, int | None, int, int | None],
         kind: IcmpKind = IcmpKind.PORT_UNREACH, dst: int = ALAN) -> IPMsg:
    return IPMsg(src, dst, ICMP(kind, *q))


# delivery_in_udp_1 -------------------------------------------------------------------------

def test_delivery_in_udp_1_appends_and_labels() -> None:
    m = udp(KURT, ALAN, 4000, 5000)
    old = udp(KURT, ALAN, 4000, 5000, b"old")
    h = host(socks=[Sock(4, None, 6000), Sock(3, None, 5000, mq=(old,))])
    assert names_recv(ctx(), h, m) == ["delivery_in_udp_1"]
    name, st = recv(ctx(), h, m)
    assert name == "delivery_in_udp_1"
    assert st.label == LhRecvMsg(m)
    assert st.host == replace(h, s=(Sock(4, None, 6000), Sock(3, None, 5000, mq=(old, m))))


def test_delivery_in_udp_1_best_match_then_most_recently_bound() -> None:
    f = Flags(False, True)
    m = udp(KURT, ALAN, 4000, 5000)
    socks = [Sock(6, None, 5000, f=f),                       # score 1
             Sock(5, ALAN, 5000, KURT, 4000, f=f),           # score 4
             Sock(4, ALAN, 5000, f=f),                       # score 2
             Sock(3, ALAN, 5000, KURT, 4001, f=f)]           # connected elsewhere: 0
    _, st = recv(ctx(), host(socks=socks), m)
    assert [s.fd for s in st.host.s if s.mq] == [5]
    tie = [Sock(4, None, 5000, f=f), Sock(3, None, 5000, f=f)]
    _, st = recv(ctx(), host(socks=tie), m)
    assert [s.fd for s in st.host.s if s.mq] == [4]


def test_delivery_in_udp_1_freebsd_any_best_socket() -> None:
    f = Flags(False, True)
    m = udp(KURT, ALAN, 4000, 5000)
    h = host(socks=[Sock(4, None, 5000, f=f), Sock(3, None, 5000, f=f)])
    c = ctx(arch=Arch.FREEBSD)
    (e,) = recv_enabled(c, h, m)
    assert e.outcome.kind == "sock" and tuple(e.outcome.options) == (4, 3)
    _, st = recv(c, h, m, sock=3)
    assert [s.fd for s in st.host.s if s.mq] == [3]


def test_delivery_in_udp_1_orphan_receives() -> None:
    from udpsem.hosts.state import RecvFrom2, ThreadEntry
    m = udp(KURT, ALAN, 4000, 5000)
    h = host(socks=[Sock(3, None, 5000, cl=True)], threads=[ThreadEntry(1, RecvFrom2(3))])
    _, st = recv(ctx(), h, m)
    assert st.host.s[0].mq == (m,)


# delivery_in_udp_2 -------------------------------------------------------------------------

def test_delivery_in_udp_2_answers_port_unreachable() -> None:
    m = udp(KURT, ALAN, 4000, 5000)
    h = host(socks=[Sock(3, None, 5001), Sock(4, ALAN, 5000, KURT, 4001)])
    name, st = recv(ctx(now=MS), h, m)
    assert name == "delivery_in_udp_2"
    assert st.label == LhRecvMsg(m)
    assert st.host.oq == (IPMsg(ALAN, KURT, ICMP(IcmpKind.PORT_UNREACH, KURT, 4000, ALAN, 5000)),)
    assert st.host.oq_deadline == MS + DOQ
    assert st.host.s == h.s


def test_delivery_in_udp_2_appends_behind_queue_and_respects_full() -> None:
    m = udp(KURT, ALAN, None, 5000)
    first = udp(ALAN, KURT, 5000, 6000)
    h = replace(host(), oq=(first,), oq_deadline=3 * MS)
    _, st = recv(ctx(now=MS), h, m)
    assert st.host.oq == (first, IPMsg(ALAN, KURT,
                                       ICMP(IcmpKind.PORT_UNREACH, KURT, None, ALAN, 5000)))
    assert st.host.oq_deadline == 3 * MS
    full = replace(h, oqf=True)
    _, st = recv(ctx(now=MS, oq_cap=1), full, m)
    assert st.host == full


def test_delivery_in_udp_2_icmp_gen() -> None:
    m = udp(KURT, ALAN, 4000, 5000)
    _, st = recv(ctx(icmp_gen=IcmpGen.NEVER), host(), m)
    assert st.host == host() and st.host.oq_deadline == NEVER
    c = ctx(icmp_gen=IcmpGen.NONDET)
    (e,) = recv_enabled(c, host(), m)
    assert e.outcome.kind == "icmp" and tuple(e.outcome.options) == (True, False)
    _, st = recv(c, host(), m, icmp=False)
    assert st.host == host()
    _, st = recv(c, host(), m, icmp=True)
    assert len(st.host.oq) == 1


def test_delivery_in_udp_2_secondary_address_source() -> None:
    extra = ip("192.168.0.99")
    from udpsem.hosts.state import eth
    h = host(ifds=[eth(0, ALAN, 24, (extra,))])
    m = udp(KURT, extra, 4000, 5000)
    _, st = recv(ctx(), h, m)
    assert st.host.oq[0].src == extra and st.host.oq[0].dst == KURT


# delivery_in_udp_3 -------------------------------------------------------------------------

def test_delivery_in_udp_3_martian_or_loopback_source() -> None:
    h = host(socks=[Sock(3, None, 5000)])
    for src in (LOCALHOST, ip("127.9.9.9"), 0, ip("224.0.0.5"), ip("255.255.255.255")):
        m = udp(src, ALAN, 4000, 5000)
        assert names_recv(ctx(), h, m) == ["delivery_in_udp_3"], src
        _, st = recv(ctx(), h, m)
        assert st.host == h and st.label == LhRecvMsg(m)


# delivery_in_icmp_1 / _2 -------------------------------------------------------------------

CONN = Sock(3, ALAN, 5000, KURT, 6000)
Q = (ALAN, 5000, KURT, 6000)


def test_delivery_in_icmp_1_sets_econnrefused_overwriting() -> None:
    m = icmp(KURT, Q)
    h = host(socks=[Sock(4, None, 7000), replace(CONN, es=Errno.EHOSTUNREACH)])
    name, st = recv(ctx(), h, m)
    assert name == "delivery_in_icmp_1" and st.label == LhRecvMsg(m)
    assert st.host.s == (Sock(4, None, 7000), replace(CONN, es=Errno.ECONNREFUSED))
    assert st.host.oq == ()


def test_delivery_in_icmp_from_router() -> None:
    m = icmp(ROUTER, Q, IcmpKind.HOST_UNREACH)
    h = host(socks=[CONN])
    assert names_recv(ctx(), h, m) == ["delivery_in_icmp_2"]
    assert names_recv(ctx(arch=Arch.WINDOWS), h, m) == ["delivery_in_icmp_2"]
    name, st = recv(ctx(arch=Arch.FREEBSD), h, m)
    assert name == "delivery_in_icmp_1"
    assert st.host.s == (replace(CONN, es=Errno.EHOSTUNREACH),)


def test_delivery_in_icmp_matching_linux_reply_rule_vs_freebsd_exact_quad() -> None:
    # connected without a peer port: Linux's reply lookup scores it 3; freebsd needs the
    # exact quoted quad.
    s = Sock(3, ALAN, 5000, KURT, None)
    m = icmp(KURT, Q)
    _, st = recv(ctx(), host(socks=[s]), m)
    assert st.host.s[0].es == Errno.ECONNREFUSED
    assert names_recv(ctx(arch=Arch.FREEBSD), host(socks=[s]), m) == ["delivery_in_icmp_2"]


def test_delivery_in_icmp_1_freebsd_tie_is_a_choice() -> None:
    f = Flags(False, True)
    a, b = replace(CONN, fd=4, f=f), replace(CONN, f=f)
    h = host(socks=[a, b])
    c = ctx(arch=Arch.FREEBSD)
    (e,) = recv_enabled(c, h, icmp(KURT, Q))
    assert e.rule.name == "delivery_in_icmp_1" and tuple(e.outcome.options) == (4, 3)
    _, st = recv(c, h, icmp(KURT, Q), sock=3)
    assert [x.es for x in st.host.s] == [None, Errno.ECONNREFUSED]


def test_delivery_in_icmp_2_unconnected_unknown_or_bad_source() -> None:
    cases = [(host(socks=[Sock(3, None, 5000)]), icmp(KURT, (ALAN, 5000, KURT, 6000))),
             (host(), icmp(KURT, Q)),
             (host(socks=[CONN]), icmp(LOCALHOST, Q)),
             (host(socks=[CONN]), icmp(0, Q))]
    for h, m in cases:
        assert names_recv(ctx(), h, m) == ["delivery_in_icmp_2"], m
        _, st = recv(ctx(icmp_gen=IcmpGen.ALWAYS), h, m)
        assert st.host == h and st.label == LhRecvMsg(m)


# The network delivers only own, non-loopback destinations ----------------------------------

def test_input_rules_ignore_undeliverable_destinations() -> None:
    h = host(socks=[Sock(3, None, 5000)])
    for dst in (KURT, LOCALHOST):
        assert names_recv(ctx(), h, udp(KURT, dst, 4000, 5000)) == []
        assert names_recv(ctx(), h, icmp(KURT, Q, dst=dst)) == []


def test_every_deliverable_message_is_accepted_by_exactly_one_rule() -> None:
    socks = [CONN, Sock(4, None, 5001)]
    h = host(socks=socks)
    msgs = [udp(src, ALAN, sp, dp) for src in (KURT, LOCALHOST, 0)
            for sp in (None, 6000) for dp in (None, 5000, 5001, 5002)]
    msgs += [icmp(src, (ALAN, sp, KURT, dp), k) for src in (KURT, LOCALHOST)
             for sp in (None, 5000) for dp in (None, 6000) for k in IcmpKind]
    for arch in Arch:
        for m in msgs:
            assert len(names_recv(ctx(arch=arch), h, m)) == 1, (arch, m)
