"""Out-queue rules, docs/rules.md#delivery_out_1: the head of `oq` leaves, is dropped or loops back.

Also holds two small helpers shared with the input rules (docs/rules.md): the ICMP_GEN choice and
the choice of receiving socket when a freebsd lookup ties.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import (
    dequeue,
    enqueue,
    fits,
    icmp_err,
    icmp_lookup,
    linux_bcast,
    local,
    lookup,
    replace_sock,
)
from udpsem.hosts.state import ErrEntry, Host, HostStep, LhSendMsg, RuleCtx, Sock
from udpsem.hosts.values import FD, IP, Arch, Errno, IcmpGen, Port, is_loopback, is_martian
from udpsem.network.messages import ICMP, ICMP_QUOTE_MAX, UDP, IcmpKind, IPMsg

T = TypeVar("T")


def port_unreach(i3: IP, p3: Port | None, i4: IP, p4: Port | None,
                 data: bytes = b"") -> IPMsg:
    """`IP(i4, i3, ICMP_PORT_UNREACH(i3, p3, i4, p4))`: the answer to an unmatched datagram
    from `(i3, p3)` to `(i4, p4)`, quoting it (with the start of its payload `data`, at most
    ICMP_QUOTE_MAX bytes)."""
    return IPMsg(i4, i3, ICMP(IcmpKind.PORT_UNREACH, i3, p3, i4, p4, data[:ICMP_QUOTE_MAX]))


def quoted(ctx: RuleCtx, data: bytes) -> bytes:
    """What of an unmatched datagram's payload this host's ICMP error quotes: its start if
    the host quotes payloads (HostConsts.icmp_quote, Linux), else nothing (the paper)."""
    return data[:ICMP_QUOTE_MAX] if ctx.consts.icmp_quote else b""


def maybe_icmp(ctx: RuleCtx, h: Host, icmp: IPMsg, cont: Callable[[Host], T]) -> T | Branch[T]:
    """"Optionally enqueue" `icmp`, as the ICMP_GEN parameter says: always, never, or a
    choice of kind `icmp` over (True, False)."""
    gen = ctx.consts.icmp_gen
    if gen == IcmpGen.ALWAYS:
        return cont(enqueue(ctx, h, icmp))
    if gen == IcmpGen.NEVER:
        return cont(h)
    return Branch("icmp", (True, False),
                  lambda yes: cont(enqueue(ctx, h, icmp) if yes else h))


def with_receiver(cands: Sequence[Sock], cont: Callable[[Sock], T]) -> T | Branch[T]:
    """Continue with the receiving socket; several candidates (freebsd ties) are a choice of
    kind `sock` over their fds in list order. `cands` must be non-empty."""
    if len(cands) == 1:
        return cont(cands[0])
    by_fd = {s.fd: s for s in cands}
    fds: tuple[FD, ...] = tuple(s.fd for s in cands)
    return Branch("sock", fds, lambda fd: cont(by_fd[fd]))


def udp_receivers(ctx: RuleCtx, h: Host, m: IPMsg) -> list[Sock]:
    """`lookup(h, (src, sport, dst, dport))` for a UDP datagram (empty: no socket)."""
    assert isinstance(m.body, UDP)
    return lookup(h, ctx.consts, (m.src, m.body.sport, m.dst, m.body.dport))


def fitting(ctx: RuleCtx, cands: Sequence[Sock], m: IPMsg) -> list[Sock]:
    """The candidate receivers whose receive buffer has room for `m` (all of them when
    buffers are unbounded)."""
    return [s for s in cands if fits(ctx.consts, s, m)]


def is_linux_bcast(ctx: RuleCtx, h: Host, m: IPMsg) -> bool:
    """A UDP datagram to a broadcast address on linux (sent with SO_BROADCAST): the
    broadcast rules handle it, not the unicast ones."""
    return (ctx.consts.arch == Arch.LINUX and isinstance(m.body, UDP)
            and linux_bcast(h, m.dst))


def icmp_targets(ctx: RuleCtx, h: Host, icmp: ICMP) -> list[Sock]:
    """The sockets `icmp_lookup` may pick for which `icmp_err` gives an error."""
    return [s for s in icmp_lookup(h, ctx.consts, icmp)
            if icmp_err(ctx.consts, icmp.kind, s) is not None]


def append_mq(h: Host, s: Sock, m: IPMsg) -> Host:
    """`s.mq := s.mq @ [m]` (position of `s` in the list kept); with SO_RXQ_OVFL the datagram
    is stamped with the socket's drop count [L: Linux 6.18, experiment]."""
    stamp = s.drops if s.f.rxq_ovfl else 0
    if stamp == 0 and not s.mqd:
        return replace_sock(h, replace(s, mq=(*s.mq, m)))
    mqd = s.mqd or (0,) * len(s.mq)
    return replace_sock(h, replace(s, mq=(*s.mq, m), mqd=(*mqd, stamp)))


