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
from udpsem.hosts.auxiliary import path_mtu, truesize
from udpsem.hosts.state import ETH_MTU, NEIGH_PROBES, NEIGH_RETRANS
from udpsem.hosts.values import in_prefix
from udpsem.network.messages import ICMP, ICMP_QUOTE_MAX, IP_UDP_HEADERS, UDP, IcmpKind, IPMsg
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
        if f.hold is not None and not f.router and f.src == src and f.msg.dst == dst:
            return f
    return None


def router_entry(w: World, dst: int) -> InFlight | None:
    """A datagram the router already holds for neighbour `dst` (from any sender)."""
    for f in w.net:
        if f.router and f.msg.dst == dst:
            return f
    return None


# The unresolved queue's bound: net.ipv4.neigh.default.unres_qlen_bytes on Linux 6.18 (read by
# sysctl; by experiment, 400 datagrams sent to a neighbour that answered only later: 92 of
# 1000 bytes arrived, 256 of 10, 166 of 645, 67 of 1473 (two fragments), 39 of 3000 (three),
# the newest each time, at the host and at a router alike: 212992 bytes of skb truesize).
UNRES_QLEN_BYTES = 212992


def fragments(ip_len: int, mtu: int) -> list[int]:
    """The IP lengths of the fragments of an `ip_len`-byte datagram on a link of `mtu`: each
    carries a multiple of 8 bytes of the datagram after its 20-byte header, the last the
    rest (one piece if it fits)."""
    if ip_len <= mtu:
        return [ip_len]
    per = (mtu - 20) // 8 * 8
    body = ip_len - 20
    out = [20 + per] * (body // per)
    if body % per:
        out.append(20 + body % per)
    return out


def charge(msg: IPMsg, mtu: int) -> int:
    """What a held datagram costs its neighbour queue: the truesizes of its fragments at
    `mtu` (each fragment's skb is charged like a received datagram of its length; measured
    above)."""
    return sum(truesize(max(0, n - IP_UDP_HEADERS)) for n in fragments(msg.ip_len, mtu))


def entry_mtu(w: World, f: InFlight) -> int:
    """The MTU a held datagram waits to be sent on: its sender's path MTU to the destination
    (the router's leg MTU, for one the router holds, when smaller)."""
    m = w.machine(f.src) if f.src is not None else None
    mtu = ETH_MTU
    if m is not None and m.host is not None:
        mtu = path_mtu(m.host, f.msg.dst) or ETH_MTU
    return mtu


def entry_of(w: World, f: InFlight) -> list[InFlight]:
    """The datagrams held in the same neighbour entry as `f`, oldest first."""
    return [x for x in w.net if x.hold is not None and x.router == f.router
            and x.msg.dst == f.msg.dst and (f.router or x.src == f.src)]


def queued_bytes(w: World, f: InFlight, mtu: int) -> int:
    """The bytes charged to `f`'s neighbour entry (its datagrams' charges at `mtu`)."""
    return sum(charge(x.msg, mtu) for x in entry_of(w, f))


def overflowing(w: World, fresh: InFlight, mtu: int) -> list[InFlight]:
    """The oldest held datagrams of `fresh`'s entry that must go for `fresh` to join it
    within UNRES_QLEN_BYTES (empty: it fits)."""
    held = sorted((x for x in entry_of(w, fresh)), key=lambda x: x.seq)
    total = sum(charge(x.msg, mtu) for x in held) + charge(fresh.msg, mtu)
    out = []
    for x in held:
        if total <= UNRES_QLEN_BYTES:
            break
        out.append(x)
        total -= charge(x.msg, mtu)
    return out


@rule("net_neigh_overflow", category="misc", trigger="net",
      summary="a datagram joining a full neighbour queue pushes its oldest datagrams out, silently [Linux 6.18, experiment]")
def net_neigh_overflow(w: World, fresh: InFlight, gone: tuple[InFlight, ...]) -> World:
    """Description: a datagram is held for a neighbour (net_neigh_hold, or the router's
    net_router_neigh_hold) whose queue has no room for it within UNRES_QLEN_BYTES: the
    oldest datagrams of the entry are dropped, as few as make room, and it joins.

    Errors: none (the dropped datagrams are lost silently: no ICMP, no error).

    Common cases: a burst to a peer whose link is down for a moment: only its newest
    212992 bytes' worth (92 datagrams of 1000 bytes) arrive when the peer answers.

    Model details: provenance: Linux 6.18, experiment (see UNRES_QLEN_BYTES; Linux's
    neigh_queue drops from the head). Each datagram is charged the skb truesizes of its
    fragments at the path MTU; Linux drops fragment by fragment, so it may keep the tail
    fragments of a datagram it drops, which the model does not (they could never be
    reassembled).

    Formal:
        premises: a datagram msg joins neighbour entry e (held_n(msg, since, probe), or held at
          the router); Σ charge(e) + charge(msg) > UNRES_QLEN_BYTES; gone = the shortest
          prefix of e (oldest first) with Σ charge(e − gone) + charge(msg) ≤ UNRES_QLEN_BYTES
        transition: e | 0 --n·msg?--> (e − gone) | held_n(msg, since, probe)
        after: the datagrams of gone are dropped; msg is held
        changes: the messages in flight (gone removed, one held one added)
    """
    net = [x for x in w.net if all(x is not g for g in gone)]
    return World(w.now, w.machines, _sorted([*net, fresh]), w.schedule, w.drops, w.seq + 1)


def _join(w: World, fresh: InFlight, mtu: int) -> tuple[str, World]:
    """`fresh` joins its entry: (the rule that fired, the world after)."""
    gone = overflowing(w, fresh, mtu)
    if gone:
        return "net_neigh_overflow", net_neigh_overflow(w, fresh, tuple(gone))
    return "", World(w.now, w.machines, _sorted([*w.net, fresh]), w.schedule, w.drops,
                     w.seq + 1)


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
    The queue is bounded by UNRES_QLEN_BYTES (net_neigh_overflow). When the destination does not answer but the sender is plugged in, Linux
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
    return hold_at_host(w, src, msg)[1]


def hold_at_host(w: World, src: str, msg: IPMsg) -> tuple[str, World]:
    """Machine `src` holds `msg` for its neighbour: ("", the world after) or, when the
    entry's queue was full, ("net_neigh_overflow", the world after)."""
    f = held_entry(w, src, msg.dst)
    since, probe = (w.now, w.now + NEIGH_RETRANS) if f is None else (f.hold, f.deadline)
    fresh = InFlight(msg, probe, src, w.seq, since)
    return _join(w, fresh, entry_mtu(w, fresh))


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
    queues of an interface that goes down or loses its carrier); the router's stay."""
    return tuple(f for f in w.net if f.hold is None or f.router or f.src != src)


