"""Neighbour (ARP) resolution on a Linux host (HostConsts.neigh), determined by experiment on
Linux 6.18 with network namespaces joined by veth pairs and a bridge.

A host sends a datagram on its link only once the next hop's link-layer address is known.
When it is not (nobody answers for that address, the neighbour's link is down, or the
sender's own carrier is lost, which flushes its neighbour table), Linux holds the datagram in
the neighbour entry's queue and probes: at once, then every NEIGH_RETRANS (1 s). If a probe
is answered, every held datagram is sent; after NEIGH_PROBES (3) unanswered probes the entry
fails, the held datagrams are dropped, and each provokes an ICMP host-unreachable to its
sender, which only an IP_RECVERR socket reports (a soft error: a connected socket without it
sees nothing). Measured: a peer unreachable for 0.33 s or 1.5 s receives everything sent
meanwhile at the first probe after it is back; one unreachable for 4 s receives nothing, and
the error appears 3.08 s after the first send.

In the model a held datagram is a message of the network term tagged with the time its
entry began (`InFlight.hold`) whose timer is the entry's next probe: the sender's link layer,
between its out-queue and the wire. The next hop is taken to be the destination (the model
has no gateways), and resolution succeeds exactly when the destination's owner is alive,
plugged in, and has the address on an interface that is up.
"""

from __future__ import annotations

from udpsem.base.registry import rule
from udpsem.hosts.state import NEIGH_PROBES, NEIGH_RETRANS
from udpsem.hosts.values import in_prefix
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg
from udpsem.state.world import InFlight, Setup, World


def answers(setup: Setup, w: World, dst: int) -> bool:
    """Whether a neighbour probe for `dst` is answered now: its owner is alive, plugged in,
    and holds `dst` on an interface that is up."""
    owner = setup.owners.get(dst)
    if owner is None:
        return False
    m = w.machine(owner)
    if m.host is None or not m.conn:
        return False
    return any(dst in i.ipset and i.up for i in m.host.ifds)


def on_link(setup: Setup, w: World, src: str, dst: int) -> bool:
    """Whether `dst` is in the subnet of one of machine `src`'s interfaces that is up (the
    next hop is the destination itself)."""
    m = w.machine(src)
    if m.host is None:
        return False
    return any(not i.is_lo and i.up and in_prefix(dst, i.primary, i.netmask)
               for i in m.host.ifds)


def held_entry(w: World, src: str, dst: int) -> InFlight | None:
    """A datagram machine `src` already holds for neighbour `dst` (the entry is shared)."""
    for f in w.net:
        if f.hold is not None and f.src == src and f.msg.dst == dst:
            return f
    return None


def _sorted(net: list[InFlight]) -> tuple[InFlight, ...]:
    return tuple(sorted(net, key=lambda f: (f.deadline, f.seq)))


@rule("net_neigh_hold", category="misc", trigger="net",
      summary="a datagram for an unresolved neighbour is held while the sender probes [Linux 6.18, experiment]")
def net_neigh_hold(w: World, src: str, msg: IPMsg) -> World:
    """Description: machine n outputs a datagram whose next hop it cannot resolve now: its
    carrier is lost (unplugged), or nobody answers for the destination. The datagram waits
    in the neighbour entry's queue, joining the entry (and its probe schedule) if one exists.

    Errors: none (sendto has already returned OK).

    Common cases: sending to a peer whose link is down, or to an address on the subnet that
    no machine has; sending while one's own cable is pulled, on a host with dynamic
    neighbours (HostConsts.neigh).

    Model details: provenance: Linux 6.18, experiment — a datagram sent while the path is
    down is not lost but delivered if the neighbour answers a probe within 3 s. The entry
    began at `hold` (its first datagram); its next probe is at hold + k·NEIGH_RETRANS.
    Linux caps the queue at unres_qlen_bytes (212992 bytes); the model does not (outside
    the model). When the destination does not answer but the sender is plugged in, Linux
    may still have a cached entry from recent traffic and send at once: the system offers
    that as the choice `neigh` = cached (the usual net_accept_* path).

    Formal:
        premises: a host rule of machine n outputs Lh_sendmsg msg (delivery_out_1); n has
          dynamic neighbours; n is unplugged, or msg's destination is on one of n's subnets and
          no probe for it is answered now (choice neigh = hold)
        transition: 0 --n·msg?--> held_n(msg, since, probe)
        after: msg is held by n; since and probe are those of n's entry for the destination if
          it has one, else since = now and probe = now + NEIGH_RETRANS
        changes: the messages in flight (one held one added)
    """
    f = held_entry(w, src, msg.dst)
    since, probe = (w.now, w.now + NEIGH_RETRANS) if f is None else (f.hold, f.deadline)
    fresh = InFlight(msg, probe, src, w.seq, since)
    return World(w.now, w.machines, _sorted([*w.net, fresh]), w.schedule, w.drops, w.seq + 1)


def probe_number(f: InFlight) -> int:
    """Which probe of its entry a held datagram waits for (1, 2, ...: the k-th retransmission
    after the first probe, sent when it was held)."""
    assert f.hold is not None
    return (f.deadline - f.hold) // NEIGH_RETRANS


@rule("net_neigh_release", category="misc", trigger="net",
      summary="a held datagram is sent when the neighbour answers a probe [Linux 6.18, experiment]")
