"""Input rules — docs/rules.md#delivery_in_udp_1: datagrams arriving from the network.

Together they accept every message whose destination is in own(h) and not in 127/8 (the
only ones the network delivers); the dispatcher labels them `Lh_recvmsg m`.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import learn_pmtu, own
from udpsem.hosts.rules.outqueue import (
    append_mq,
    drop_on,
    fitting,
    icmp_targets,
    maybe_icmp,
    port_unreach,
    quoted,
    set_es,
    udp_receivers,
    unfitting,
    with_receiver,
)
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import IP, is_loopback, is_martian
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg


def _deliverable(h: Host, m: IPMsg) -> bool:
    """The network delivers only to an own, non-loopback destination."""
    return m.dst in own(h) and not is_loopback(m.dst)


def _bad_source(i: IP) -> bool:
    """`i ∈ MARTIAN ∪ LOOPBACK`."""
    return is_martian(i) or is_loopback(i)


def _delivery_in_udp_1_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_udp_1: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, UDP) or not _deliverable(h, m) or _bad_source(m.src):
        return None
    cands = fitting(ctx, udp_receivers(ctx, h, m), m)
    if not cands:
        return None
    return cands


@rule("delivery_in_udp_1", trigger="recv", category="accept",
      summary="queue an arriving UDP datagram on the best-matching socket",
      guard=_delivery_in_udp_1_guard)
def delivery_in_udp_1(ctx: RuleCtx, h: Host, m: IPMsg, cands: Any) -> Host | Branch[Host]:
    """Description: a UDP datagram from a sane source matches a socket (`lookup`), which
    gets it appended to its receive queue.

    Errors: none.

    Common cases: every datagram a server or the heartbeat's detector receives.

    Model details: the best score wins; on linux and windows a tie goes to the most
    recently bound socket, on freebsd it is a choice of kind `sock`; on linux a tie of
    SO_REUSEPORT sockets on one address is a choice too (Linux hashes the 4-tuple) [Linux
    6.18, experiment]. Receive queues are
    unbounded unless SO_RCVBUF or the host's RMEM_DEFAULT bounds them (then a full one
    drops: delivery_in_udp_4). Orphans still receive.

    Formal:
        premises: m = IP(i3, i4, UDP(p3, p4, data)); i4 ∈ own(h), i4 ∉ LOOPBACK (the network's
          delivery condition); i3 ∉ MARTIAN ∪ LOOPBACK; lookup(h, (i3, p3, i4, p4)) = s (best
          score; ties: most recently bound, a choice on freebsd; closed sockets included)
        transition: h --Lh_recvmsg m--> h'
        after: h' = h with {s := s with {mq := s.mq @ [m]}}
        changes: s.mq
    """
    return with_receiver(cands, lambda s: append_mq(h, s, m))


def _delivery_in_udp_2_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_udp_2: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, UDP) or not _deliverable(h, m) or _bad_source(m.src):
        return None
    if udp_receivers(ctx, h, m):
        return None
    return b


@rule("delivery_in_udp_2", trigger="recv", category="accept",
      summary="drop an arriving UDP datagram no socket wants, optionally answering with ICMP",
      guard=_delivery_in_udp_2_guard)
def delivery_in_udp_2(ctx: RuleCtx, h: Host, m: IPMsg, b: Any) -> Host | Branch[Host]:
    """Description: a UDP datagram from a sane source matches no socket; it is dropped and
    an ICMP port-unreachable quoting it may be queued back to its sender.

    Errors: none here; the sender's host may turn the ICMP into ECONNREFUSED.

    Common cases: a heartbeat sent to a machine whose detector is not running.

    Model details: the option models ICMP rate limiting; the executable parameter ICMP_GEN
    resolves it (always, never, or a choice of kind `icmp`). The ICMP leaves through the
    out-queue, from the datagram's destination address.

    Formal:
        premises: m = IP(i3, i4, UDP(p3, p4, data)); i3 ∉ MARTIAN ∪ LOOPBACK; lookup(h, (i3, p3,
          i4, p4)) = None; icmp ∈ {T, F} by ICMP_GEN (always, never, or a choice)
        transition: h --Lh_recvmsg m--> h'
        after: h' = h, or if icmp: enqueue(h, IP(i4, i3, ICMP_PORT_UNREACH(i3, p3, i4, p4)))
        changes: oq, oq's timer, oqf (when an ICMP is queued)
    """
    return maybe_icmp(ctx, h, port_unreach(m.src, b.sport, m.dst, b.dport, quoted(ctx, b.data)),
                      lambda h2: h2)


def _delivery_in_udp_3_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_udp_3: the witness the outcome needs, or None."""
    if not isinstance(m.body, UDP) or not _deliverable(h, m) or not _bad_source(m.src):
        return None
    return True


