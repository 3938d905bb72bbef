"""The network rules (docs/model.md): the network accepts a datagram (single, dup,
drop), lets time pass for messages in flight, emits them to their owner or outside, and
takes datagrams injected from outside; `host_lift` lifts host transitions to the network.
"""

from __future__ import annotations

from udpsem.base.registry import rule
from udpsem.hosts.state import (
    Host,
    RouterLeg,
)
from udpsem.hosts.values import in_prefix
from udpsem.network.messages import ICMP, ICMP_QUOTE_MAX, UDP, IcmpKind, IPMsg
from udpsem.state.world import InFlight, Machine, Setup, World


def net_accept(w: World, src: str | None, msg: IPMsg, delays: tuple[int, ...]) -> World:
    """Put one copy of `msg` in flight per delay; reset the sender's run of drops."""
    fresh = [InFlight(msg, w.now + d, src, w.seq + k) for k, d in enumerate(delays)]
    net = tuple(sorted((*w.net, *fresh), key=lambda f: (f.deadline, f.seq)))
    drops = tuple((h, n) for h, n in w.drops if h != src)
    return World(w.now, w.machines, net, w.schedule, drops, w.seq + len(delays))


@rule("net_accept_single", category="misc", trigger="net",
      summary="the network takes a sent datagram and delivers one copy after a delay")
def net_accept_single(w: World, src: str | None, msg: IPMsg, d: int) -> World:
    """Description: `0 --n·msg?--> msg_d` with d in [dpropmin, dpropmax] (choice `delay`).

    Errors: none.

    Common cases: most datagrams.

    Model details: reordering comes from independent delays.

    Formal:
        premises: a host rule of machine n outputs Lh_sendmsg msg (delivery_out_1) while n is
          connected; the network's fate choice is single; d ∈ [dpropmin, dpropmax] (a choice)
        transition: 0 --n·msg?--> msg_d
        after: one copy of msg is in flight, arriving at now + d; n's run of successive drops is
          reset
        changes: the messages in flight (one added), the drop count of n
    """
    return net_accept(w, src, msg, (d,))


@rule("net_accept_dup", category="misc", trigger="net",
      summary="the network takes a sent datagram and delivers k ≥ 2 copies, each delayed")
def net_accept_dup(w: World, src: str | None, msg: IPMsg, ds: tuple[int, ...]) -> World:
    """Description: `0 --n·msg?--> msg_d1 | ... | msg_dk`, k ≥ 2, delays chosen independently.

    Errors: none.

    Common cases: duplication by a faulty link or a retransmitting bridge.

    Model details: k is bounded by the fault setting's max_copies (choice `fate`).

    Formal:
        premises: a host rule of machine n outputs Lh_sendmsg msg while n is connected; the fate
          choice is dup with k copies, 2 ≤ k ≤ max_copies; d1, ..., dk ∈ [dpropmin, dpropmax], each
          chosen independently
        transition: 0 --n·msg?--> msg_d1 | msg_d2 | ... | msg_dk
        after: k independent copies of msg are in flight, copy j arriving at now + dj, so the
          copies may arrive in any order, and interleaved with other messages; n's run of drops is
          reset
        changes: the messages in flight (k added), the drop count of n
    """
    assert len(ds) >= 2
    return net_accept(w, src, msg, ds)


@rule("net_accept_drop", category="misc", trigger="net",
      summary="the network takes a sent datagram and loses it")
def net_accept_drop(w: World, src: str | None) -> World:
    """Description: `0 --n·msg?--> 0`.

    Errors: none.

    Common cases: loss; bounded by max_successive_drops under the paper preset.

    Model details: the run of drops per sending host is counted in the world.

    Formal:
        premises: a host rule of machine n outputs Lh_sendmsg msg while n is connected; the fate
          choice is drop (allowed when the loss setting and max_successive_drops permit it)
        transition: 0 --n·msg?--> 0
        after: nothing is in flight; n's run of successive drops grows by one
        changes: the drop count of n
    """
    drops = dict(w.drops)
    if src is not None:
        drops[src] = drops.get(src, 0) + 1
    return World(w.now, w.machines, w.net, w.schedule, tuple(sorted(drops.items())), w.seq)


