"""sendto(fd, ips, data, nb) — docs/rules.md#sendto_1.

Call rules are registered in Linux's order of error precedence: 7, 4, 11, 12, 6, 5, 3, then
the blocking sendto_2 and the success sendto_1. The slow rules sendto_8/9/10 leave SENDTO2.
Linux autobinds before it checks anything else, so every failure except sendto_7 autobinds.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.registry import info_of, rule
from udpsem.hosts.auxiliary import (
    any_sock,
    autobind_possible,
    dosend,
    dst_norm,
    frags_exceed_sndbuf,
    has_route_from,
    linux_bcast,
    local,
    nodest,
    others,
    replace_sock,
    ret,
    send_src,
    set_thread,
    sock,
    timeout_deadline,
    too_big,
    with_autobind,
)
from udpsem.hosts.calls import SendTo
from udpsem.hosts.rules import outqueue
from udpsem.hosts.state import Host, HostStep, RuleCtx, SendTo2, Sock
from udpsem.hosts.values import IP, TID, Arch, Errno, Fail, Ok, Port
from udpsem.network.messages import IP_UDP_HEADERS, IPMsg


def _dest_ip(ctx: RuleCtx, h: Host, s: Sock, call: SendTo) -> IP | None:
    """The normalised destination address: the given one, else the peer's; None if neither."""
    if call.dest is not None:
        i = call.dest[0]
    elif s.is2 is not None:
        i = s.is2
    else:
        return None
    return dst_norm(ctx.consts, send_src(h, s.is1), i)


def _d(ctx: RuleCtx, h: Host, s: Sock, call: SendTo) -> bool:
    """"D": a destination exists, is routable, is not a Linux broadcast, and the payload fits
    (in one datagram, and in fragments in the send buffer: sendto_19)."""
    return _d_route(ctx, h, s, call) and not _frags_refused(ctx, h, s, call)


def _d_route(ctx: RuleCtx, h: Host, s: Sock, call: SendTo) -> bool:
    """The paper's "D": a destination exists, is routable, is not a Linux broadcast, and the
    payload fits in one datagram."""
    i = _dest_ip(ctx, h, s, call)
    if i is None or not has_route_from(h, s.is1, i):
        return False
    if ctx.consts.arch == Arch.LINUX and linux_bcast(h, i) and not s.f.broadcast:
        return False
    return len(call.data) <= ctx.consts.payload_max and not _too_big(ctx, h, s, i, call)


def _too_big(ctx: RuleCtx, h: Host, s: Sock, i: IP, call: SendTo) -> bool:
    """sendto_18's premise: on linux, IP_MTU_DISCOVER DO, PROBE or INTERFACE refuse a
    datagram to `i` bigger than the path's (DO) or the interface's MTU."""
    return ctx.consts.arch == Arch.LINUX and too_big(h, i, len(call.data) + IP_UDP_HEADERS,
                                                     s.pmtudisc)


def _frags_refused(ctx: RuleCtx, h: Host, s: Sock, call: SendTo) -> bool:
    """Linux refuses (ENOBUFS) a datagram whose fragments do not fit twice the send buffer
    (frags_exceed_sndbuf)."""
    if ctx.consts.arch != Arch.LINUX:
        return False
    i = _dest_ip(ctx, h, s, call)
    return i is not None and frags_exceed_sndbuf(ctx.consts, h, s, i, len(call.data))


def _no_pending(ctx: RuleCtx, s: Sock) -> bool:
    """`es = None`, a constraint that windows drops (sendto ignores pending errors there)."""
    return ctx.consts.arch == Arch.WINDOWS or s.es is None


def _open_ab(ctx: RuleCtx, h: Host, call: SendTo) -> Sock | None:
    """The open socket, if an autobind port exists for it (the AB precondition)."""
    s = sock(h, call.fd)
    if s is None or not autobind_possible(ctx.consts, s.ps1, others(h, call.fd)):
        return None
    return s


def _ab_fail(ctx: RuleCtx, h: Host, tid: TID, s: Sock, e: Errno,
             clear_es: bool = False) -> Host | Branch[Host]:
    """AB (and optionally `es := None`), then `FAIL e`."""

    def done(p: Port) -> Host:
        s2 = replace(s, ps1=p, es=None if clear_es else s.es)
        return ret(ctx, replace_sock(h, s2), tid, Fail(e), "sendto")

    return with_autobind(ctx.consts, s.ps1, others(h, s.fd), done)


def _sendto_7_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_7: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.ps1 is not None or autobind_possible(ctx.consts, None,
                                                           others(h, call.fd)):
        return None
    return True


@rule("sendto_7", call="sendto", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN when an unbound socket cannot get an ephemeral port",
      guard=_sendto_7_guard)
