"""setsockopt(fd, opt, b) — docs/rules.md#setsockopt_1."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import jiffies_ns, replace_sock, ret, sock
from udpsem.hosts.calls import SetSockOpt
from udpsem.hosts.state import SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok, SockOpt


def _setsockopt_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_REUSEADDR, SockOpt.SO_BSDCOMPAT):
        return None
    return s


@rule("setsockopt_1", call="setsockopt", category="succeed", trigger="call",
      summary="set a boolean socket option", guard=_setsockopt_1_guard)
def setsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    if call.opt == SockOpt.SO_REUSEADDR:
        f = replace(s.f, reuseaddr=bool(call.value))
    else:
        f = replace(s.f, bsdcompat=bool(call.value))
    return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")


# Linux options (Linux 6.18, by experiment) ---------------------------------------------------

def _setsockopt_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_BROADCAST, SockOpt.IP_RECVERR):
        return None
    return s


@rule("setsockopt_2", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_BROADCAST or IP_RECVERR [Linux 6.18, experiment]", guard=_setsockopt_2_guard)
def setsockopt_2(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    if call.opt == SockOpt.IP_RECVERR:
        f = replace(s.f, recverr=bool(call.value))
        return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")
    f = replace(s.f, broadcast=bool(call.value))
    return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")


def _setsockopt_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_3: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO):
        return None
    return s


@rule("setsockopt_3", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_RCVTIMEO or SO_SNDTIMEO (µs; rounded up to whole jiffies) [Linux 6.18, experiment]",
      guard=_setsockopt_3_guard)
def setsockopt_3(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    t = jiffies_ns(ctx.consts, int(call.value))
    s2 = replace(s, rcvtimeo=t) if call.opt == SockOpt.SO_RCVTIMEO else replace(s, sndtimeo=t)
    return ret(ctx, replace_sock(h, s2), tid, Ok(None), "setsockopt")


def _setsockopt_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_4: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_RCVBUF:
        return None
    v = int(call.value)
    v = ctx.consts.rmem_max if v < 0 else min(v, ctx.consts.rmem_max)
    size = max(2 * v, SOCK_MIN_RCVBUF)
    return s, size


@rule("setsockopt_4", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_RCVBUF: clamp to rmem_max, double, and keep at least 2304 bytes [Linux 6.18, experiment]",
      guard=_setsockopt_4_guard)
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
    s, size = w
    return ret(ctx, replace_sock(h, replace(s, rcvbuf=size)), tid, Ok(None), "setsockopt")


def _setsockopt_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_5: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_SELECT_ERR_QUEUE:
        return None
    return s


@rule("setsockopt_5", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_SELECT_ERR_QUEUE [Linux 6.18, experiment]", guard=_setsockopt_5_guard)
def setsockopt_5(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    f = replace(s.f, select_err_queue=bool(call.value))
    return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")


def _setsockopt_6_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_6: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_SNDBUF:
        return None
    v = int(call.value)
    v = ctx.consts.wmem_max if v < 0 else min(v, ctx.consts.wmem_max)
    size = max(2 * v, SOCK_MIN_SNDBUF)
    return s, size


@rule("setsockopt_6", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_SNDBUF: clamp to wmem_max, double, and keep at least 4608 bytes [Linux 6.18, experiment]",
      guard=_setsockopt_6_guard)
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
    s, size = w
    return ret(ctx, replace_sock(h, replace(s, sndbuf=size)), tid, Ok(None), "setsockopt")


# The boolean Linux options setsockopt_7 / getsockopt_7 keep in the socket's flags.
_FLAG_OPTS = {SockOpt.SO_REUSEPORT: "reuseport", SockOpt.IP_FREEBIND: "freebind",
              SockOpt.SO_RXQ_OVFL: "rxq_ovfl"}


def _setsockopt_7_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_7: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in _FLAG_OPTS:
        return None
    return s


@rule("setsockopt_7", call="setsockopt", category="succeed", trigger="call",
      summary="set SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL [Linux 6.18, experiment]",
      guard=_setsockopt_7_guard)
def setsockopt_7(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    f = replace(s.f, **{_FLAG_OPTS[call.opt]: bool(call.value)})
    return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")


# IP_TTL (Linux 6.18, by experiment; the link-layer and router work of issue 12) ---------------

def _ttl_ok(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and (v == -1 or 1 <= v <= 255)


def _setsockopt_9_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_9: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.IP_TTL or not _ttl_ok(call.value):
        return None
    return s


@rule("setsockopt_9", call="setsockopt", category="succeed", trigger="call",
      summary="set IP_TTL: 1..255, or -1 for the default (64) [Linux 6.18, experiment]",
      guard=_setsockopt_9_guard)
def setsockopt_9(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, s: Any) -> Host:
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
    ttl = None if call.value == -1 else int(call.value)
    return ret(ctx, replace_sock(h, replace(s, ttl=ttl)), tid, Ok(None), "setsockopt")


def _setsockopt_10_guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
    """The guard of setsockopt_10: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.IP_TTL or _ttl_ok(call.value):
        return None
    return True


@rule("setsockopt_10", call="setsockopt", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL for an IP_TTL outside 1..255 (and not -1) [Linux 6.18, experiment]",
      guard=_setsockopt_10_guard)
def setsockopt_10(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, _: Any) -> Host:
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
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "setsockopt")
