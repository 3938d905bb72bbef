"""connect(fd, i, ps) — docs/rules.md#connect_1. Registered in Linux's order: 4, 2, 3, then 1.

Throughout, `i' = dst_norm(s.is1, i)`: on linux 0.0.0.0 means this host.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import (
    autobind_possible,
    dst_norm,
    front,
    has_route_from,
    linux_bcast,
    others,
    replace_sock,
    ret,
    route_src,
    send_src,
    sock,
    with_autobind,
)
from udpsem.hosts.calls import Connect
from udpsem.hosts.state import Host, RuleCtx, Sock
from udpsem.hosts.values import TID, Arch, Errno, Fail, Ok, Port


def _autobound_fail(ctx: RuleCtx, h: Host, tid: TID, s: Sock,
                    e: Errno) -> Host | Branch[Host]:
    """AB only (the socket keeps its old peer), then `FAIL e`."""

    def done(p: Port) -> Host:
        return ret(ctx, replace_sock(h, replace(s, ps1=p)), tid, Fail(e), "connect")

    return with_autobind(ctx.consts, s.ps1, others(h, s.fd), done)


def _connect_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: Connect) -> Any:
    """The guard of connect_4: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.ps1 is not None or autobind_possible(ctx.consts, None,
                                                           others(h, call.fd)):
        return None
    return True


@rule("connect_4", call="connect", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN when an unbound socket cannot get an ephemeral port",
      guard=_connect_4_guard)
def connect_4(ctx: RuleCtx, h: Host, tid: TID, call: Connect, _: Any) -> Host:
    """Description: connect must give an unbound socket a local port first, and every port
    of the ephemeral range is taken, so nothing changes.

    Errors: EAGAIN (Linux's answer to a failed implicit autobind).

    Common cases: port exhaustion on a host with very many sockets.

    Model details: checked before anything else, as Linux autobinds first; only reachable
    with many sockets or a small EPH constant.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 = None; autobind(None, others) = ∅
        transition: h --Lh_call(tid, connect(fd, i, ps))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "connect")


def _connect_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Connect) -> Any:
    """The guard of connect_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not autobind_possible(ctx.consts, s.ps1, others(h, call.fd)):
        return None
    if has_route_from(h, s.is1, dst_norm(ctx.consts, send_src(h, s.is1), call.ip)):
        return None
    return s


@rule("connect_2", call="connect", category="fail", trigger="call", errors=("ENETUNREACH",),
      summary="fail with ENETUNREACH when the host has no route to the peer (autobinding)",
      guard=_connect_2_guard)
def connect_2(ctx: RuleCtx, h: Host, tid: TID, call: Connect, s: Any) -> Host | Branch[Host]:
    """Description: the (normalised) peer address is not local and the host has no non-LO
    interface to reach it; the socket is autobound but its old peer is kept.

    Errors: ENETUNREACH.

    Common cases: connecting to a remote address from a loopback-only host (a test
    namespace), or from a host whose interface is down (host_ifdown) [L: Linux 6.18,
    experiment].

    Model details: the autobind side effect happens even though the call fails, as on
    Linux; the port is a choice of kind `eph` when the socket had none.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); i' =
          dst_norm(s.is1, i); ¬has_route(h, i')
        transition: h --Lh_call(tid, connect(fd, i, ps))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL ENETUNREACH)_dsch};
          the old peer is kept
        changes: s.ps1 (autobind), ts(tid)
    """
    return _autobound_fail(ctx, h, tid, s, Errno.ENETUNREACH)


