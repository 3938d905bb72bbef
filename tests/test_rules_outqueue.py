"""Out-queue rules (docs/rules.md#delivery_out_1): delivery_out_1, delivery_out_martian,
delivery_loopback_udp_1/2, delivery_loopback_icmp_1/2."""

from dataclasses import replace

from tests.hostkit import ALAN, KURT, ctx, host, internal, names_internal
from udpsem.base.time import MS, NEVER
from udpsem.hosts.state import Flags, Host, LhSendMsg, LhTau, Sock
from udpsem.hosts.values import BROADCAST, LOCALHOST, Arch, Errno, IcmpGen, ip
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg

DOQ = ctx().timing.doq
LO2 = ip("127.0.0.2")


def queued(*msgs: IPMsg, socks: list[Sock] | None = None, oqf: bool = False) -> Host:
    return replace(host(socks=socks or []), oq=msgs, oq_deadline=MS, oqf=oqf)


def udp(src: int, dst: int, sp: int | None, dp: int | None, data: bytes = b"x") -> IPMsg:
    return IPMsg(src, dst, UDP(sp, dp, data))


def icmp(src: int, dst: int, q: tuple[int, int | None, int, int | None],
         kind: IcmpKind = IcmpKind.PORT_UNREACH) -> IPMsg:
    return IPMsg(src, dst, ICMP(kind, *q))


# delivery_out_1 ----------------------------------------------------------------------------