@rule("net_msg_time", category="misc", trigger="net",
      summary="a datagram in flight lets time pass, never beyond its arrival")
def net_msg_time(f: InFlight, now: int, d: int) -> bool:
    """Description: `msg_(d+d') --d'--> msg_d`: time passes for a message in transit.

    Errors: none.

    Common cases: every time step while datagrams are in flight.

    Model details: with absolute deadlines this is the check that d' does not pass the
    arrival; it is part of every `time_pass` (via `time_bound`).

    Formal:
        premises: msg_(d + d') in flight; d' > 0; d ≥ 0 (the arrival is not passed)
        transition: msg_(d+d') --d'--> msg_d
        after: the message's remaining delay is d (with absolute deadlines: unchanged, the clock
          moved)
        changes: nothing but the clock (part of time_pass)
    """
    return d > 0 and f.deadline - now >= d


@rule("net_emit", category="emit", trigger="net",
      summary="a datagram whose delay has run out is delivered to the machine owning its address")
def net_emit(setup: Setup, w: World, f: InFlight) -> str | None:
    """Description: `msg_0 --n·msg!--> 0` to the unique machine whose non-loopback addresses
    contain the destination; it synchronises with a delivery_in_* rule (or host_recv_disc).

    Errors: none.

    Common cases: every datagram that is not lost.

    Model details: sharp: only when the timer is exactly 0. Returns the owner's name.

    Formal:
        premises: msg_0 in flight (sharp: its arrival is now); n = the unique live machine whose
          non-loopback ipsets contain msg's destination; the HOST of n takes it (a delivery_in_*
          rule, or host_recv_disc while unplugged)
        transition: msg_0 --n·msg!--> 0
        after: the message has left the network and is in n's host state (per the host rule)
        changes: the messages in flight (one removed), machine n (per the partner rule)
    """
    if f.deadline != w.now:
        return None
    return setup.owners.get(f.msg.dst)


@rule("net_emit_outside", category="emit", trigger="net",
      summary="a datagram for an address no live machine owns leaves the modelled network")
def net_emit_outside(w: World, f: InFlight) -> World:
    """Description: `msg_0 --out(msg)--> 0` when no machine in N owns the destination (for
    example it crashed).

    Errors: none.

    Common cases: a ping to a crashed host.

    Model details: visible label `out(msg)`.

    Formal:
        premises: msg_0 in flight (its arrival is now); no live machine owns msg's destination
          (unknown address, or its owner crashed)
        transition: msg_0 --out(msg)--> 0
        after: the message has left the modelled network (a visible label)
        changes: the messages in flight (one removed)
    """
    return World(w.now, w.machines, tuple(x for x in w.net if x is not f), w.schedule, w.drops,
                 w.seq)


def off_link(w: World, src: str | None, dst: int) -> bool:
    """Whether `dst` is outside every subnet of machine `src`'s interfaces (so the datagram
    went to a router)."""
    if src is None:
        return False
    m = w.machine(src)
    if m.host is None:
        return False
    return not any(not i.is_lo and in_prefix(dst, i.primary, i.netmask) for i in m.host.ifds)


def router_icmp(msg: IPMsg, kind: IcmpKind = IcmpKind.NET_UNREACH) -> IPMsg:
    """The ICMP error (net-unreachable, time-exceeded, admin-prohibited or, from its
    neighbour wait, host-unreachable) a router sends back for `msg`. The
    model has no router address: the ICMP comes from the datagram's destination (a receiver
    matches the quoted datagram, not the ICMP's source)."""
    b = msg.body
    assert isinstance(b, UDP)
    return IPMsg(msg.dst, msg.src, ICMP(kind, msg.src, b.sport, msg.dst, b.dport))