def drop_on(h: Host, s: Sock) -> Host:
    """A datagram for `s` is dropped because its receive buffer is full: `s.drops + 1`."""
    return replace_sock(h, replace(s, drops=s.drops + 1))


def unfitting(ctx: RuleCtx, cands: Sequence[Sock], m: IPMsg) -> list[Sock]:
    """The candidate receivers whose receive buffer has no room for `m`."""
    return [s for s in cands if not fits(ctx.consts, s, m)]


def set_es(ctx: RuleCtx, h: Host, s: Sock, kind: IcmpKind, icmp: ICMP | None = None,
           offender: IP | None = None) -> Host:
    """`s.es := Some (icmp_err(kind, s))`, overwriting any older error; with IP_RECVERR
    (linux) the error is also appended to the socket's error queue, with the quoted payload
    and the ICMP's sender `offender`."""
    e: Errno | None = icmp_err(ctx.consts, kind, s)
    assert e is not None
    if icmp is not None and s.f.recverr and ctx.consts.arch == Arch.LINUX:
        ent = ErrEntry(e, icmp.is4, icmp.ps4, icmp.data, offender, icmp.kind, icmp.mtu or 0)
        return replace_sock(h, replace(s, es=e, eq=(*s.eq, ent)))
    return replace_sock(h, replace(s, es=e))


def _leaves_martian(m: IPMsg) -> bool:
    """`i2 ∈ MARTIAN` or `i1 ∈ MARTIAN ∪ LOOPBACK`."""
    return is_martian(m.dst) or is_martian(m.src) or is_loopback(m.src)


def _delivery_out_1_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_out_1: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    if local(h, m.dst) or _leaves_martian(m) or is_linux_bcast(ctx, h, m):
        return None
    return m


@rule("delivery_out_1", trigger="oq", category="misc",
      summary="send the out-queue head to the network", guard=_delivery_out_1_guard)
def delivery_out_1(ctx: RuleCtx, h: Host, m: Any) -> HostStep:
    """Description: the head of the out-queue is for another machine and has sane
    addresses, so it leaves with label `Lh_sendmsg m`.

    Errors: none.

    Common cases: every datagram sent to a peer, and every ICMP answer to a remote host.

    Model details: the out-queue timer (upper bound doq) forces one out-queue rule to fire
    within doq of the head reaching the front. Whether the network then carries, loses or
    duplicates the datagram is up to the network rules; a disconnected host loses it.

    Formal:
        premises: h.oq = m :: rest, m = IP(i1, i2, body), its timer in [0, doq]; ¬local(h, i2); i2
          ∉ MARTIAN; i1 ∉ MARTIAN ∪ LOOPBACK
        transition: h --Lh_sendmsg m--> h'
        after: h' = dequeue(h): oq := rest; oqf := full(rest); timer := doq if rest ≠ [] else ∞
        changes: oq, oq's timer, oqf
    """
    return HostStep(dequeue(ctx, h), LhSendMsg(m))


def _delivery_out_martian_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_out_martian: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    if local(h, m.dst) or not _leaves_martian(m) or is_linux_bcast(ctx, h, m):
        return None
    return True


@rule("delivery_out_martian", trigger="oq", category="misc",
      summary="discard an outgoing datagram with a martian destination or a bad source",
      guard=_delivery_out_martian_guard)
def delivery_out_martian(ctx: RuleCtx, h: Host, _: Any) -> HostStep:
    """Description: the head is not for this host, and its destination is martian (0/8,
    multicast, class E, 255.255.255.255) or its source is martian or loopback, so it is
    silently dropped.

    Errors: none reported; the sender already got `OK ()`.

    Common cases: a windows or freebsd send to 0.0.0.0 or to 255.255.255.255; a socket
    bound to 127.0.0.1 sending off-host.

    Model details: current Linux would fail such a loopback-sourced send with EINVAL; the
    model drops it here instead (a known deviation).

    Formal:
        premises: h.oq = m :: rest, m = IP(i1, i2, body); ¬local(h, i2); i2 ∈ MARTIAN ∨ i1 ∈
          MARTIAN ∪ LOOPBACK
        transition: h --Lh_tau--> h'
        after: h' = dequeue(h); m is discarded
        changes: oq, oq's timer, oqf
    """
    return HostStep(dequeue(ctx, h))


