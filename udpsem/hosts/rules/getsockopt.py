"""getsockopt(fd, opt) — docs/rules.md#getsockopt_1.

Which option each rule answers, and how, is the option table (udpsem.hosts.options): every
rule's guard and outcome are the table's `getter_guard` and `answered` (IP_MTU's, which read
the host's path MTU, have their own guards); the docstrings say what Linux does.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import has_route, path_mtu, ret, sock
from udpsem.hosts.calls import GetSockOpt
from udpsem.hosts.options import answered, getter_guard
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, SockOpt


@rule("getsockopt_1", call="getsockopt", category="succeed", trigger="call",
      summary="return the value of a boolean socket option",
      guard=getter_guard("getsockopt_1"))
def getsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's SO_REUSEADDR or SO_BSDCOMPAT flag.

    Errors: none.

    Common cases: a library checking whether address reuse is on.

    Model details: on linux SO_BSDCOMPAT always reads False: the option is obsolete, so
    setting it is accepted and ignored. Other architectures return the stored flag.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); b = s.f.reuseaddr for SO_REUSEADDR; for
          SO_BSDCOMPAT b = F on linux, else s.f.bsdcompat
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK b)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_2", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_BROADCAST or IP_RECVERR [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_2"))
def getsockopt_2(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer whether the socket may send to broadcast addresses.

    Errors: none.

    Common cases: a discovery library checking its socket before broadcasting.

    Model details: provenance: Linux 6.18, experiment (reads back what setsockopt_2 set;
    off on a new socket).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_BROADCAST, IP_RECVERR}
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK s.f.broadcast or s.f.recverr)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_3", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_RCVTIMEO or SO_SNDTIMEO in µs, as Linux rounded it [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_3"))
def getsockopt_3(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's receive or send timeout in microseconds; 0 means
    none.

    Errors: none.

    Common cases: saving a socket's timeout before changing it.

    Model details: provenance: Linux 6.18, experiment — the value reads back rounded up to
    whole jiffies (1 µs reads 4000 with HZ = 250), and a zero timeout (from a negative
    setting, which makes calls give up at once) also reads 0.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_RCVTIMEO, SO_SNDTIMEO}; t =
          s.rcvtimeo or s.sndtimeo
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK (0 if t = None else t / 1000))_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_4", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_RCVBUF: the receive-buffer bound in bytes (None: unbounded) [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_4"))
def getsockopt_4(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's receive-buffer size: what SO_RCVBUF set (doubled
    and clamped), else the host's default.

    Errors: none.

    Common cases: a program checking how much buffering the kernel gave it.

    Model details: provenance: Linux 6.18, experiment (212992 by default). On a host whose
    RMEM_DEFAULT constant is None (the paper's unbounded queues, the model's default) a
    socket without SO_RCVBUF answers None.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_RCVBUF
        transition: h --Lh_call(tid, getsockopt(fd, SO_RCVBUF))--> h'
        after: h' = h with {ts(tid) := RET(OK rcvbuf_of(s))_dsch} (s.rcvbuf, else
          RMEM_DEFAULT, possibly None)
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_5", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_SELECT_ERR_QUEUE [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_5"))
def getsockopt_5(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer whether errors mark the socket exceptional (setsockopt_5).

    Errors: none.

    Common cases: a library checking a socket it was handed.

    Model details: provenance: Linux 6.18, experiment (off on a new socket; reads back what
    was set, as a boolean).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SELECT_ERR_QUEUE
        transition: h --Lh_call(tid, getsockopt(fd, SO_SELECT_ERR_QUEUE))--> h'
        after: h' = h with {ts(tid) := RET(OK s.f.select_err_queue)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_6", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_SNDBUF: the send-buffer bound in bytes (None: unbounded) [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_6"))
def getsockopt_6(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's send-buffer size: what SO_SNDBUF set (doubled and
    clamped), else the host's default.

    Errors: none.

    Common cases: a program checking how much it may send before the kernel pushes back.

    Model details: provenance: Linux 6.18, experiment (212992 by default,
    net.core.wmem_default). On a host whose WMEM_DEFAULT constant is None (the model's
    default) a socket without SO_SNDBUF answers None.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SNDBUF
        transition: h --Lh_call(tid, getsockopt(fd, SO_SNDBUF))--> h'
        after: h' = h with {ts(tid) := RET(OK (s.sndbuf, else WMEM_DEFAULT))_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_7", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_7"))
def getsockopt_7(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer whether the socket has SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL
    on.

    Errors: none.

    Common cases: a server library checking the socket it was handed before binding.

    Model details: provenance: Linux 6.18, experiment (off on a new socket; setting 5 reads
    back True).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_REUSEPORT, IP_FREEBIND, SO_RXQ_OVFL}
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK the flag)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


@rule("getsockopt_9", call="getsockopt", category="succeed", trigger="call",
      summary="return IP_TTL: the socket's time to live (64 by default) [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_9"))
def getsockopt_9(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: the time to live the socket's datagrams get.

    Errors: none.

    Common cases: reading the default before changing it.

    Model details: provenance: Linux 6.18, experiment (64, the host's
    net.ipv4.ip_default_ttl, until IP_TTL is set; -1 restores it).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_TTL
        transition: h --Lh_call(tid, getsockopt(fd, IP_TTL))--> h'
        after: h' = h with {ts(tid) := RET(OK (s.ttl, or 64 if None))_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


# IP_MTU_DISCOVER and IP_MTU (Linux 6.18, by experiment; path MTU, issue 12) -------------------

@rule("getsockopt_11", call="getsockopt", category="succeed", trigger="call",
      summary="return IP_MTU_DISCOVER: the socket's path-MTU discovery mode (WANT, 1, by default) [Linux 6.18, experiment]",
      guard=getter_guard("getsockopt_11"))
def getsockopt_11(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: the socket's path-MTU discovery mode, 0..5.

    Errors: none.

    Common cases: a library checking that DO is set before it sends big datagrams.

    Model details: provenance: Linux 6.18, experiment (a new socket reads 1, PMTUDISC_WANT:
    net.ipv4.ip_no_pmtu_disc is 0; each mode set reads back).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU_DISCOVER
        transition: h --Lh_call(tid, getsockopt(fd, IP_MTU_DISCOVER))--> h'
        after: h' = h with {ts(tid) := RET(OK s.pmtudisc)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


IPV4_MIN_MTU = 68  # what IP_MTU reads on a connected socket whose route is gone (experiment)


def _getsockopt_12_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_12: the answer (in a 1-tuple), or None."""
    if call.opt != SockOpt.IP_MTU:
        return None
    s = sock(h, call.fd)
    if s is None or s.is2 is None:
        return None
    m = path_mtu(h, s.is2) if has_route(h, s.is2) else None
    return (IPV4_MIN_MTU if m is None else m,)