def _connect_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: Connect) -> Any:
    """The guard of connect_3: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not autobind_possible(ctx.consts, s.ps1, others(h, call.fd)):
        return None
    if ctx.consts.arch != Arch.LINUX or s.f.broadcast:
        return None
    if not linux_bcast(h, dst_norm(ctx.consts, send_src(h, s.is1), call.ip)):
        return None
    return s


@rule("connect_3", call="connect", category="fail", trigger="call", errors=("EACCES",),
      archs=("linux",),
      summary="fail with EACCES when connecting to a broadcast address on linux (autobinding)",
      guard=_connect_3_guard)
def connect_3(ctx: RuleCtx, h: Host, tid: TID, call: Connect, s: Any) -> Host | Branch[Host]:
    """Description: the peer is 255.255.255.255 or the subnet broadcast of an interface, and
    Linux refuses it without SO_BROADCAST (which LIB cannot set); the socket is autobound.

    Errors: EACCES.

    Common cases: a program that tries to connect to its LAN's broadcast address.

    Model details: linux only; windows and freebsd accept such a peer (connect_1). The
    autobind side effect happens even though the call fails. With SO_BROADCAST set the
    connect succeeds [L: Linux 6.18, experiment]; 127.255.255.255 counts too.

    Formal:
        premises: arch = linux; ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB);
          i' = dst_norm(s.is1, i); has_route_from(h, s.is1, i'); linux_bcast(h, i'); ¬s.f.broadcast
        transition: h --Lh_call(tid, connect(fd, i, ps))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RET(FAIL EACCES)_dsch}
        changes: s.ps1 (autobind), ts(tid)
    """
    return _autobound_fail(ctx, h, tid, s, Errno.EACCES)


def _connect_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Connect) -> Any:
    """The guard of connect_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    rest = others(h, call.fd)
    if s is None or not autobind_possible(ctx.consts, s.ps1, rest):
        return None
    i2 = dst_norm(ctx.consts, send_src(h, s.is1), call.ip)
    if not has_route_from(h, s.is1, i2):
        return None
    if ctx.consts.arch == Arch.LINUX and linux_bcast(h, i2) and not s.f.broadcast:
        return None
    is1 = s.is1 if s.is1 is not None else route_src(h, i2)
    return i2, is1, rest, s


@rule("connect_1", call="connect", category="succeed", trigger="call",
      summary="set the peer address and port, autobinding and fixing the local address",
      guard=_connect_1_guard)
def connect_1(ctx: RuleCtx, h: Host, tid: TID, call: Connect, w: Any) -> Host | Branch[Host]:
    """Description: record `(i', ps)` as the socket's peer. A socket without a local port
    gets an ephemeral one, and a socket without a local address gets the source address the
    host would route from. Nothing is sent.

    Errors: none; failures are connect_2..connect_4.

    Common cases: a client fixes its server once and then uses sendto with no destination
    and recvfrom, receiving only from that server; reconnecting changes the peer.

    Model details: `ps = None` is allowed (datagrams from any port of `i'` are accepted and
    sends go to port 0). A pending error and queued datagrams are kept, as on Linux. The
    socket moves to the front of the list when its local address changes; a fresh autobound
    port alone keeps its position.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); p' ∈ autobind(s.ps1, others) (AB); i' =
          dst_norm(s.is1, i); has_route(h, i'); ¬(arch = linux ∧ bcast(h, i'))
        transition: h --Lh_call(tid, connect(fd, i, ps))--> h'
        after: h' = h with {s := s with {is1 := s.is1 if set, else route_src(h, i'); ps1 := Some
          p'; is2 := Some i'; ps2 := ps} (moved to the front of h.s if is1 changed); ts(tid) :=
          RET(OK ())_dsch}; es and mq are kept
        changes: s.is1, s.ps1, s.is2, s.ps2, possibly the socket's place, ts(tid)
    """
    i2, is1, rest, s = w
    def done(p: Port) -> Host:
        s2 = replace(s, is1=is1, ps1=p, is2=i2, ps2=call.port)
        h2 = front(h, s2) if is1 != s.is1 else replace_sock(h, s2)
        return ret(ctx, h2, tid, Ok(None), "connect")

    return with_autobind(ctx.consts, s.ps1, rest, done)