def _delivery_loopback_udp_1_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_udp_1: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    if not isinstance(m.body, UDP) or not local(h, m.dst) or is_linux_bcast(ctx, h, m):
        return None
    cands = fitting(ctx, udp_receivers(ctx, h, m), m)
    if not cands:
        return None
    return cands, m


@rule("delivery_loopback_udp_1", trigger="oq", category="internaldelivery",
      summary="deliver a local UDP datagram from the out-queue to the best-matching socket",
      guard=_delivery_loopback_udp_1_guard)
def delivery_loopback_udp_1(ctx: RuleCtx, h: Host, w: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is a UDP datagram for this host (an own address or 127/8) and
    some socket matches it; it is appended to that socket's receive queue.

    Errors: none.

    Common cases: two programs on one machine talking over 127.0.0.1.

    Model details: the receiver is `lookup`: the best score, ties going to the most
    recently bound socket on linux/windows and a choice of kind `sock` on freebsd and among
    an SO_REUSEPORT group on linux (Linux hashes the 4-tuple) [Linux 6.18, experiment].
    Orphans still receive.

    Formal:
        premises: h.oq = m :: rest, m = IP(i1, i2, UDP(p1, p2, data)); local(h, i2); lookup(h, (i1,
          p1, i2, p2)) = s (best score; ties: most recently bound, a choice on freebsd; closed
          sockets included)
        transition: h --Lh_tau--> h'
        after: h' = dequeue(h) with {s := s with {mq := s.mq @ [m]}}
        changes: oq, oq's timer, oqf, s.mq
    """
    cands, m = w
    h1 = dequeue(ctx, h)  # (its out-queue timer reads the clock)
    return with_receiver(cands, lambda s: HostStep(append_mq(h1, s, m)))


def _delivery_loopback_udp_2_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_udp_2: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    b = m.body
    if not isinstance(b, UDP) or not local(h, m.dst) or udp_receivers(ctx, h, m):
        return None
    if is_linux_bcast(ctx, h, m):
        return None
    return b, m


@rule("delivery_loopback_udp_2", trigger="oq", category="internaldelivery",
      summary="drop a local UDP datagram no socket wants, optionally queueing port-unreachable",
      guard=_delivery_loopback_udp_2_guard)
def delivery_loopback_udp_2(ctx: RuleCtx, h: Host, w: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is a UDP datagram for this host and no socket matches it; it
    is dropped and an ICMP port-unreachable quoting it may be queued back to its source.

    Errors: none directly; the ICMP may later set ECONNREFUSED on a connected sender.

    Common cases: sending to a local port nobody listens on.

    Model details: whether ICMP is generated follows ICMP_GEN (always / never / a choice
    of kind `icmp`). The ICMP goes through the out-queue like any other message and is
    dropped if the queue is full.

    Formal:
        premises: h.oq = m :: rest, m = IP(i1, i2, UDP(p1, p2, data)); local(h, i2); lookup(h, (i1,
          p1, i2, p2)) = None; icmp ∈ {T, F} by ICMP_GEN (always, never, or a choice)
        transition: h --Lh_tau--> h'
        after: h' = dequeue(h), then if icmp: enqueue(IP(i2, i1, ICMP_PORT_UNREACH(i1, p1, i2,
          p2))) (dropped if the out-queue is full)
        changes: oq, oq's timer, oqf
    """
    b, m = w
    return maybe_icmp(ctx, dequeue(ctx, h), port_unreach(m.src, b.sport, m.dst, b.dport,
                                                         quoted(ctx, b.data)), HostStep)


def _delivery_loopback_icmp_1_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_icmp_1: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    b = m.body
    if not isinstance(b, ICMP) or not local(h, m.dst):
        return None
    cands = icmp_targets(ctx, h, b)
    if not cands:
        return None
    return b, cands, m


@rule("delivery_loopback_icmp_1", trigger="oq", category="internaldelivery",
      summary="a local ICMP error sets the pending error of the socket it concerns",
      guard=_delivery_loopback_icmp_1_guard)
def delivery_loopback_icmp_1(ctx: RuleCtx, h: Host, w: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is an ICMP error for this host; `icmp_lookup` finds the socket
    that sent the quoted datagram and `icmp_err` gives an error, which becomes its `es`.

    Errors: sets ECONNREFUSED (port unreachable), or EHOSTUNREACH (host unreachable, freebsd
    only), reported by a later call on the socket.

    Common cases: a connected socket sending over loopback to a closed port.

    Model details: any older pending error is overwritten, as on Linux. Only connected
    sockets get errors. On freebsd the socket must have exactly the quoted quad, and ties
    are a choice of kind `sock`.

    Formal:
        premises: h.oq = m :: rest, m = IP(j1, j2, ICMP_k(q)); local(h, j2); icmp_lookup(h, q) = s;
          icmp_err(k, s) = Some e (s is connected)
        transition: h --Lh_tau--> h'
        after: h' = dequeue(h) with {s := s with {es := Some e}} (an older error is overwritten)
        changes: oq, oq's timer, oqf, s.es
    """
    b, cands, m = w
    h1 = dequeue(ctx, h)
    return with_receiver(cands, lambda s: HostStep(set_es(ctx, h1, s, b.kind, b, m.src)))


def _delivery_loopback_icmp_2_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_icmp_2: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    b = m.body
    if not isinstance(b, ICMP) or not local(h, m.dst) or icmp_targets(ctx, h, b):
        return None
    return True


@rule("delivery_loopback_icmp_2", trigger="oq", category="internaldelivery",
      summary="drop a local ICMP error that concerns no socket or gives no error",
      guard=_delivery_loopback_icmp_2_guard)
def delivery_loopback_icmp_2(ctx: RuleCtx, h: Host, _: Any) -> HostStep:
    """Description: the head is an ICMP error for this host, but no socket matches the
    quoted datagram or the matching socket gets no error from it; it is dropped.

    Errors: none.

    Common cases: port-unreachable for an unconnected sender; host-unreachable on linux.

    Model details: no ICMP is ever generated in answer to ICMP.

    Formal:
        premises: h.oq = m :: rest, m = IP(j1, j2, ICMP_k(q)); local(h, j2); icmp_lookup(h, q) =
          None, or icmp_err(k, s) = None
        transition: h --Lh_tau--> h'
        after: h' = dequeue(h); m is dropped
        changes: oq, oq's timer, oqf
    """
    return HostStep(dequeue(ctx, h))


# Linux additions (Linux 6.18, by experiment): receive-buffer drops, local broadcast -------

def _delivery_loopback_udp_3_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_udp_3: the witness the outcome needs, or None."""
    if not h.oq:
        return None
    m = h.oq[0]
    if not isinstance(m.body, UDP) or not local(h, m.dst) or is_linux_bcast(ctx, h, m):
        return None
    unfit = unfitting(ctx, udp_receivers(ctx, h, m), m)
    if not unfit:
        return None
    return unfit


@rule("delivery_loopback_udp_3", trigger="oq", category="internaldelivery",
      summary="drop a local UDP datagram whose receiving socket's buffer is full [Linux 6.18, experiment]",
      guard=_delivery_loopback_udp_3_guard)
def delivery_loopback_udp_3(ctx: RuleCtx, h: Host, unfit: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is a UDP datagram for this host and a socket matches it, but
    that socket's receive buffer has no room for it; the datagram is dropped silently.

    Errors: none (the sender got OK; no ICMP is sent).

    Common cases: a receiver that falls behind a fast sender: with the default 212992-byte
    buffer Linux keeps 92 of 1000 unread 1000-byte datagrams.

    Model details: provenance: Linux 6.18, experiment — a datagram of n bytes costs
    `truesize(n)` (832 bytes up to 197, 2304 for 646..1669, n + 832 from 16005 on, ...), and
    it is queued iff the queue is empty or the queued truesizes plus its own fit the
    buffer. Only with a bounded buffer (SO_RCVBUF, or the host's RMEM_DEFAULT). The socket's
    drop count goes up (Linux's sk_drops, which SO_RXQ_OVFL reports: 3 after three drops);
    in an SO_REUSEPORT group Linux hashes to one member first, so a full member drops even
    when another has room (a choice here).

    Formal:
        premises: h.oq = m :: _, m = IP(i3, i4, UDP(p3, p4, data)); local(h, i4); not a
          linux broadcast; some s ∈ lookup(h, (i3, p3, i4, p4)) has ¬fits(s, m) (a choice if
          several: an SO_REUSEPORT group, freebsd ties)
        transition: h --τ--> h'
        after: h' = dequeue(h) with {s := s with {drops := s.drops + 1}}
        changes: oq, its timer, s.drops (Linux's drop count, read with SO_RXQ_OVFL)
    """
    h1 = dequeue(ctx, h)
    return with_receiver(unfit, lambda s: HostStep(drop_on(h1, s)))


def _bcast_receivers(ctx: RuleCtx, h: Host, m: IPMsg) -> list[Sock]:
    return fitting(ctx, udp_receivers(ctx, h, m), m)


def _delivery_loopback_bcast_1_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_bcast_1: the witness the outcome needs, or None."""
    if not h.oq or not is_linux_bcast(ctx, h, h.oq[0]):
        return None
    m = h.oq[0]
    cands = _bcast_receivers(ctx, h, m)
    if not cands:
        return None
    return cands, m


@rule("delivery_loopback_bcast_1", trigger="oq", category="internaldelivery",
      archs=("linux",),
      summary="loop a broadcast datagram back to a local socket bound to its port [Linux 6.18, experiment]",
      guard=_delivery_loopback_bcast_1_guard)
def delivery_loopback_bcast_1(ctx: RuleCtx, h: Host, w: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is a UDP datagram to a broadcast address (sent with
    SO_BROADCAST); this host gets a copy, queued on the best-matching socket, which is a
    socket bound to the wildcard address and that port (a socket bound to 127.0.0.1 does
    not match a broadcast destination).

    Errors: none.

    Common cases: a service discovery daemon that hears its own announcements.

    Model details: provenance: Linux 6.18, experiment (loopback-only namespace and this
    machine: the wildcard listener got it, the 127.0.0.1 one did not; the source is the
    route's source address). The copy Linux also puts on the wire is not modelled: the
    model's network carries only unicast datagrams (a documented deviation).

    Formal:
        premises: arch = linux; h.oq = m :: _, m = IP(i3, i4, UDP(p3, p4, data));
          linux_bcast(h, i4); s ∈ lookup(h, (i3, p3, i4, p4)) with fits(s, m)
        transition: h --τ--> h'
        after: h' = dequeue(h) with {s := s with {mq := s.mq @ [m]}}
        changes: oq, its timer, s.mq
    """
    cands, m = w
    h1 = dequeue(ctx, h)  # (its out-queue timer reads the clock)
    return with_receiver(cands, lambda s: HostStep(append_mq(h1, s, m)))


def _delivery_loopback_bcast_2_guard(ctx: RuleCtx, h: Host) -> Any:
    """The guard of delivery_loopback_bcast_2: the witness the outcome needs, or None (the
    sockets that do not fit the datagram; an empty tuple when no socket matches it)."""
    if not h.oq or not is_linux_bcast(ctx, h, h.oq[0]):
        return None
    m = h.oq[0]
    cands = udp_receivers(ctx, h, m)
    if not cands:
        return ()
    unfit = unfitting(ctx, cands, m)
    if not unfit:
        return None
    return tuple(unfit)


@rule("delivery_loopback_bcast_2", trigger="oq", category="internaldelivery",
      archs=("linux",),
      summary="discard a broadcast datagram no local socket takes (never answered with ICMP) [Linux 6.18, experiment]",
      guard=_delivery_loopback_bcast_2_guard)
def delivery_loopback_bcast_2(ctx: RuleCtx, h: Host, unfit: Any) -> HostStep | Branch[HostStep]:
    """Description: the head is a UDP datagram to a broadcast address, and no local socket
    matches it (or the matching one's buffer is full); it is discarded.

    Errors: none: no ICMP port-unreachable answers a broadcast.

    Common cases: a broadcast to a port nobody on this host listens on.

    Model details: provenance: Linux 6.18, experiment (no error on the connected sender);
    the wire copy is not modelled (see delivery_loopback_bcast_1).

    Formal:
        premises: arch = linux; h.oq = m :: _, m a UDP datagram to a linux_bcast address;
          lookup has no candidate, or a candidate s with ¬fits(s, m) (a choice if several)
        transition: h --τ--> h'
        after: h' = dequeue(h), with {s := s with {drops := s.drops + 1}} when s exists
        changes: oq, its timer, s.drops
    """
    if not unfit:
        return HostStep(dequeue(ctx, h))
    h1 = dequeue(ctx, h)  # (its out-queue timer reads the clock)
    return with_receiver(unfit, lambda s: HostStep(drop_on(h1, s)))