# A router's own neighbour wait (Linux 6.18, by experiment) ----------------------------------
#
# A router forwarding to a destination on one of its links resolves it like a host: the
# datagram waits in the router's entry for the destination (shared by every sender), probes go
# at once and every NEIGH_RETRANS, and after NEIGH_PROBES unanswered ones the datagrams are
# dropped, each answered by an ICMP host-unreachable to its sender, rate-limited (measured: the
# error 3.08 s after the send, EHOSTUNREACH type 3 code 1 on the IP_RECVERR socket only; of ten
# held datagrams six were answered).


@rule("net_router_neigh_hold", category="misc", trigger="net",
      summary="a router holds a datagram for a destination on its link that does not answer, and probes [Linux 6.18, experiment]")
def net_router_neigh_hold(w: World, f: InFlight) -> tuple[str, World]:
    """Description: an off-link datagram reaches the router, whose link towards its
    destination (a router leg, HostConsts.router_legs) has nobody answering for it now (no
    machine owns the address, or its owner is down, unplugged or its interface down): the
    router holds it in its neighbour entry for the destination, joining the entry if one
    exists (the queue bounded as the hosts' are: net_neigh_overflow).

    Errors: none yet (net_router_neigh_fail).

    Common cases: a datagram to an address on a remote subnet that nobody has; a remote
    peer whose cable was pulled.

    Model details: provenance: Linux 6.18, experiment. The router may instead still have
    a fresh entry for a destination that just went away, and send into the void: the
    system offers that as the choice `neigh` = cached (the usual net_emit path). Returns
    the rule that fired with the world after ("" for this one).

    Formal:
        premises: msg_0 in flight from machine n (its arrival is now); msg is UDP; its
          destination j is in none of n's subnets but in router leg l (not prohibit); no
          probe for j is answered now; choice neigh = hold
        transition: msg_0 --τ--> held_router(msg, since, probe)
        after: msg is held by the router; since and probe are those of its entry for j if it
          has one, else since = now and probe = now + NEIGH_RETRANS
        changes: the messages in flight (one replaced by a held one)
    """
    e = router_entry(w, f.msg.dst)
    since, probe = (w.now, w.now + NEIGH_RETRANS) if e is None else (e.hold, e.deadline)
    base = World(w.now, w.machines, tuple(x for x in w.net if x is not f), w.schedule, w.drops,
                 w.seq)
    fresh = InFlight(f.msg, probe, f.src, f.seq, since, True)
    return _join(base, fresh, entry_mtu(base, fresh))


