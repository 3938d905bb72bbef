"""setsockopt(fd, opt, v) — docs/rules.md#setsockopt_1.

Which option each rule stores, and how, is the option table (udpsem.hosts.options): every
rule's guard and outcome are the table's `setter_guard` and `stored` (`refuser_guard` and
`refused` for the values an option refuses, `read_only_guard` for an option that can only
be read); the docstrings say what Linux does.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.calls import SetSockOpt
from udpsem.hosts.options import read_only_guard, refused, refuser_guard, setter_guard, stored
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Errno


@rule("setsockopt_1", call="setsockopt", category="succeed", trigger="call",
      summary="set a boolean socket option",
      guard=setter_guard("setsockopt_1"))
def setsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: store the new value of SO_REUSEADDR or SO_BSDCOMPAT in the socket's
    flags.

    Errors: none.

    Common cases: a server sets SO_REUSEADDR before bind so that it can share a port.

    Model details: SO_REUSEADDR affects only bind conflicts; SO_BSDCOMPAT is stored but
    never changes behaviour (and reads back False on linux).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, setsockopt(fd, opt, b))--> h'
        after: h' = h with {s := s with {f := s.f with {opt := b}}; ts(tid) := RET(OK ())_dsch}
        changes: s.f, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_2", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_BROADCAST or IP_RECVERR [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_2"))
def setsockopt_2(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: store whether the socket may send to (and connect to) broadcast
    addresses.

    Errors: none.

    Common cases: a discovery protocol enabling broadcast before announcing itself; an
    unconnected client asking to hear ICMP errors (IP_RECVERR).

    Model details: provenance: Linux 6.18, experiment — without it a send or connect to
    255.255.255.255, a subnet broadcast or 127.255.255.255 fails with EACCES (sendto_12,
    connect_3); with it they succeed, and a socket bound to 127.0.0.1 on a loopback-only
    host has a route to 255.255.255.255 (an unbound one does not: ENETUNREACH). IP_RECVERR
    (linux) makes ICMP errors reach the socket even unconnected, and queues each in the
    error queue (recvfrom_15); turning it off keeps the queue.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_BROADCAST, IP_RECVERR}
        transition: h --Lh_call(tid, setsockopt(fd, opt, b))--> h'
        after: h' = h with {s := s with {f.broadcast or f.recverr := b}; ts(tid) := RET(OK ())_dsch}
        changes: s.f.broadcast or s.f.recverr, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_3", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_RCVTIMEO or SO_SNDTIMEO (µs; rounded up to whole jiffies) [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_3"))
def setsockopt_3(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: store how long a blocking receive (SO_RCVTIMEO) or send (SO_SNDTIMEO)
    on the socket waits before it fails with EAGAIN; 0 means for ever.

    Errors: none (the value is a whole number of µs, so Linux's EDOM for a bad `tv_usec`
    cannot arise).

    Common cases: a client that waits at most a second for a reply.

    Model details: provenance: Linux 6.18, experiment — the timeout is rounded up to whole
    jiffies of the host constant HZ (250 here: 1 µs and 1500 µs both become 4 ms); a
    negative one stores zero, which makes blocking calls give up at once (recvfrom_10,
    sendto_16). A thread already blocked keeps its old deadline, as on Linux.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_RCVTIMEO, SO_SNDTIMEO}
        transition: h --Lh_call(tid, setsockopt(fd, opt, us))--> h'
        after: h' = h with {s := s with {rcvtimeo or sndtimeo := jiffies us}; ts(tid) :=
          RET(OK ())_dsch}, jiffies 0 = None, jiffies of a negative us = Some 0, else us rounded
          up to whole jiffies
        changes: s.rcvtimeo or s.sndtimeo, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_4", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_RCVBUF: clamp to rmem_max, double, and keep at least 2304 bytes [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_4"))
def setsockopt_4(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: set the socket's receive-buffer bound: the value is clamped to the
    host's RMEM_MAX, doubled (Linux counts its own overhead), and raised to 2304 bytes if
    smaller. Datagrams that would not fit are dropped on arrival (delivery_loopback_udp_3,
    delivery_in_udp_4).

    Errors: none.

    Common cases: a receiver enlarging its buffer to ride out bursts.

    Model details: provenance: Linux 6.18, experiment — 1000 reads back 2304, 10000 reads
    20000, 10^9 reads 8388608 (2 × rmem_max), and a negative value is taken as unsigned
    (2 × rmem_max). Datagrams already queued stay, even above the new bound. As root Linux
    applies the same clamp (only SO_RCVBUFFORCE bypasses it, which LIB does not have).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_RCVBUF; v' = RMEM_MAX if v < 0
          or v > RMEM_MAX, else v
        transition: h --Lh_call(tid, setsockopt(fd, SO_RCVBUF, v))--> h'
        after: h' = h with {s := s with {rcvbuf := the larger of 2 v' and 2304}; ts(tid) := RET(OK
          ())_dsch}
        changes: s.rcvbuf, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_5", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_SELECT_ERR_QUEUE [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_5"))
def setsockopt_5(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: store whether a pending error or a non-empty error queue also marks
    the socket exceptional: POLLPRI for poll, the exception set for select.

    Errors: none.

    Common cases: a program that watches for ICMP errors (IP_RECVERR) in select's
    exception set, apart from readable data.

    Model details: provenance: Linux 6.18, experiment — without it a UDP socket is never in
    select's exception set (data, errors, shutdown and an error queue all leave it empty);
    with it, an error pending or queued sets POLLPRI as well as POLLERR.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SELECT_ERR_QUEUE
        transition: h --Lh_call(tid, setsockopt(fd, SO_SELECT_ERR_QUEUE, b))--> h'
        after: h' = h with {s := s with {f.select_err_queue := b}; ts(tid) := RET(OK ())_dsch}
        changes: s.f.select_err_queue, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_6", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_SNDBUF: clamp to wmem_max, double, and keep at least 4608 bytes [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_6"))
def setsockopt_6(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: set the socket's send-buffer bound: the value is clamped to the host's
    WMEM_MAX, doubled, and raised to 4608 bytes if smaller.

    Errors: none.

    Common cases: a sender shrinking its buffer to feel back-pressure sooner.

    Model details: provenance: Linux 6.18, experiment — 0, 1000 and 2304 read back 4608,
    5000 reads 10000, 10^9 and -1 read 8388608 (2 × wmem_max). The bound is stored and read
    back; it never makes a send block or fail in the model: on loopback Linux frees a
    datagram's buffer as soon as it is delivered (five 60000-byte sends with SO_SNDBUF 4608
    all succeed at once), and the model's out-queue (OQ_CAP, sendto_6/sendto_8) stands for
    the host's transmit queue as a whole.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SNDBUF; v' = WMEM_MAX if v < 0
          or v > WMEM_MAX, else v
        transition: h --Lh_call(tid, setsockopt(fd, SO_SNDBUF, v))--> h'
        after: h' = h with {s := s with {sndbuf := the larger of 2 v' and 4608}; ts(tid) := RET(OK
          ())_dsch}
        changes: s.sndbuf, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_7", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_7"))
def setsockopt_7(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: store whether the socket may share its address and port with other
    SO_REUSEPORT sockets (SO_REUSEPORT), may be bound to an address the host does not
    have (IP_FREEBIND), or stamps each datagram it queues with its drop count
    (SO_RXQ_OVFL).

    Errors: none.

    Common cases: several worker processes or threads each binding their own socket to a
    server's port, the kernel spreading the datagrams among them; a daemon binding an
    address before its interface is configured.

    Model details: provenance: Linux 6.18, experiment — both read back as booleans (any
    non-zero value is on). SO_REUSEPORT counts when a later bind checks conflicts: a bind
    succeeds on a held port if it and every holder have the flag then (bind_1, conflict), so
    setting it after bind still lets others join and clearing it stops them. IP_FREEBIND
    counts at bind (bind_7); clearing it later leaves the socket bound where it is.
    SO_RXQ_OVFL counts when a datagram is queued (it is stamped with the drop count then)
    and when it is received (the count is reported only while the option is on).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_REUSEPORT, IP_FREEBIND, SO_RXQ_OVFL}
        transition: h --Lh_call(tid, setsockopt(fd, opt, b))--> h'
        after: h' = h with {s := s with {f.reuseport, f.freebind or f.rxq_ovfl := b}; ts(tid) :=
          RET(OK ())_dsch}
        changes: s.f.reuseport, s.f.freebind or s.f.rxq_ovfl, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_9", call="setsockopt", category="succeed", trigger="call",
      summary="set IP_TTL: 1..255, or -1 for the default (64) [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_9"))
def setsockopt_9(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: set the time to live of the socket's datagrams: a router drops a
    datagram whose TTL would reach 0 and answers with ICMP time-exceeded (net_router_ttl);
    -1 restores the default.

    Errors: none (other values: setsockopt_10).

    Common cases: traceroute-like probes; keeping datagrams on the local subnet (TTL 1).

    Model details: provenance: Linux 6.18, experiment — getsockopt reads 64 by default, 255
    and 1 are kept, -1 reads 64 again. The model's network has one router between
    subnets, so TTL 1 stops a datagram at it and TTL 2 gets it through.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_TTL; v = -1 or 1 ≤ v ≤ 255
        transition: h --Lh_call(tid, setsockopt(fd, IP_TTL, v))--> h'
        after: h' = h with {s := s with {ttl := None if v = -1 else Some v}; ts(tid) := RET(OK
          ())_dsch}
        changes: s.ttl, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_10", call="setsockopt", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL for an IP_TTL outside 1..255 (and not -1) [Linux 6.18, experiment]",
      guard=refuser_guard("setsockopt_10"))
def setsockopt_10(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: a time to live of 0, above 255, or negative other than -1 is refused;
    the socket keeps its TTL.

    Errors: EINVAL.

    Common cases: a program passing 256 or 0.

    Model details: provenance: Linux 6.18, experiment (0 and 256 gave EINVAL, the TTL
    read 64 afterwards).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_TTL; v ≠ -1 and (v < 1 or v > 255)
        transition: h --Lh_call(tid, setsockopt(fd, IP_TTL, v))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return refused(ctx, h, tid)


# IP_MTU_DISCOVER and IP_MTU (Linux 6.18, by experiment; path MTU, issue 12) -------------------

@rule("setsockopt_11", call="setsockopt", category="succeed", trigger="call",
      summary="set IP_MTU_DISCOVER: DONT, WANT, DO, PROBE, INTERFACE or OMIT (0..5) [Linux 6.18, experiment]",
      guard=setter_guard("setsockopt_11"))
def setsockopt_11(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: choose the socket's path-MTU discovery: whether its datagrams carry the
    don't-fragment bit, and whether one bigger than the MTU fails or is fragmented here.

    Errors: none (other values: setsockopt_12).

    Common cases: a DNS server or a QUIC stack setting DO (or PROBE) to do its own
    discovery; a legacy protocol setting DONT so that routers fragment.

    Model details: provenance: Linux 6.18, experiment (a new socket reads WANT, 1; each of
    0..5 reads back; on a 1000-byte link beyond a router: DONT's 1200-byte datagram arrived,
    fragmented by the router, and no error came; WANT's was dropped with EMSGSIZE, then
    fragmented here; DO's failed at once once the path MTU was known; PROBE's kept going
    into the link, each answered by EMSGSIZE; INTERFACE and OMIT never set DF). What each
    mode does: sendto_18 (local EMSGSIZE), auxiliary.wire_df (the DF bit),
    net_router_frag_needed, delivery_in_icmp_3.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU_DISCOVER; v ∈ 0..5
        transition: h --Lh_call(tid, setsockopt(fd, IP_MTU_DISCOVER, v))--> h'
        after: h' = h with {s := s with {pmtudisc := v}; ts(tid) := RET(OK ())_dsch}
        changes: s.pmtudisc, ts(tid)
    """
    return stored(ctx, h, tid, call, w)