def sendto_7(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, _: Any) -> Host:
    """Description: the socket has no local port and every ephemeral port is taken, so the
    implicit bind that precedes a send fails and nothing happens.

    Errors: EAGAIN.

    Common cases: port exhaustion on a host with very many sockets.

    Model details: Linux autobinds before any other check, so this failure comes first; it
    is the only sendto failure without the autobind side effect.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 = None; autobind(None, others) = ∅
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "sendto")


def _sendto_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_4: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or call.dest is not None or s.is2 is not None:
        return None
    return s


@rule("sendto_4", call="sendto", category="fail", trigger="call",
      errors=("EDESTADDRREQ", "ENOTCONN"),
      summary="fail when no destination is given and the socket has no peer (autobinding)",
      guard=_sendto_4_guard)
def sendto_4(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the call gives no destination and the socket is not connected, so
    there is nowhere to send; the socket is still autobound.

    Errors: EDESTADDRREQ on linux and freebsd, ENOTCONN on windows (`nodest`).

    Common cases: forgetting to connect before using sendto with no address (C's `send`).

    Model details: the autobind side effect is Linux's behaviour; the port is a choice of
    kind `eph` when the socket had none.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); ips = None;
          s.is2 = None
        transition: h --Lh_call(tid, sendto(fd, None, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL nodest(arch))_dsch}
          (nodest: ENOTCONN on windows, EDESTADDRREQ otherwise)
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, nodest(ctx.consts))


def _sendto_11_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_11: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None:
        return None
    i = _dest_ip(ctx, h, s, call)
    if i is None or has_route_from(h, s.is1, i):
        return None
    return s


@rule("sendto_11", call="sendto", category="fail", trigger="call", errors=("ENETUNREACH",),
      summary="fail with ENETUNREACH when the host has no route to the destination",
      guard=_sendto_11_guard)
def sendto_11(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the destination (given, or the peer) is not local and the host has no
    non-LO interface that is up, so the datagram cannot be routed; the socket is still
    autobound.

    Errors: ENETUNREACH.

    Common cases: sending off-host from a loopback-only host (a test namespace), or from a
    host whose interface was taken down (host_ifdown).

    Model details: the destination is normalised by `dst_norm` first, so on linux 0.0.0.0
    (meaning this host) always has a route. A down interface's own addresses stay local, so
    sends to them still succeed [L: Linux 6.18, experiment: `ip link set eth0 down`].

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); i = the given
          destination's address, else s.is2; ¬has_route(h, dst_norm(s.is1, i))
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL ENETUNREACH)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.ENETUNREACH)


def _sendto_12_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_12: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or ctx.consts.arch != Arch.LINUX or s.f.broadcast:
        return None
    i = _dest_ip(ctx, h, s, call)
    if i is None or not linux_bcast(h, i):
        return None
    return s


@rule("sendto_12", call="sendto", category="fail", trigger="call", errors=("EACCES",),
      archs=("linux",),
      summary="fail with EACCES when sending to a broadcast address on linux (autobinding)",
      guard=_sendto_12_guard)
def sendto_12(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the destination is 255.255.255.255 or an interface's subnet broadcast,
    which Linux refuses without SO_BROADCAST (LIB cannot set it); the socket is autobound.

    Errors: EACCES.

    Common cases: a discovery protocol that broadcasts on the LAN.

    Model details: linux only; windows and freebsd send the datagram, which is then dropped
    or leaves the network. With SO_BROADCAST set the send succeeds (sendto_1) [L: Linux
    6.18, experiment]; 127.255.255.255, LO's own broadcast address, counts too.

    Formal:
        premises: arch = linux; ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB);
          i = the given destination's address, else s.is2; linux_bcast(h, dst_norm(s.is1, i)); ¬s.f.broadcast
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EACCES)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EACCES)


def _sendto_6_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_6: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or len(call.data) <= ctx.consts.payload_max:
        return None
    return s


@rule("sendto_6", call="sendto", category="fail", trigger="call", errors=("EMSGSIZE",),
      summary="fail with EMSGSIZE when the payload exceeds UDPPayloadMax (autobinding)",
      guard=_sendto_6_guard)
def sendto_6(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the data does not fit in one UDP datagram; nothing is sent, but the
    socket is autobound.

    Errors: EMSGSIZE.

    Common cases: sending a whole file in one datagram.

    Model details: the limit is 65507 bytes, and 9216 on freebsd (its default
    net.inet.udp.maxdgram).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); string_size
          data > UDPPayloadMax (65507; 9216 on freebsd)
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EMSGSIZE)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EMSGSIZE)


def _sendto_18_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_18: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or ctx.consts.arch != Arch.LINUX or len(call.data) > ctx.consts.payload_max:
        return None
    i = _dest_ip(ctx, h, s, call)
    if i is None or not has_route_from(h, s.is1, i) or not _too_big(ctx, h, s, i, call):
        return None
    return s


@rule("sendto_18", call="sendto", category="fail", trigger="call", errors=("EMSGSIZE",),
      summary="fail with EMSGSIZE when IP_MTU_DISCOVER DO/PROBE/INTERFACE and the datagram exceeds the path's or interface's MTU (autobinding) [Linux 6.18, experiment]",
      guard=_sendto_18_guard)
def sendto_18(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the socket may not fragment (IP_MTU_DISCOVER DO, PROBE or INTERFACE),
    and the datagram (payload + 28 header bytes) is bigger than the MTU it may use: the path
    MTU to the destination for DO (the interface's, or less once an ICMP
    fragmentation-needed said so), the outgoing interface's for PROBE and INTERFACE. Nothing
    is sent; the socket is autobound.

    Errors: EMSGSIZE.

    Common cases: a DNS or QUIC implementation doing its own path-MTU discovery, whose big
    datagram fails at once after the first one was answered by fragmentation-needed.

    Model details: provenance: Linux 6.18, experiment (a 1500-byte veth, a 1000-byte link
    beyond a router: DO failed at once for 1473 bytes, then, after a fragmentation-needed,
    for 973 but not 972, on the connected socket and on an unconnected one sending to the
    same destination, and not to another; PROBE failed for 1473 only, and went on sending
    1200 into the smaller link; INTERFACE likewise, without DF; an unbound socket was
    autobound; a pending ECONNREFUSED stayed pending: this check comes first). With
    IP_RECVERR Linux also queues a local error-queue entry (origin LOCAL, the MTU as info),
    which the model does not (outside the model). DONT, WANT and OMIT fragment instead.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); linux;
          the destination i exists and has a route; string_size data ≤ UDPPayloadMax;
          ip_len = string_size data + 28 > m, with m = the path MTU to i for s.pmtudisc = DO,
          the outgoing interface's MTU for PROBE and INTERFACE
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EMSGSIZE)_dsch}
          (a pending error stays pending)
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EMSGSIZE)


def _sendto_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_5: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or s.es is None or ctx.consts.arch == Arch.WINDOWS:
        return None
    return s


@rule("sendto_5", call="sendto", category="fail", trigger="call",
      errors=("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"), archs=("linux", "freebsd"),
      summary="report and clear the pending ICMP error instead of sending (autobinding)",
      guard=_sendto_5_guard)
def sendto_5(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: an earlier ICMP error is pending on the socket; sendto returns it and
    clears it, and sends nothing. The socket is autobound.

    Errors: the pending error: ECONNREFUSED (port unreachable), or EHOSTUNREACH on freebsd;
    on linux with IP_RECVERR also EHOSTUNREACH and a router's ENETUNREACH.

    Common cases: a connected client keeps sending to a server that is down; every other
    send fails with ECONNREFUSED.

    Model details: not on windows, where sendto ignores the pending error and leaves it for
    recvfrom, select or geterr.

    Formal:
        premises: arch ≠ windows; ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others)
          (AB); s.es = Some e
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'; es := None}; ts(tid) := RET(FAIL e)_dsch}
        changes: s.ps1 (autobind), s.es, ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, s.es, clear_es=True)


def _sendto_13_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_13: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or not s.shut[1]:
        return None
    return s


@rule("sendto_13", call="sendto", category="fail", trigger="call", errors=("EPIPE",),
      summary="fail with EPIPE after shutdown(SHUT_WR) (autobinding) [Linux 6.18, experiment]",
      guard=_sendto_13_guard)
def sendto_13(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the socket was shut down for writing, so nothing can be sent on it; the
    socket is still autobound.

    Errors: EPIPE.

    Common cases: a thread that keeps sending after another shut the socket down.

    Model details: provenance: Linux 6.18, experiment — EPIPE also on an unconnected socket
    (whose shutdown failed with ENOTCONN but took effect, shutdown_2), after the route,
    broadcast and size checks and after a pending error (sendto_5 reports that first);
    reconnecting or disconnecting does not undo a shutdown. The model has no signals, so SIGPIPE is not modelled (Linux sends none
    for UDP here either).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB);
          s.shut.wr
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EPIPE)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EPIPE)


def _sendto_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_3: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or not h.oqf or not call.nonblock:
        return None
    if not _d(ctx, h, s, call) or not _no_pending(ctx, s):
        return None
    return s


@rule("sendto_3", call="sendto", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN on a non-blocking send while the out-queue is full",
      guard=_sendto_3_guard)
def sendto_3(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the datagram could be sent, but the out-queue is full and the call is
    non-blocking, so it fails at once; the socket is autobound.

    Errors: EAGAIN.

    Common cases: a fast non-blocking sender that outruns the interface.

    Model details: only with a finite OQ_CAP. A pending error (not on windows) takes
    precedence (sendto_5).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); D (a destination exists, has a route, is not a
          linux broadcast, the payload fits); p' ∈ autobind(s.ps1, others) (AB); h.oqf; nb; s.es =
          None (not required on windows)
        transition: h --Lh_call(tid, sendto(fd, ips, data, T))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EAGAIN)


def _sendto_16_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_16: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or not h.oqf or call.nonblock or s.sndtimeo != 0:
        return None
    if not _d(ctx, h, s, call) or not _no_pending(ctx, s) or s.shut[1]:
        return None
    return s


@rule("sendto_16", call="sendto", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN at once on a blocking send with a zero SO_SNDTIMEO and a full queue [Linux 6.18, experiment]",
      guard=_sendto_16_guard)
def sendto_16(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: a blocking send finds the out-queue full, and the socket's send
    timeout is zero (SO_SNDTIMEO set to a negative time), so it fails without waiting; the
    socket is autobound.

    Errors: EAGAIN.

    Common cases: a sender whose computed timeout has already passed.

    Model details: provenance: Linux 6.18, experiment (a negative SO_SNDTIMEO stores 0,
    as for SO_RCVTIMEO). Only with a finite OQ_CAP.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); AB; oqf; ¬nb; s.sndtimeo = Some 0; D (a
          routable, allowed, small enough destination); s.es = None (not on windows);
          ¬s.shut.wr
        transition: h --Lh_call(tid, sendto(fd, ips, data, F))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL
          EAGAIN)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.EAGAIN)


def _sendto_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_2: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or not h.oqf or call.nonblock or s.shut[1] or s.sndtimeo == 0:
        return None
    if not _d(ctx, h, s, call) or not _no_pending(ctx, s):
        return None
    return s


@rule("sendto_2", call="sendto", category="enter2", trigger="call",
      summary="block a sendto while the out-queue is full, recording the socket's quad",
      guard=_sendto_2_guard)
def sendto_2(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: a blocking send finds the out-queue full; the socket is autobound and
    the thread waits in SENDTO2 with the socket's address quad as it is now.

    Errors: none here; the wait ends with sendto_8, sendto_9, sendto_10 or intr_1.

    Common cases: a blocking sender that outruns the interface.

    Model details: only with a finite OQ_CAP. The recorded quad fixes source and
    destination, as current Linux does before it waits. Windows blocks even with a pending
    error.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); D; p' ∈ autobind(s.ps1, others) (AB); h.oqf; ¬nb;
          s.es = None (not required on windows)
        transition: h --Lh_call(tid, sendto(fd, ips, data, F))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := SENDTO2(fd, ips, data, (s.is1,
          Some p', s.is2, s.ps2))_∞}
        changes: s.ps1 (autobind), ts(tid) (blocks)
    """
    deadline = timeout_deadline(ctx.now, s.sndtimeo)

    def done(p: Port) -> Host:
        h2 = replace_sock(h, replace(s, ps1=p))
        state = SendTo2(call.fd, call.dest, call.data, (s.is1, p, s.is2, s.ps2))
        return set_thread(h2, tid, state, deadline)

    return with_autobind(ctx.consts, s.ps1, others(h, call.fd), done)