def _answered_by_router(w: World, f: InFlight, d: int | None, kind: IcmpKind) -> World:
    """`w` with the datagram in flight `f` taken off the network by the router and, when
    `d` is not None, its ICMP error `kind` in flight back to the sender, arriving in `d`."""
    net = [x for x in w.net if x is not f]
    if d is not None:
        net.append(InFlight(router_icmp(f.msg, kind), w.now + d, None, f.seq))
    net.sort(key=lambda x: (x.deadline, x.seq))
    return World(w.now, w.machines, tuple(net), w.schedule, w.drops, w.seq)


@rule("net_router_ttl", category="emit", trigger="net",
      summary="a router drops an off-link datagram whose TTL runs out, maybe answering ICMP time-exceeded [Linux 6.18, experiment]")
def net_router_ttl(w: World, f: InFlight, d: int | None) -> World:
    """Description: a UDP datagram with TTL 1 (IP_TTL) sent off-link reaches the router
    between the subnets, which would have to forward it with TTL 0: it is dropped, and the
    router either answers the sender with an ICMP time-exceeded quoting it (arriving after a
    delay d) or does not (its ICMP is rate-limited): choice `icmp`.

    Errors: EHOSTUNREACH, only for an IP_RECVERR socket (a soft error on Linux).

    Common cases: traceroute's first probe; a datagram meant to stay on its subnet.

    Model details: provenance: Linux 6.18, experiment (a forwarding namespace between two
    subnets: TTL 1 to the far subnet never arrived, the IP_RECVERR socket got EHOSTUNREACH
    with origin ICMP, type 11, code 0, offender the router; a connected socket without it
    saw nothing; TTL 2 arrived; TTL 1 on the sender's own subnet arrives, no router being
    involved). The model's network has exactly one router between any two subnets, so TTL 2
    always suffices. The ICMP's source is the datagram's destination (the model has no
    router address).

    Formal:
        premises: msg_0 in flight from machine n (its arrival is now); msg is UDP with ttl = 1;
          its destination j is in none of n's subnets; choice icmp = b
        transition: msg_0 --τ--> IP(j, src, ICMP_TIME_EXCEEDED(src, sport, j, dport))_d if b,
          else msg_0 --τ--> 0
        after: the datagram is gone; with b, the ICMP is in flight to n, arriving at now + d,
          d ∈ [dpropmin, dpropmax] (choice delay)
        changes: the messages in flight
    """
    return _answered_by_router(w, f, d, IcmpKind.TIME_EXCEEDED)


@rule("net_router_unreach", category="emit", trigger="net",
      summary="a router with no route answers an off-link datagram with ICMP net-unreachable [Linux 6.18, experiment]")
def net_router_unreach(w: World, f: InFlight, d: int) -> World:
    """Description: a datagram for an address no live machine owns, sent off-link by a
    host whose routers are Linux routers (HostConsts.router_icmp), reaches a router with no
    route for it: the router drops it and sends its sender an ICMP net-unreachable quoting
    it, which arrives after a propagation delay. The alternative, at the same instant, is
    net_emit_outside (the router forwards it beyond the modelled network, or its ICMP is
    rate-limited).

    Errors: ENETUNREACH, only for an IP_RECVERR socket (its pending error and its error
    queue): a soft error on Linux, so a connected socket without it sees nothing.

    Common cases: a client with IP_RECVERR sending to an address on a network that does not
    exist.

    Model details: provenance: Linux 6.18, experiment (a forwarding namespace between two
    subnets, no default route: the IP_RECVERR socket's next sendto failed with ENETUNREACH,
    its error queue held ENETUNREACH from origin ICMP, type 3, code 0, offender the router;
    connected and unconnected sockets without IP_RECVERR saw nothing). The router
    rate-limits these (1 per second per sender, bursts of 5; two of ten sends 10 ms apart
    were answered), which is why the ICMP is optional. The ICMP's source is the unreachable
    destination: the model has no router address.

    Formal:
        premises: msg_0 in flight from machine n (its arrival is now); no live machine owns
          msg's destination j; j is in none of n's subnets; n has router_icmp; msg is UDP
        transition: msg_0 --τ--> IP(j, src, ICMP_NET_UNREACH(src, sport, j, dport))_d
        after: the datagram is gone; the ICMP is in flight to n, arriving at now + d, d ∈
          [dpropmin, dpropmax] (choice delay)
        changes: the messages in flight (one replaced)
    """
    return _answered_by_router(w, f, d, IcmpKind.NET_UNREACH)