def net_neigh_release(w: World, f: InFlight, d: int) -> World:
    """Description: at a probe of the neighbour entry, the destination answers (its owner is
    alive, plugged in, its interface up) and the sender is plugged in: the held datagram goes
    on the wire, arriving after a propagation delay.

    Errors: none.

    Common cases: a peer whose link was down for less than about 2 s receives everything
    sent meanwhile, about 1 s or 2 s after the first of it.

    Model details: provenance: Linux 6.18, experiment (a peer down 0.33 s received the six
    datagrams sent meanwhile 0.72 s after it came back, at the probe 1 s after the first
    send). Every datagram of the entry is released at the same probe; each gets its own
    delay d ∈ [dpropmin, dpropmax] (choice `delay`), so the model admits Linux's order and
    others.

    Formal:
        premises: held_n(msg, since, probe) with probe = now (sharp); probe < since +
          NEIGH_PROBES·NEIGH_RETRANS; n is plugged in; the destination answers
        transition: held_n(msg, since, probe) --τ--> msg_d
        after: msg is in flight from n, arriving at now + d
        changes: the messages in flight (the held one becomes an ordinary one)
    """
    sent = InFlight(f.msg, w.now + d, f.src, f.seq)
    net = [x for x in w.net if x is not f]
    return World(w.now, w.machines, _sorted([*net, sent]), w.schedule, w.drops, w.seq)


@rule("net_neigh_probe", category="misc", trigger="net",
      summary="an unanswered neighbour probe: the held datagram waits for the next one [Linux 6.18, experiment]")
def net_neigh_probe(w: World, f: InFlight) -> World:
    """Description: at a probe of the neighbour entry nobody answers (or the sender's carrier
    is still lost), and probes remain: the datagram stays held until the next probe,
    NEIGH_RETRANS later.

    Errors: none.

    Common cases: the first second of a peer's outage.

    Model details: provenance: Linux 6.18, experiment (net.ipv4.neigh.*.retrans_time_ms =
    1000, mcast_solicit = 3).

    Formal:
        premises: held_n(msg, since, probe) with probe = now (sharp); probe < since +
          NEIGH_PROBES·NEIGH_RETRANS (probes remain); n is unplugged or the destination does
          not answer
        transition: held_n(msg, since, probe) --τ--> held_n(msg, since, probe + NEIGH_RETRANS)
        after: the datagram waits for the next probe
        changes: the held datagram's timer
    """
    later = InFlight(f.msg, f.deadline + NEIGH_RETRANS, f.src, f.seq, f.hold)
    net = [x for x in w.net if x is not f]
    return World(w.now, w.machines, _sorted([*net, later]), w.schedule, w.drops, w.seq)


def failure_icmp(msg: IPMsg) -> IPMsg:
    """The ICMP host-unreachable Linux sends itself for a datagram whose neighbour failed:
    from and to the datagram's source, quoting it."""
    b = msg.body
    assert isinstance(b, UDP)
    return IPMsg(msg.src, msg.src, ICMP(IcmpKind.HOST_UNREACH, msg.src, b.sport, msg.dst,
                                        b.dport))


@rule("net_neigh_fail", category="misc", trigger="net",
      summary="after 3 unanswered probes a held datagram is dropped with ICMP host-unreachable to its sender [Linux 6.18, experiment]")
def net_neigh_fail(w: World, f: InFlight) -> World:
    """Description: the neighbour entry's last probe went unanswered: the held datagram is
    dropped and its sender gets an ICMP host-unreachable quoting it, delivered to its own
    host (delivery_in_icmp_1 / delivery_in_icmp_2 take it).

    Errors: EHOSTUNREACH, but only for a socket with IP_RECVERR (its pending error and its
    error queue); without it, connected or not, nothing is reported (a soft error on Linux).

    Common cases: sending to an address on the subnet that nobody has; a peer down for
    more than about 2 s.

    Model details: provenance: Linux 6.18, experiment (the error appeared 3.08 s after the
    send, on the IP_RECVERR socket only, with ee_origin ICMP, type 3, code 1). The ICMP is
    not rate-limited (Linux exempts loopback delivery).

    Formal:
        premises: held_n(msg, since, probe) with probe = now = since +
          NEIGH_PROBES·NEIGH_RETRANS; machine n is alive (else the datagram just goes)
        transition: held_n(msg, since, probe) | n·HOST(c, h) --n·icmp?--> n·HOST(c, h')
        after: the datagram is gone; h' is h after a delivery_in_icmp rule for IP(src, src,
          ICMP_HOST_UNREACH(src, sport, dst, dport))
        changes: the messages in flight (one held one removed), n's HOST (per the ICMP rule)
    """
    return World(w.now, w.machines, tuple(x for x in w.net if x is not f), w.schedule, w.drops,
                 w.seq)


def purge(w: World, src: str) -> tuple[InFlight, ...]:
    """The network without the datagrams machine `src` holds (Linux purges the neighbour
    queues of an interface that goes down or loses its carrier)."""
    return tuple(f for f in w.net if f.hold is None or f.src != src)


def is_last_probe(f: InFlight) -> bool:
    """Whether the held datagram's timer is its entry's failure time."""
    return probe_number(f) >= NEIGH_PROBES