def test_delivery_out_1_sends_head_keeps_rest() -> None:
    m1, m2 = udp(ALAN, KURT, 5000, 6000, b"a"), udp(ALAN, KURT, 5000, 6000, b"b")
    h = queued(m1, m2)
    assert names_internal(ctx(), h) == ["delivery_out_1"]
    name, st = internal(ctx(now=MS // 2), h, "delivery_out_1")
    assert name == "delivery_out_1"
    assert st.label == LhSendMsg(m1)
    assert st.host.oq == (m2,) and st.host.oq_deadline == MS // 2 + DOQ


def test_delivery_out_1_last_message_resets_timer_and_oqf() -> None:
    m = udp(ALAN, ip("8.8.8.8"), 5000, 53)
    _, st = internal(ctx(oq_cap=1), queued(m, oqf=True), "delivery_out_1")
    assert st.host.oq == () and st.host.oq_deadline == NEVER and not st.host.oqf


def test_delivery_out_1_icmp_to_remote_host() -> None:
    m = icmp(ALAN, KURT, (KURT, 6000, ALAN, 5000))
    _, st = internal(ctx(), queued(m), "delivery_out_1")
    assert st.label == LhSendMsg(m)


# delivery_out_martian ----------------------------------------------------------------------

def test_delivery_out_martian_cases() -> None:
    for m in (udp(ALAN, BROADCAST, 5000, 6000),          # windows/freebsd broadcast
              udp(ALAN, 0, 5000, 6000),                  # windows/freebsd 0.0.0.0
              udp(ALAN, ip("224.0.0.1"), 5000, 6000),    # multicast
              udp(LOCALHOST, KURT, 5000, 6000),          # loopback source off-host
              udp(ip("0.1.2.3"), KURT, 5000, 6000)):     # martian source
        h = queued(m)
        assert names_internal(ctx(arch=Arch.WINDOWS), h) == ["delivery_out_martian"], m
        _, st = internal(ctx(arch=Arch.WINDOWS), h, "delivery_out_martian")
        assert st.label == LhTau() and st.host.oq == () and st.host.oq_deadline == NEVER


def test_delivery_out_martian_not_for_local_destination() -> None:
    # a loopback source to a loopback destination is local delivery, not martian
    h = queued(udp(LOCALHOST, LOCALHOST, 5000, 6000))
    assert names_internal(ctx(), h) == ["delivery_loopback_udp_2"]


# delivery_loopback_udp_1 -------------------------------------------------------------------

def test_delivery_loopback_udp_1_appends_to_mq() -> None:
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000, b"hi")
    old = udp(LOCALHOST, LOCALHOST, 40000, 5000, b"old")
    h = queued(m, socks=[Sock(4, None, 6000), Sock(3, None, 5000, mq=(old,))])
    name, st = internal(ctx(), h, "delivery_loopback_udp_1")
    assert name == "delivery_loopback_udp_1" and st.label == LhTau()
    assert st.host.s == (Sock(4, None, 6000), Sock(3, None, 5000, mq=(old, m)))
    assert st.host.oq == () and st.host.oq_deadline == NEVER


def test_delivery_loopback_udp_1_own_address_and_all_of_127() -> None:
    for dst in (ALAN, LO2):
        m = udp(ALAN if dst == ALAN else LOCALHOST, dst, 40000, 5000)
        h = queued(m, socks=[Sock(3, None, 5000)])
        _, st = internal(ctx(), h, "delivery_loopback_udp_1")
        assert st.host.s[0].mq == (m,)


def test_delivery_loopback_udp_1_best_score_then_most_recent() -> None:
    f = Flags(False, True)
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    socks = [Sock(5, None, 5000, f=f), Sock(4, LOCALHOST, 5000, f=f),
             Sock(3, LOCALHOST, 5000, f=f)]
    _, st = internal(ctx(), queued(m, socks=socks), "delivery_loopback_udp_1")
    assert [s.mq for s in st.host.s] == [(), (m,), ()]


def test_delivery_loopback_udp_1_freebsd_tie_is_a_choice() -> None:
    f = Flags(False, True)
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    socks = [Sock(4, None, 5000, f=f), Sock(3, None, 5000, f=f)]
    c = ctx(arch=Arch.FREEBSD)
    _, st = internal(c, queued(m, socks=socks), "delivery_loopback_udp_1")
    assert [s.mq for s in st.host.s] == [(m,), ()]
    _, st = internal(c, queued(m, socks=socks), "delivery_loopback_udp_1", sock=3)
    assert [s.mq for s in st.host.s] == [(), (m,)]


def test_delivery_loopback_udp_1_orphan_still_receives() -> None:
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    from udpsem.hosts.state import RecvFrom2, ThreadEntry
    h = replace(queued(m, socks=[Sock(3, None, 5000, cl=True)]),
                ts=(host().ts[0], ThreadEntry(1, RecvFrom2(3))))
    _, st = internal(ctx(), h, "delivery_loopback_udp_1")
    assert st.host.s[0].mq == (m,)


# delivery_loopback_udp_2 -------------------------------------------------------------------

def test_delivery_loopback_udp_2_queues_port_unreachable() -> None:
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    after = udp(ALAN, KURT, 1, 2)
    h = queued(m, after, socks=[Sock(3, None, 6000)])
    name, st = internal(ctx(now=MS), h, "delivery_loopback_udp_2")
    assert name == "delivery_loopback_udp_2" and st.label == LhTau()
    expect = IPMsg(LOCALHOST, LOCALHOST,
                   ICMP(IcmpKind.PORT_UNREACH, LOCALHOST, 40000, LOCALHOST, 5000))
    assert st.host.oq == (after, expect)
    assert st.host.oq_deadline == MS + DOQ
    assert st.host.s == h.s


def test_delivery_loopback_udp_2_icmp_from_destination_to_source() -> None:
    m = udp(ALAN, LO2, None, 5000)
    _, st = internal(ctx(), queued(m), "delivery_loopback_udp_2")
    assert st.host.oq == (IPMsg(LO2, ALAN, ICMP(IcmpKind.PORT_UNREACH, ALAN, None, LO2, 5000)),)
    assert st.host.oq_deadline == DOQ


def test_delivery_loopback_udp_2_port_zero_never_matches() -> None:
    m = udp(LOCALHOST, LOCALHOST, 40000, None)
    h = queued(m, socks=[Sock(3, None, 5000)])
    assert names_internal(ctx(), h) == ["delivery_loopback_udp_2"]


def test_delivery_loopback_udp_2_icmp_gen_never_and_nondet() -> None:
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    _, st = internal(ctx(icmp_gen=IcmpGen.NEVER), queued(m), "delivery_loopback_udp_2")
    assert st.host.oq == () and st.host.oq_deadline == NEVER
    c = ctx(icmp_gen=IcmpGen.NONDET)
    _, st = internal(c, queued(m), "delivery_loopback_udp_2", icmp=False)
    assert st.host.oq == ()
    _, st = internal(c, queued(m), "delivery_loopback_udp_2", icmp=True)
    assert len(st.host.oq) == 1 and isinstance(st.host.oq[0].body, ICMP)


# delivery_loopback_icmp_1 / _2 -------------------------------------------------------------

CONN = Sock(3, LOCALHOST, 40000, LOCALHOST, 5000)
Q = (LOCALHOST, 40000, LOCALHOST, 5000)


def test_delivery_loopback_icmp_1_sets_econnrefused_overwriting() -> None:
    m = icmp(LOCALHOST, LOCALHOST, Q)
    h = queued(m, socks=[replace(CONN, es=Errno.EHOSTUNREACH)])
    name, st = internal(ctx(), h, "delivery_loopback_icmp_1")
    assert name == "delivery_loopback_icmp_1" and st.label == LhTau()
    assert st.host.s == (replace(CONN, es=Errno.ECONNREFUSED),)
    assert st.host.oq == ()


def test_delivery_loopback_icmp_2_unconnected_or_no_socket() -> None:
    m = icmp(LOCALHOST, LOCALHOST, Q)
    for socks in ([Sock(3, None, 40000)], [], [Sock(3, LOCALHOST, 40001, LOCALHOST, 5000)]):
        h = queued(m, socks=socks)
        assert names_internal(ctx(), h) == ["delivery_loopback_icmp_2"]
        _, st = internal(ctx(), h, "delivery_loopback_icmp_2")
        assert st.host.s == h.s and st.host.oq == () and st.label == LhTau()


def test_delivery_loopback_icmp_host_unreach_linux_vs_freebsd() -> None:
    m = icmp(LOCALHOST, LOCALHOST, Q, IcmpKind.HOST_UNREACH)
    h = queued(m, socks=[CONN])
    assert names_internal(ctx(), h) == ["delivery_loopback_icmp_2"]
    assert names_internal(ctx(arch=Arch.WINDOWS), h) == ["delivery_loopback_icmp_2"]
    _, st = internal(ctx(arch=Arch.FREEBSD), h, "delivery_loopback_icmp_1")
    assert st.host.s[0].es == Errno.EHOSTUNREACH


def test_delivery_loopback_icmp_no_icmp_in_answer_to_icmp() -> None:
    m = icmp(LOCALHOST, LOCALHOST, Q)
    _, st = internal(ctx(icmp_gen=IcmpGen.ALWAYS), queued(m), "delivery_loopback_icmp_2")
    assert st.host.oq == ()


def test_loopback_round_trip_refused() -> None:
    """A connected socket sends to a closed local port: the ICMP comes back and sets es."""
    m = udp(LOCALHOST, LOCALHOST, 40000, 5000)
    _, st = internal(ctx(), queued(m, socks=[CONN]), "delivery_loopback_udp_2")
    _, st = internal(ctx(), st.host, "delivery_loopback_icmp_1")
    assert st.host.s == (replace(CONN, es=Errno.ECONNREFUSED),) and st.host.oq == ()