def router_leg(legs: tuple[RouterLeg, ...], dst: int) -> RouterLeg | None:
    """The router leg (HostConsts.router_legs) whose subnet holds `dst`, the longest prefix
    first; None: the routers have no route for it."""
    best: RouterLeg | None = None
    for leg in legs:
        if in_prefix(dst, leg.net, leg.plen) and (best is None or leg.plen > best.plen):
            best = leg
    return best


@rule("net_router_frag_needed", category="emit", trigger="net",
      summary="a router answers a DF datagram bigger than its next hop's MTU with ICMP fragmentation-needed [Linux 6.18, experiment]")
def net_router_frag_needed(w: World, f: InFlight, mtu: int, d: int) -> World:
    """Description: an off-link UDP datagram with the DF bit (IP_MTU_DISCOVER WANT while it
    fits the sender's path MTU, DO, PROBE) reaches the router, whose link towards its
    destination has a smaller MTU: the router drops it and sends its sender an ICMP
    fragmentation-needed quoting it, with that next-hop MTU, arriving after a delay d. A
    datagram without DF (DONT, INTERFACE, OMIT, or WANT above the path MTU) is fragmented
    by the router instead and arrives whole (net_emit: the model's datagrams are never seen
    in pieces).

    Errors: EMSGSIZE, a hard error (a connected socket gets it; an unconnected one only
    with IP_RECVERR, its error queue entry's ee_info the MTU); the sender's path MTU to
    the destination drops to the MTU (delivery_in_icmp_3).

    Common cases: a tunnel or a smaller-MTU link on the path; the first big datagram of a
    connected socket.

    Model details: provenance: Linux 6.18, experiment (a forwarding namespace, its leg to
    the far subnet at MTU 1000: a 1200-byte datagram in WANT mode never arrived; the
    connected socket's next call failed with EMSGSIZE, IP_MTU read 1000, the IP_RECVERR
    socket's error queue held EMSGSIZE, origin ICMP, type 3, code 4, info 1000; in DONT
    mode the same datagram arrived). Linux never rate-limits fragmentation-needed, so the
    ICMP always goes. The ICMP's source is the datagram's destination (the model has no
    router address).

    Formal:
        premises: msg_0 in flight from machine n (its arrival is now); msg is UDP with df;
          its destination j is in none of n's subnets; j is in the subnet of router leg l of
          n's HostConsts.router_legs (not prohibit); ip_len(msg) > l.mtu
        transition: msg_0 --τ--> IP(j, src, ICMP_FRAG_NEEDED(src, sport, j, dport; mtu =
          l.mtu))_d
        after: the datagram is gone; the ICMP is in flight to n, arriving at now + d, d ∈
          [dpropmin, dpropmax] (choice delay)
        changes: the messages in flight (one replaced)
    """
    b = f.msg.body
    assert isinstance(b, UDP)
    icmp = IPMsg(f.msg.dst, f.msg.src, ICMP(IcmpKind.FRAG_NEEDED, f.msg.src, b.sport,
                                            f.msg.dst, b.dport, b.data[:ICMP_QUOTE_MAX], mtu))
    back = InFlight(icmp, w.now + d, None, f.seq)
    net = sorted([*(x for x in w.net if x is not f), back], key=lambda x: (x.deadline, x.seq))
    return World(w.now, w.machines, tuple(net), w.schedule, w.drops, w.seq)


@rule("net_router_prohibit", category="emit", trigger="net",
      summary="a router whose route for the destination is prohibit drops a datagram, maybe answering ICMP admin-prohibited [Linux 6.18, experiment]")