@rule("delivery_in_udp_3", trigger="recv", category="accept",
      summary="drop an arriving UDP datagram with a martian or loopback source",
      guard=_delivery_in_udp_3_guard)
def delivery_in_udp_3(ctx: RuleCtx, h: Host, m: IPMsg, _: Any) -> Host:
    """Description: a UDP datagram whose source is martian or in 127/8 is discarded.

    Errors: none.

    Common cases: spoofed or misconfigured traffic injected from outside.

    Model details: no ICMP is generated, so such datagrams cannot provoke replies to
    impossible addresses.

    Formal:
        premises: m = IP(i3, i4, UDP(...)); i3 ∈ MARTIAN ∪ LOOPBACK
        transition: h --Lh_recvmsg m--> h
        after: h' = h (the datagram is dropped, no ICMP)
        changes: nothing
    """
    return h


def _delivery_in_icmp_1_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_icmp_1: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, ICMP) or not _deliverable(h, m) or _bad_source(m.src):
        return None
    if b.kind == IcmpKind.FRAG_NEEDED:
        return None  # delivery_in_icmp_3
    cands = icmp_targets(ctx, h, b)
    if not cands:
        return None
    return b, cands


@rule("delivery_in_icmp_1", trigger="recv", category="accept",
      summary="an arriving ICMP error sets the pending error of the socket it concerns",
      guard=_delivery_in_icmp_1_guard)
def delivery_in_icmp_1(ctx: RuleCtx, h: Host, m: IPMsg, w: Any) -> Host | Branch[Host]:
    """Description: an ICMP error from a sane source quotes a datagram this host sent;
    `icmp_lookup` finds the socket and `icmp_err` gives an error, which becomes its `es`.

    Errors: sets ECONNREFUSED (port unreachable) or, on freebsd, EHOSTUNREACH (host
    unreachable); a later call on the socket reports it.

    Common cases: a connected socket sending to a peer whose port is closed.

    Model details: the older pending error is overwritten, as on Linux. Linux and windows
    match the socket a reply from the quoted destination would reach; freebsd needs the
    exact quoted quad (ties are a choice of kind `sock`). Only connected sockets get errors.

    Formal:
        premises: m = IP(j1, j2, ICMP_k(q)); j1 ∉ MARTIAN ∪ LOOPBACK; icmp_lookup(h, q) = s;
          icmp_err(k, s) = Some e (s is connected)
        transition: h --Lh_recvmsg m--> h'
        after: h' = h with {s := s with {es := Some e}} (an older error is overwritten)
        changes: s.es
    """
    b, cands = w
    return with_receiver(cands, lambda s: set_es(ctx, h, s, b.kind, b, m.src))


def _delivery_in_icmp_2_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_icmp_2: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, ICMP) or not _deliverable(h, m):
        return None
    if not _bad_source(m.src) and (b.kind == IcmpKind.FRAG_NEEDED or icmp_targets(ctx, h, b)):
        return None
    return True


@rule("delivery_in_icmp_2", trigger="recv", category="accept",
      summary="drop an arriving ICMP error that concerns no socket or gives no error",
      guard=_delivery_in_icmp_2_guard)
def delivery_in_icmp_2(ctx: RuleCtx, h: Host, m: IPMsg, _: Any) -> Host:
    """Description: every other ICMP message is discarded: a martian or loopback source, no
    matching socket, or a socket that gets no error from it.

    Errors: none.

    Common cases: port-unreachable for an unconnected socket; host-unreachable on linux
    and windows, which only IP_RECVERR would report.

    Model details: no host ever answers ICMP with ICMP.

    Formal:
        premises: m = IP(j1, j2, ICMP_k(q)), and delivery_in_icmp_1 does not apply (martian or
          loopback source, no socket for q, or icmp_err(k, s) = None)
        transition: h --Lh_recvmsg m--> h
        after: h' = h (dropped; no ICMP is ever sent in answer to ICMP)
        changes: nothing
    """
    return h


def _delivery_in_icmp_3_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_icmp_3: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, ICMP) or b.kind != IcmpKind.FRAG_NEEDED or not _deliverable(h, m) \
            or _bad_source(m.src):
        return None
    return b, icmp_targets(ctx, h, b)