def _sendto_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_1: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or h.oqf or not _d(ctx, h, s, call) or not _no_pending(ctx, s):
        return None
    if s.shut[1] or _sync_local(ctx, h, s, call):
        return None
    return s


@rule("sendto_1", call="sendto", category="succeed", trigger="call",
      summary="autobind if needed and append the datagram to the out-queue", guard=_sendto_1_guard)
def sendto_1(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: the datagram `IP(src, dst, UDP(ps1, port, data))` is appended to the
    out-queue, going to the given destination or else to the peer. The socket gets an
    ephemeral port first if it has none.

    Errors: none; failures are sendto_3..sendto_7, sendto_11, sendto_12.

    Common cases: every successful send, e.g. the heartbeat's periodic message.

    Model details: as in the paper, with `es = None` on both sides (on windows the pending
    error is ignored and kept). The source address is the bound one or the routing choice;
    on linux a 0.0.0.0 destination means this host. The out-queue timer starts (`doq`) when
    the queue was empty; `oqf` is recomputed.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None (windows: es is ignored and kept); p'
          ∈ autobind(s.ps1, others); ips ≠ None ∨ s.is2 ≠ None; string_size data ≤ UDPPayloadMax;
          (oq', oqf', T) ∈ dosend(h.ifds, (ips, data), (s.is1, Some p', s.is2, s.ps2), h.oq,
          h.oqf), which needs a route, no linux broadcast and ¬h.oqf
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := SC(s with {ps1 := Some p'}); oq := oq' (the datagram appended; its
          timer set to doq if oq was empty); oqf := oqf'; ts(tid) := RET(OK ())_dsch}
        changes: s.ps1 (autobind), oq, oq's timer, oqf, ts(tid)
    """
    def done(p: Port) -> Host:
        sent = dosend(ctx, h, call.dest, call.data, (s.is1, p, s.is2, s.ps2),
                      s.f.broadcast, s.ttl,
                      s.pmtudisc)
        assert sent is not None and sent[3]
        oq, deadline, oqf, _ = sent
        h2 = replace(replace_sock(h, replace(s, ps1=p)), oq=oq, oq_deadline=deadline, oqf=oqf)
        return ret(ctx, h2, tid, Ok(None), "sendto")

    return with_autobind(ctx.consts, s.ps1, others(h, call.fd), done)


# Slow rules: leaving SENDTO2 ----------------------------------------------------------------

def _blocked(h: Host, tid: TID) -> tuple[SendTo2, Sock] | None:
    """The thread's SENDTO2 state and its socket (open or closed), if both exist."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, SendTo2):
        return None
    s = any_sock(h, e.state.fd)
    if s is None:
        return None
    return e.state, s


def _sendto_8_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of sendto_8: the witness the outcome needs, or None."""
    found = _blocked(h, tid)
    if found is None:
        return None
    st, s = found
    if ctx.consts.arch != Arch.WINDOWS and s.es is not None:
        return None
    if ctx.consts.arch != Arch.LINUX and st.dest is None and s.is2 is None:
        return None
    if s.shut[1]:
        return None  # sendto_14
    sent = dosend(ctx, h, st.dest, st.data, st.q, s.f.broadcast)
    if sent is None or not sent[3]:
        return None
    return st, s


@rule("sendto_8", category="slowsucceed", trigger="thread", states=(SendTo2,), urgent=True,
      summary="a blocked sendto queues its datagram once the out-queue has room",
      guard=_sendto_8_guard)
def sendto_8(ctx: RuleCtx, h: Host, tid: TID, w: Any) -> HostStep:
    """Description: the out-queue is no longer full, so the datagram of a thread blocked in
    sendto is appended and the call returns OK.

    Errors: none; a pending error ends the wait with sendto_9 instead.

    Common cases: the out-queue drains one message and the blocked sender proceeds.

    Model details: urgent. The datagram is built from the quad recorded when the thread
    blocked, so a concurrent disconnect or connect does not change it (current Linux fixes
    the destination before waiting). Off linux a send to the peer needs the socket still to
    be connected (else sendto_10). Works on an orphan (a socket closed meanwhile).

    Formal:
        premises: ts(tid) = SENDTO2(fd, ips, data, q); s = the socket of h.s with fd (open or
          closed); s.es = None (not required on windows); (oq', oqf', T) ∈ dosend(h.ifds, (ips,
          data), q, h.oq, h.oqf) (so ¬h.oqf); off linux also ips ≠ None ∨ s.is2 ≠ None. Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {oq := oq'; oqf := oqf'; ts(tid) := RET(OK ())_dsch}
        changes: oq, oq's timer, oqf, ts(tid)
    """
    st, s = w
    # (its queue reads the clock)
    sent = dosend(ctx, h, st.dest, st.data, st.q, s.f.broadcast, s.ttl, s.pmtudisc)
    assert sent is not None
    oq, deadline, oqf, _ = sent
    h2 = replace(h, oq=oq, oq_deadline=deadline, oqf=oqf)
    return HostStep(ret(ctx, h2, tid, Ok(None), "sendto"))


def _sendto_9_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of sendto_9: the witness the outcome needs, or None."""
    found = _blocked(h, tid)
    if found is None or ctx.consts.arch == Arch.WINDOWS:
        return None
    _, s = found
    if s.es is None:
        return None
    return s


@rule("sendto_9", category="slowfail", trigger="thread", states=(SendTo2,), urgent=True,
      errors=("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"), archs=("linux", "freebsd"),
      summary="a blocked sendto fails with the ICMP error that arrived while it waited",
      guard=_sendto_9_guard)
def sendto_9(ctx: RuleCtx, h: Host, tid: TID, s: Any) -> HostStep:
    """Description: an ICMP error reached the socket of a thread blocked in sendto; the call
    returns that error, clears it, and sends nothing.

    Errors: the pending error: ECONNREFUSED, or EHOSTUNREACH on freebsd; on linux with
    IP_RECVERR also EHOSTUNREACH and a router's ENETUNREACH.

    Common cases: a connected sender, blocked on a full queue, learns that the server is
    gone.

    Model details: urgent; not on windows, where sendto ignores pending errors.

    Formal:
        premises: arch ≠ windows; ts(tid) = SENDTO2(fd, ...); s = the socket with fd (open or
          closed); s.es = Some e. Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {s := s with {es := None}; ts(tid) := RET(FAIL e)_dsch}
        changes: s.es, ts(tid)
    """
    h2 = replace_sock(h, replace(s, es=None))
    return HostStep(ret(ctx, h2, tid, Fail(s.es), "sendto"))


def _sendto_10_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of sendto_10: the witness the outcome needs, or None."""
    found = _blocked(h, tid)
    if found is None or ctx.consts.arch == Arch.LINUX:
        return None
    st, s = found
    if st.dest is not None or s.is2 is not None or s.shut[1]:
        return None  # a shutdown is sendto_14 (its order off linux is an open question)
    if ctx.consts.arch != Arch.WINDOWS and s.es is not None:
        return None
    return True


@rule("sendto_10", category="slowfail", trigger="thread", states=(SendTo2,), urgent=True,
      errors=("EDESTADDRREQ", "ENOTCONN"), archs=("windows", "freebsd"),
      summary="off linux, a blocked send to the peer fails once the socket is disconnected",
      guard=_sendto_10_guard)
def sendto_10(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: a thread blocked in a sendto without a destination finds that the
    socket no longer has a peer (another thread disconnected it) and fails.

    Errors: EDESTADDRREQ on freebsd, ENOTCONN on windows (`nodest`).

    Common cases: one thread disconnects a socket while another is blocked sending on it.

    Model details: urgent; not on linux, where the destination is fixed before the wait
    and sendto_8 still sends. The paper's "too big" case cannot arise, as the size is
    checked before blocking. A pending error is reported first (sendto_9 on freebsd): we
    require `es = None` (or windows, which ignores `es`), so the two slow failures do not
    overlap, which the sanity property's list of intended overlaps does not allow.

    Formal:
        premises: arch ≠ linux; ts(tid) = SENDTO2(fd, None, data, q); s = the socket with fd (open
          or closed); s.is2 = None (disconnected while blocked); s.es = None on freebsd (a pending
          error is sendto_9's). Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(FAIL nodest(arch))_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(nodest(ctx.consts)), "sendto"))


# Linux additions (Linux 6.18, by experiment): shutdown and SO_SNDTIMEO while blocked -------

def _sendto_14_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of sendto_14: the witness the outcome needs, or None."""
    found = _blocked(h, tid)
    if found is None or not found[1].shut[1]:
        return None
    if ctx.consts.arch != Arch.WINDOWS and found[1].es is not None:
        return None  # the pending error first (sendto_9), as sendto_5 before sendto_13
    return True


@rule("sendto_14", category="slowfail", trigger="thread", states=(SendTo2,), urgent=True,
      errors=("EPIPE",),
      summary="a blocked sendto fails with EPIPE once another thread shuts the socket for writing [Linux 6.18, experiment]",
      guard=_sendto_14_guard)
def sendto_14(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: the socket of a thread blocked in sendto (full out-queue) is shut down
    for writing by another thread; the call fails and nothing is sent.

    Errors: EPIPE.

    Common cases: stopping a sender thread that is stuck on a full queue.

    Model details: provenance: Linux 6.18 (by analogy with sendto_13, whose order after
    the pending error was measured; a blocked sender is not observable on loopback, whose
    queue never fills). Urgent. Only with a finite OQ_CAP.

    Formal:
        premises: ts(tid) = SENDTO2(fd, ips, data, q); s = the socket fd; s.shut.wr; s.es
          = None (not on windows)
        transition: h --τ--> h'
        after: h' = h with {ts(tid) := RET(FAIL EPIPE)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(Errno.EPIPE), "sendto"))


def _sendto_15_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of sendto_15: the witness the outcome needs, or None."""
    e = h.thread(tid)
    found = _blocked(h, tid)
    if e is None or found is None or e.deadline != ctx.now:
        return None
    _, s = found
    if not h.oqf or s.shut[1] or (ctx.consts.arch != Arch.WINDOWS and s.es is not None):
        return None
    return True


@rule("sendto_15", category="slowfail", trigger="thread", states=(SendTo2,),
      errors=("EAGAIN",),
      summary="a blocked sendto gives up with EAGAIN when its SO_SNDTIMEO expires [Linux 6.18, experiment]",
      guard=_sendto_15_guard)
def sendto_15(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: a thread blocked in sendto on a socket with a send timeout has waited
    that long and the out-queue is still full; the call fails and nothing is sent.

    Errors: EAGAIN.

    Common cases: a sender that bounds how long it waits for buffer space.

    Model details: provenance: Linux 6.18, experiment (SO_SNDTIMEO rounds up to whole
    jiffies, like SO_RCVTIMEO). The timer is sharp; room, an error or a shutdown at that
    instant win (sendto_8/9/14, urgent).

    Formal:
        premises: ts(tid) = SENDTO2(fd, ips, data, q) with timer 0 (SO_SNDTIMEO expired);
          s = the socket fd; oqf; ¬s.shut.wr; s.es = None (not on windows)
        transition: h --τ--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(Errno.EAGAIN), "sendto"))


# Loopback immediacy (Linux 6.18, experiment) --------------------------------------------------

def _sync_local(ctx: RuleCtx, h: Host, s: Sock, call: SendTo) -> bool:
    """A send whose delivery Linux completes before sendto returns: linux, the host's
    LOOPBACK_SYNC setting, and a destination on this host (or a broadcast)."""
    if ctx.consts.arch != Arch.LINUX or not ctx.consts.loopback_sync:
        return False
    i = _dest_ip(ctx, h, s, call)
    return i is not None and (local(h, i) or linux_bcast(h, i))


def _map(outcome: Any, f: Any) -> Any:
    if isinstance(outcome, Branch):
        return Branch(outcome.kind, outcome.options, lambda v: _map(outcome.cont(v), f),
                      outcome.hint)
    return f(outcome)


def _first(ctx: RuleCtx, h: Host, rules: tuple[Any, ...]) -> Any:
    for r in rules:
        out = info_of(r).apply(ctx, h)  # the whole rule (guard, then outcome)
        if out is not None:
            return out
    raise AssertionError("the loopback rules cover every local datagram")


def _deliver_now(ctx: RuleCtx, h: Host, msg: IPMsg) -> Host | Branch[Host]:
    """What the loopback rules would do with `msg` at the head of the out-queue, and with
    the ICMP it may provoke, done at once: the host's real out-queue is left as it was."""
    oq, dl, oqf = h.oq, h.oq_deadline, h.oqf
    alone = replace(h, oq=(msg,), oq_deadline=ctx.now, oqf=False)
    udp = (outqueue.delivery_loopback_bcast_1, outqueue.delivery_loopback_bcast_2,
           outqueue.delivery_loopback_udp_1, outqueue.delivery_loopback_udp_3,
           outqueue.delivery_loopback_udp_2)
    icmp = (outqueue.delivery_loopback_icmp_1, outqueue.delivery_loopback_icmp_2)

    def restore(st: HostStep) -> Host:
        return replace(st.host, oq=oq, oq_deadline=dl, oqf=oqf)

    def after_udp(st: HostStep) -> Any:
        if st.host.oq:  # the ICMP port-unreachable it provoked, on its way back
            return _map(_first(ctx, st.host, icmp), restore)
        return restore(st)

    return _map(_first(ctx, alone, udp), after_udp)  # type: ignore[no-any-return]


def _sendto_17_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_17: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or h.oqf or not _d(ctx, h, s, call) or not _no_pending(ctx, s):
        return None
    if s.shut[1] or not _sync_local(ctx, h, s, call):
        return None
    return s


@rule("sendto_17", call="sendto", category="succeed", trigger="call",
      summary="a loopback send is delivered (and any ICMP it provokes handled) before it returns [Linux 6.18, experiment]",
      guard=_sendto_17_guard)
def sendto_17(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: on a host with the LOOPBACK_SYNC setting (the conformance suite's
    Linux), a send to an address of this host does not wait in the out-queue: the datagram
    is delivered to the matching socket, or dropped, or answered with ICMP port-unreachable
    whose error reaches the (connected) sender, all before the call returns `OK ()`.

    Errors: none here; the failures are sendto_3..sendto_7, sendto_11..sendto_13.

    Common cases: a client sending to a closed local port sees ECONNREFUSED on its very
    next call; a datagram sent to oneself is readable at once.

    Model details: provenance: Linux 6.18, experiment — loopback transmission runs the
    receive path (and the ICMP reply's) in the sender's context before sendto returns, so
    an immediately following call already sees the datagram or the error. The delivery is
    exactly what delivery_loopback_* would do with it (the same choices: ICMP_GEN, freebsd
    ties do not arise on linux). Off this setting (the default, and the paper's timing),
    sendto_1 queues it and the out-queue rules deliver it within doq, racing the next call.

    Formal:
        premises: arch = linux; LOOPBACK_SYNC; ts(tid) = RUN; s = sock(h, fd); AB; ¬oqf; D;
          s.es = None; ¬s.shut.wr; the destination i is local(h, i) or a linux_bcast address
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = the host after the delivery_loopback rule for IP(src, i, UDP(p', p,
          data)) (and the delivery_loopback_icmp rule for the ICMP it queues), with h's
          out-queue, s.ps1 := Some p', ts(tid) := RET(OK ())_dsch
        changes: s.ps1 (autobind), the receiver's mq or s.es, ts(tid)
    """
    def done(p: Port) -> Any:  # a Host, or a Branch (ICMP_GEN nondet) resolving to one
        h1 = replace_sock(h, replace(s, ps1=p))
        sent = dosend(ctx, replace(h1, oq=(), oqf=False), call.dest, call.data,
                      (s.is1, p, s.is2, s.ps2), s.f.broadcast, s.ttl,
                      s.pmtudisc)
        assert sent is not None and sent[3]
        msg = sent[0][0]
        return _map(_deliver_now(ctx, h1, msg),
                    lambda h2: ret(ctx, h2, tid, Ok(None), "sendto"))

    return with_autobind(ctx.consts, s.ps1, others(h, call.fd), done)


# The send buffer and fragments (Linux 6.18, by experiment) ------------------------------------

def _sendto_19_guard(ctx: RuleCtx, h: Host, tid: TID, call: SendTo) -> Any:
    """The guard of sendto_19: the witness the outcome needs, or None."""
    s = _open_ab(ctx, h, call)
    if s is None or s.shut[1] or not _no_pending(ctx, s):
        return None  # sendto_13 (EPIPE) and sendto_5 (the pending error) come first
    if not _d_route(ctx, h, s, call) or not _frags_refused(ctx, h, s, call):
        return None
    return s


@rule("sendto_19", call="sendto", category="fail", trigger="call", errors=("ENOBUFS",),
      summary="fail with ENOBUFS when the datagram's fragments do not fit twice the send buffer (autobinding) [Linux 6.18, experiment]",
      guard=_sendto_19_guard)
def sendto_19(ctx: RuleCtx, h: Host, tid: TID, call: SendTo, s: Any) -> Host | Branch[Host]:
    """Description: a datagram too big for the link is sent as IP fragments, and Linux
    builds them all before any leaves, charging each to the socket's send buffer: if
    they do not fit in twice SO_SNDBUF, the send fails at once, blocking or not, and
    nothing is sent; the socket is still autobound.

    Errors: ENOBUFS.

    Common cases: a program that shrank SO_SNDBUF (to feel back-pressure sooner) sending
    datagrams of a few kilobytes to another host.

    Model details: provenance: Linux 6.18, experiment (two namespaces joined by veth) —
    before each fragment after the first, ip_append_data checks that the socket's write
    allocation (1, plus the buffers of the fragments built so far, each 2304 bytes at MTU
    1500: a 2048-byte kmalloc head and the sk_buff, frag_truesize) is at most twice
    sk_sndbuf (the value SO_SNDBUF reads back). So with SO_SNDBUF reading 4608 the largest
    datagram that leaves is 5912 bytes (4 fragments of 1480), 5913 fails, blocking and
    non-blocking alike; reading 10000: 13312; 20000: 26632; from about 50700 on every
    datagram fits (45 fragments). The same formula predicts all twelve limits measured at
    MTU 1000, 1500 and 4000. On loopback (MTU 65536) nothing is fragmented, so it never
    applies there; elsewhere the datagram is cut at its interface's MTU (1500 unless set),
    or at the smaller path MTU a fragmentation-needed taught the host (route_mtu). A blocking send
    never waits for the buffer: across namespaces veth releases each datagram's charge as it
    forwards it (20,000 non-blocking 1000-byte sends with SO_SNDBUF 4608: no EAGAIN); a send
    waits (or fails with EAGAIN) only where a queue below holds datagrams (a rate-limiting
    qdisc), which the model's links do not have (the README's deviations). The route, size
    and broadcast checks, EPIPE and a pending error come first. Only with the host's
    WMEM_DEFAULT set (LINUX_CONSTS) or an SO_SNDBUF given: the paper's hosts have unbounded
    send buffers.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); D (a
          routable destination i, not a refused broadcast, data within UDPPayloadMax); s.es =
          None; ¬s.shut.wr; arch = linux; mtu = route_mtu(h, i, s.pmtudisc); k = frag_count(mtu,
          len data) ≥ 2; 1 + (k − 1) · frag_truesize(mtu) > 2 · (s.sndbuf, else WMEM_DEFAULT ≠
          None)
        transition: h --Lh_call(tid, sendto(fd, ips, data, nb))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL ENOBUFS)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _ab_fail(ctx, h, tid, s, Errno.ENOBUFS)