def net_router_prohibit(w: World, f: InFlight, d: int | None) -> World:
    """Description: an off-link UDP datagram reaches the router, whose route for its
    destination has type prohibit (as a firewall's `reject with icmp admin-prohibited`):
    the router drops it and either answers its sender with an ICMP communication
    administratively prohibited quoting it (arriving after a delay d) or does not (its ICMP
    is rate-limited): choice `icmp`.

    Errors: EHOSTUNREACH, a hard error: a connected socket gets it without IP_RECVERR; an
    unconnected one only with IP_RECVERR.

    Common cases: a firewall between subnets; a destination blocked by policy.

    Model details: provenance: Linux 6.18, experiment (a forwarding namespace with `ip route
    add prohibit` for a subnet: the connected socket's pending error was EHOSTUNREACH,
    unconnected sockets without IP_RECVERR saw nothing; of a connected, an unconnected and an
    IP_RECVERR socket's sends 1 ms apart only the first two were answered, and none of a
    burst of ten in the next 0.3 s: the router's per-sender ICMP token bucket). The ICMP's
    source is the datagram's destination (the model has no router address).

    Formal:
        premises: msg_0 in flight from machine n (its arrival is now); msg is UDP; its
          destination j is in none of n's subnets; the longest router leg of n's
          HostConsts.router_legs holding j is prohibit; choice icmp = b
        transition: msg_0 --τ--> IP(j, src, ICMP_ADMIN_PROHIB(src, sport, j, dport))_d if b,
          else msg_0 --τ--> 0
        after: the datagram is gone; with b, the ICMP is in flight to n, arriving at now + d,
          d ∈ [dpropmin, dpropmax] (choice delay)
        changes: the messages in flight
    """
    return _answered_by_router(w, f, d, IcmpKind.ADMIN_PROHIB)


@rule("net_inject", category="misc", trigger="net",
      summary="a datagram from outside the modelled network enters it")
def net_inject(w: World, msg: IPMsg, d: int) -> World:
    """Description: `0 --in(msg)--> msg_d`, d in [dpropmin, dpropmax].

    Errors: none.

    Common cases: an ICMP host-unreachable from a router; foreign traffic.

    Model details: off unless the fault setting allows it (Theorem 2 assumes none); drivers
    offer it through `inject`.

    Formal:
        premises: the fault setting allows injection; msg is msg_ok; d ∈ [dpropmin, dpropmax]
        transition: 0 --in(msg)--> msg_d
        after: msg is in flight from outside, arriving at now + d
        changes: the messages in flight (one added)
    """
    return net_accept(w, None, msg, (d,))



@rule("host_lift", category="misc", trigger="net",
      summary="a host transition h --l--> h' is a transition of HOST(c, h), its label tagged")
def host_lift(m: Machine, host: Host) -> Machine:
    """Description: every host rule lifts to the network: `HOST(c, h) --n·l--> HOST(c, h')`,
    the label tagged with the machine's name, except for the two rows host_send_disc and
    host_recv_disc, which handle a machine that is unplugged.

    Errors: none.

    Common cases: every call, return, out-queue and delivery step of every machine.

    Model details: implicit in every host transition of a run (the trace names the host rule
    itself); coverage counts it once per lifted host transition.

    Formal:
        premises: a host rule gives h --l--> h' for the HOST of machine n (conn = c); l is not
          Lh_sendmsg while c = F (that is host_send_disc), and arrivals while c = F are
          host_recv_disc; gc is applied to h'
        transition: n·HOST(c, h) --n·l--> n·HOST(c, h')
        after: the machine's host state is h'; the label is the host label tagged with n: Lh_call
          and Lh_return meet a snippet (n·tid·call / n·tid·ret), Lh_sendmsg meets net_accept_*,
          Lh_recvmsg meets net_emit, Lh_exit is the multiway n·exit, Lh_console and Lh_tau stand
          alone
        changes: machine n's HOST (per the host rule)
    """
    return m.with_host(host)