@rule("delivery_in_icmp_3", trigger="recv", category="accept",
      summary="an arriving ICMP fragmentation-needed lowers the path MTU and may set EMSGSIZE [Linux 6.18, experiment]",
      guard=_delivery_in_icmp_3_guard)
def delivery_in_icmp_3(ctx: RuleCtx, h: Host, m: IPMsg, w: Any) -> Host | Branch[Host]:
    """Description: an ICMP fragmentation-needed from a sane source (a router on the path)
    quotes a datagram this host sent with DF: the host's path MTU to the quoted
    destination drops to the ICMP's next-hop MTU (on the interface the destination is
    reached by), for every socket; and the socket `icmp_lookup` finds gets EMSGSIZE unless
    it does no path-MTU discovery (IP_MTU_DISCOVER DONT).

    Errors: sets EMSGSIZE, a hard error (a connected socket's next call reports it; an
    unconnected one only with IP_RECVERR, whose error-queue entry carries the MTU as
    ee_info).

    Common cases: the first datagram bigger than a smaller link further on.

    Model details: provenance: Linux 6.18, experiment (a connected WANT socket's next call
    failed with EMSGSIZE and IP_MTU read 1000, the next link's MTU, as did a new socket
    connected to the same destination; the IP_RECVERR socket's entry was EMSGSIZE, origin
    ICMP, type 3, code 4, info 1000). An MTU below net.ipv4.route.min_pmtu (552) is raised
    to it, and one not below the current path MTU is ignored (Linux's __ip_rt_update_pmtu).
    Linux forgets a learned path MTU after net.ipv4.route.mtu_expires (600 s); the model
    keeps it (outside the model).

    Formal:
        premises: m = IP(j1, j2, ICMP_FRAG_NEEDED(q; mtu)); j1 ∉ MARTIAN ∪ LOOPBACK; i4 the
          quoted destination; S = the sockets of icmp_lookup(h, q) for which icmp_err(k, s) =
          Some EMSGSIZE (s is connected or has IP_RECVERR, and its IP_MTU_DISCOVER is not DONT)
        transition: h --Lh_recvmsg m--> h'
        after: h' = h with the path MTU to i4 := min(path MTU, max(mtu, 552)) and, if S ≠ ∅,
          {s := s with {es := Some EMSGSIZE}} for s ∈ S (a choice if several), with an
          error-queue entry if s has IP_RECVERR
        changes: the interface's pmtu; s.es, s.eq
    """
    b, cands = w
    assert isinstance(b, ICMP)
    h1 = learn_pmtu(h, b.is4, b.mtu if b.mtu is not None else 0)
    if not cands:
        return h1
    return with_receiver(cands, lambda s: set_es(ctx, h1, s, b.kind, b, m.src))


def _delivery_in_udp_4_guard(ctx: RuleCtx, h: Host, m: IPMsg) -> Any:
    """The guard of delivery_in_udp_4: the witness the outcome needs, or None."""
    b = m.body
    if not isinstance(b, UDP) or not _deliverable(h, m) or _bad_source(m.src):
        return None
    unfit = unfitting(ctx, udp_receivers(ctx, h, m), m)
    if not unfit:
        return None
    return unfit


@rule("delivery_in_udp_4", trigger="recv", category="accept",
      summary="drop an arriving UDP datagram whose receiving socket's buffer is full [Linux 6.18, experiment]",
      guard=_delivery_in_udp_4_guard)
def delivery_in_udp_4(ctx: RuleCtx, h: Host, m: IPMsg, unfit: Any) -> Host | Branch[Host]:
    """Description: a UDP datagram from the network matches a socket whose receive buffer
    has no room for it; it is dropped silently.

    Errors: none (no ICMP).

    Common cases: a server under a burst of requests it reads too slowly.

    Model details: provenance: Linux 6.18, experiment on loopback (the accounting is the
    same as delivery_loopback_udp_3's). Only with a bounded buffer. The socket's drop
    count goes up (SO_RXQ_OVFL reports it); in an SO_REUSEPORT group Linux hashes to one
    member first, so a full member drops even when another has room (a choice here).

    Formal:
        premises: m = IP(i3, i4, UDP(p3, p4, data)); i4 ∈ own(h), i4 ∉ LOOPBACK; i3 ∉
          MARTIAN ∪ LOOPBACK; some s ∈ lookup(h, (i3, p3, i4, p4)) has ¬fits(s, m) (a
          choice if several)
        transition: h --Lh_recvmsg m--> h'
        after: h' = h with {s := s with {drops := s.drops + 1}} (dropped, no ICMP)
        changes: s.drops
    """
    return with_receiver(unfit, lambda s: drop_on(h, s))