@rule("getsockopt_12", call="getsockopt", category="succeed", trigger="call",
      summary="return IP_MTU: the path MTU to a connected socket's peer [Linux 6.18, experiment]",
      guard=_getsockopt_12_guard)
def getsockopt_12(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: the MTU of the path to the socket's peer as the host knows it: the
    outgoing interface's, or less once an ICMP fragmentation-needed said so
    (delivery_in_icmp_3); the same for every socket to that destination.

    Errors: none (an unconnected socket: getsockopt_13).

    Common cases: a program doing its own path-MTU discovery reading what the kernel
    learned, after an EMSGSIZE.

    Model details: provenance: Linux 6.18, experiment (1500 on a veth, 65535 over loopback
    (its MTU is 65536), 1000 after a fragmentation-needed from a router whose next link has
    MTU 1000, also for a socket connected later to the same destination; 68 on a connected
    socket whose interface was taken down since: its route is gone). Linux reads the
    socket's cached route, which a send looks up again: a socket connected before another
    one learned the path MTU reads the old MTU until its next send, and one whose route went
    with a learned MTU reads that MTU, not 68; the model reads the host's path MTU now.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU; s.is2 = Some i; m = the
          path MTU to i (at most 65535) if has_route(h, i), else 68
        transition: h --Lh_call(tid, getsockopt(fd, IP_MTU))--> h'
        after: h' = h with {ts(tid) := RET(OK m)_dsch}
        changes: ts(tid)
    """
    return answered(ctx, h, tid, w)


def _getsockopt_13_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_13: the witness the outcome needs, or None."""
    if call.opt != SockOpt.IP_MTU:
        return None
    s = sock(h, call.fd)
    return None if s is None or s.is2 is not None else True


@rule("getsockopt_13", call="getsockopt", category="fail", trigger="call", errors=("ENOTCONN",),
      summary="fail with ENOTCONN for IP_MTU on a socket that is not connected [Linux 6.18, experiment]",
      guard=_getsockopt_13_guard)
def getsockopt_13(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: an unconnected socket has no one path, so it has no path MTU.

    Errors: ENOTCONN.

    Common cases: reading IP_MTU before connect.

    Model details: provenance: Linux 6.18, experiment (a new socket, and one whose connect
    failed with ENETUNREACH, gave ENOTCONN).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_MTU; s.is2 = None
        transition: h --Lh_call(tid, getsockopt(fd, IP_MTU))--> h'
        after: h' = h with {ts(tid) := RET(FAIL ENOTCONN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.ENOTCONN), "getsockopt")