@rule("net_router_neigh_release", category="misc", trigger="net",
      summary="a datagram the router holds is forwarded when its destination answers a probe [Linux 6.18, experiment]")
def net_router_neigh_release(w: World, f: InFlight, d: int) -> World:
    """Description: at a probe of the router's entry, the destination answers (its owner is
    alive, plugged in, its interface up): the held datagram goes on, arriving after a delay.

    Errors: none.

    Common cases: a remote peer whose cable was out for less than about 2 s.

    Model details: provenance: Linux 6.18, experiment (as the hosts' net_neigh_release).

    Formal:
        premises: held_router(msg, since, probe) with probe = now (sharp); probe < since +
          NEIGH_PROBES·NEIGH_RETRANS; the destination answers
        transition: held_router(msg, since, probe) --τ--> msg_d
        after: msg is in flight from its sender n, arriving at now + d
        changes: the messages in flight (the held one becomes an ordinary one)
    """
    sent = InFlight(f.msg, w.now + d, f.src, f.seq)
    net = [x for x in w.net if x is not f]
    return World(w.now, w.machines, _sorted([*net, sent]), w.schedule, w.drops, w.seq)


@rule("net_router_neigh_probe", category="misc", trigger="net",
      summary="an unanswered probe of the router's: the held datagram waits for the next one [Linux 6.18, experiment]")
def net_router_neigh_probe(w: World, f: InFlight) -> World:
    """Description: at a probe of the router's entry nobody answers, and probes remain: the
    datagram stays held until the next probe, NEIGH_RETRANS later.

    Errors: none.

    Common cases: the first seconds of a wait for a remote address nobody has.

    Model details: provenance: Linux 6.18, experiment (the router's neighbour parameters
    are the hosts': retrans_time_ms = 1000, mcast_solicit = 3).

    Formal:
        premises: held_router(msg, since, probe) with probe = now (sharp); probe < since +
          NEIGH_PROBES·NEIGH_RETRANS; the destination does not answer
        transition: held_router(msg, since, probe) --τ--> held_router(msg, since, probe +
          NEIGH_RETRANS)
        after: the datagram waits for the next probe
        changes: the held datagram's timer
    """
    later = InFlight(f.msg, f.deadline + NEIGH_RETRANS, f.src, f.seq, f.hold, True)
    net = [x for x in w.net if x is not f]
    return World(w.now, w.machines, _sorted([*net, later]), w.schedule, w.drops, w.seq)


@rule("net_router_neigh_fail", category="emit", trigger="net",
      summary="after 3 unanswered probes the router drops a held datagram, maybe answering ICMP host-unreachable [Linux 6.18, experiment]")
def net_router_neigh_fail(w: World, f: InFlight, d: int | None) -> World:
    """Description: the router's entry's last probe went unanswered: the held datagram is
    dropped, and the router either answers its sender with an ICMP host-unreachable quoting
    it (arriving after a delay d) or does not (rate-limited): choice `icmp`.

    Errors: EHOSTUNREACH, only for an IP_RECVERR socket (a soft error on Linux: a connected
    socket without it sees nothing).

    Common cases: a datagram to an address on a remote subnet that nobody has.

    Model details: provenance: Linux 6.18, experiment (the IP_RECVERR socket's error came
    3.08 s after its send, EHOSTUNREACH, origin ICMP, type 3, code 1; the connected socket
    saw nothing; six of ten held datagrams were answered). The ICMP's source is the
    datagram's destination (the model has no router address).

    Formal:
        premises: held_router(msg, since, probe) with probe = now = since +
          NEIGH_PROBES·NEIGH_RETRANS; choice icmp = b
        transition: held_router(msg, since, probe) --τ--> IP(j, src, ICMP_HOST_UNREACH(src,
          sport, j, dport))_d if b, else --τ--> 0
        after: the datagram is gone; with b, the ICMP is in flight to the sender, arriving at
          now + d, d ∈ [dpropmin, dpropmax] (choice delay)
        changes: the messages in flight
    """
    net = [x for x in w.net if x is not f]
    if d is not None:
        b = f.msg.body
        assert isinstance(b, UDP)
        icmp = IPMsg(f.msg.dst, f.msg.src, ICMP(IcmpKind.HOST_UNREACH, f.msg.src, b.sport,
                                                f.msg.dst, b.dport, b.data[:ICMP_QUOTE_MAX]))
        net.append(InFlight(icmp, w.now + d, None, f.seq))
    return World(w.now, w.machines, _sorted(net), w.schedule, w.drops, w.seq)


def is_last_probe(f: InFlight) -> bool:
    """Whether the held datagram's timer is its entry's failure time."""
    return probe_number(f) >= NEIGH_PROBES