@rule("setsockopt_12", call="setsockopt", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL for an IP_MTU_DISCOVER outside 0..5 [Linux 6.18, experiment]",
      guard=refuser_guard("setsockopt_12"))
def setsockopt_12(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: a path-MTU discovery mode that is not one of Linux's six is refused; the
    socket keeps its mode.

    Errors: EINVAL.

    Common cases: a program passing a mode of another system.

    Model details: provenance: Linux 6.18, experiment (-1, 6, 7, 2^31 - 1 and -2^31 gave
    EINVAL).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU_DISCOVER; v ∉ 0..5
        transition: h --Lh_call(tid, setsockopt(fd, IP_MTU_DISCOVER, v))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return refused(ctx, h, tid)


@rule("setsockopt_13", call="setsockopt", category="fail", trigger="call",
      errors=("ENOPROTOOPT",),
      summary="fail with ENOPROTOOPT for IP_MTU, which can only be read [Linux 6.18, experiment]",
      guard=read_only_guard("setsockopt_13"))
def setsockopt_13(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """Description: IP_MTU is the path MTU the kernel knows; a program cannot set it.

    Errors: ENOPROTOOPT.

    Common cases: a program trying to force a smaller MTU (IP_MTU_DISCOVER and the
    interface's MTU are the ways).

    Model details: provenance: Linux 6.18, experiment (setsockopt(IP_MTU, 1000) gave
    ENOPROTOOPT).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU
        transition: h --Lh_call(tid, setsockopt(fd, IP_MTU, v))--> h'
        after: h' = h with {ts(tid) := RET(FAIL ENOPROTOOPT)_dsch}
        changes: ts(tid)
    """
    return refused(ctx, h, tid, Errno.ENOPROTOOPT)
