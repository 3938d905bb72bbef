"""bind(fd, is, ps) — docs/rules.md#bind_1. Registered in Linux's order: 2, 3, 4, 5/6, then 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import (
    autobind_possible,
    bindable_bcast,
    conflict,
    freebindable,
    front,
    local,
    others,
    ret,
    sock,
    with_autobind,
)
from udpsem.hosts.calls import Bind
from udpsem.hosts.state import Host, RuleCtx, Sock
from udpsem.hosts.values import ANY_ADDR, IP, TID, Errno, Fail, Ok, Port


def _addr(call: Bind) -> IP | None:
    """The requested local address: `Some 0.0.0.0` (INADDR_ANY) is the wildcard, as on Linux
    (and every BSD-sockets system), where binding to it succeeds and getsockname shows
    0.0.0.0; the written specification would fail it with EADDRNOTAVAIL (a deviation,
    docs/model.md#deviations)."""
    return None if call.ip == ANY_ADDR else call.ip


def _fail(ctx: RuleCtx, h: Host, tid: TID, e: Errno) -> Host:
    return ret(ctx, h, tid, Fail(e), "bind")


def _bind_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_2: the witness the outcome needs, or None."""
    i = _addr(call)
    s = sock(h, call.fd)
    if s is None or i is None or local(h, i) or (s.f.freebind and freebindable(h, i)):
        return None
    if bindable_bcast(h, i):
        return None  # bind_8
    return True


@rule("bind_2", call="bind", category="fail", trigger="call", errors=("EADDRNOTAVAIL",),
      summary="fail with EADDRNOTAVAIL when binding to an address that is not local",
      guard=_bind_2_guard)
def bind_2(ctx: RuleCtx, h: Host, tid: TID, call: Bind, _: Any) -> Host:
    """Description: the requested local address belongs to no interface of this host.

    Errors: EADDRNOTAVAIL.

    Common cases: binding to another machine's address by mistake.

    Model details: all of 127/8 counts as local, as on Linux. With IP_FREEBIND any address
    need not be local (bind_7), and broadcast and multicast addresses never need to be
    (bind_8) [Linux 6.18, experiment].

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); is = Some i; i ≠ 0.0.0.0; ¬local(h, i); ¬(s.f.freebind
          ∧ freebindable(h, i)); ¬bindable_bcast(h, i)
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EADDRNOTAVAIL)_dsch}
        changes: ts(tid)
    """
    return _fail(ctx, h, tid, Errno.EADDRNOTAVAIL)


def _bind_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_3: the witness the outcome needs, or None."""
    if sock(h, call.fd) is None or call.port is None or call.port >= 1024 or ctx.consts.priv:
        return None
    return True


@rule("bind_3", call="bind", category="fail", trigger="call", errors=("EACCES",),
      summary="fail with EACCES when binding a privileged port without privilege",
      guard=_bind_3_guard)
def bind_3(ctx: RuleCtx, h: Host, tid: TID, call: Bind, _: Any) -> Host:
    """Description: ports 1..1023 need privilege (the host constant `priv`).

    Errors: EACCES.

    Common cases: an unprivileged program asking for port 53.

    Model details: privilege is a per-host constant, not per process.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); ps = Some p; p < 1024; ¬priv
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EACCES)_dsch}
        changes: ts(tid)
    """
    return _fail(ctx, h, tid, Errno.EACCES)


def _bind_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_4: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or (s.ps1 is None and s.is2 is None):
        return None
    return True


@rule("bind_4", call="bind", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL when the socket already has a port or a peer", guard=_bind_4_guard)
def bind_4(ctx: RuleCtx, h: Host, tid: TID, call: Bind, _: Any) -> Host:
    """Description: a socket can be bound once; an autobound or connected one counts as bound.

    Errors: EINVAL.

    Common cases: bind after sendto (which autobinds) or after connect.

    Model details: checked after the address and privilege checks, as Linux does.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 ≠ None ∨ s.is2 ≠ None (already bound, or
          connected)
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return _fail(ctx, h, tid, Errno.EINVAL)


def _bind_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_5: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.port is None or not conflict(h, s, _addr(call), call.port):
        return None
    return True


@rule("bind_5", call="bind", category="fail", trigger="call", errors=("EADDRINUSE",),
      summary="fail with EADDRINUSE when another socket holds the port on an overlapping address",
      guard=_bind_5_guard)
def bind_5(ctx: RuleCtx, h: Host, tid: TID, call: Bind, _: Any) -> Host:
    """Description: another socket has this port, the addresses overlap (equal or either a
    wildcard) and not both sockets set SO_REUSEADDR (nor both SO_REUSEPORT).

    Errors: EADDRINUSE.

    Common cases: two servers on one port.

    Model details: Linux's conflict rule, used on every architecture. Orphans still conflict.
    SO_REUSEPORT on both, as the flags are at this bind, also avoids the conflict, and then
    the first overlapping holder in list order (the most recently bound) decides alone: a
    group whose newest member has the flag admits a new member even if an older one
    cleared it; one socket with only SO_REUSEADDR and the other with only SO_REUSEPORT
    conflict [Linux 6.18, experiment].

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); ps = Some p; conflict(h, s, is, p): some s' ∈
          others holds s'.ps1 = Some p, not both have SO_REUSEADDR, and is = None ∨ s'.is1 = None ∨
          s'.is1 = is, and the first such s' in list order lacks SO_REUSEPORT or s does
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EADDRINUSE)_dsch}
        changes: ts(tid)
    """
    return _fail(ctx, h, tid, Errno.EADDRINUSE)


def _bind_6_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_6: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.port is not None or autobind_possible(ctx.consts, None,
                                                                others(h, call.fd)):
        return None
    return True


@rule("bind_6", call="bind", category="fail", trigger="call", errors=("EADDRINUSE",),
      summary="fail with EADDRINUSE when no ephemeral port is free for a port-less bind",
      guard=_bind_6_guard)
def bind_6(ctx: RuleCtx, h: Host, tid: TID, call: Bind, _: Any) -> Host:
    """Description: bind with no port asks for an ephemeral one, and every port of EPH is
    taken.

    Errors: EADDRINUSE (Linux; not EAGAIN as for an implicit autobind).

    Common cases: port exhaustion on a busy host.

    Model details: only reachable with many sockets or a small EPH constant.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); ps = None; autobind(None, others) = ∅ (no free
          ephemeral port)
        transition: h --Lh_call(tid, bind(fd, is, None))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EADDRINUSE)_dsch}
        changes: ts(tid)
    """
    return _fail(ctx, h, tid, Errno.EADDRINUSE)


def _bind_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.ps1 is not None or s.is2 is not None:
        return None
    i = _addr(call)
    if i is not None and not local(h, i):
        return None
    rest = others(h, call.fd)
    if call.port is not None:
        if (call.port < 1024 and not ctx.consts.priv) or conflict(h, s, i, call.port):
            return None
    elif not autobind_possible(ctx.consts, None, rest):
        return None
    return i, rest, s


@rule("bind_1", call="bind", category="succeed", trigger="call",
      summary="bind the socket to a local address (or wildcard) and a port (or an ephemeral one)",
      guard=_bind_1_guard)
def bind_1(ctx: RuleCtx, h: Host, tid: TID, call: Bind, w: Any) -> Host | Branch[Host]:
    """Description: set the socket's local address and port, recording which of the two were
    given explicitly (`lk`), and move it to the front of the socket list.

    Errors: none; failures are bind_2..bind_6.

    Common cases: a server binds its well-known port; `bind(fd, None, None)` picks an
    ephemeral port, as the heartbeat's KURT does.

    Model details: with no port the port is a nondeterministic choice from the free
    ephemeral ports (choice kind `eph`). An address of 0.0.0.0 (INADDR_ANY) means the
    wildcard, as on Linux, rather than a non-local address (the written specification's bind_2).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 = None ∧ s.is2 = None; is = None ∨ is =
          0.0.0.0 ∨ local(h, is); p ∈ autobind(ps, others) (a choice when ps = None); if ps = Some
          p: (p ≥ 1024 ∨ priv) ∧ ¬conflict(h, s, is, p)
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {s := front(s with {is1 := is (None for 0.0.0.0), ps1 := Some p, lk :=
          (is1 ≠ None, ps ≠ None)}); ts(tid) := RET(OK ())_dsch}
        changes: s.is1, s.ps1, s.lk, the socket's place (front of h.s), ts(tid)
    """
    i, rest, s = w
    def done(p: Port) -> Host:
        s2 = replace(s, is1=i, ps1=p, lk=(i is not None, call.port is not None))
        return ret(ctx, front(h, s2), tid, Ok(None), "bind")

    return with_autobind(ctx.consts, call.port, rest, done)


def _bind_other_address(ctx: RuleCtx, h: Host, call: Bind,
                        allowed: Callable[[Host, Sock, IP], bool]) -> Any:
    """The guard shared by bind_7 and bind_8, which bind an unbound socket to an address
    that is not one of the host's, as bind_1 binds a local one: (address, the other
    sockets, the socket) when `allowed(h, s, address)` and the port is free, else None."""
    s = sock(h, call.fd)
    if s is None or s.ps1 is not None or s.is2 is not None:
        return None
    i = _addr(call)
    if i is None or not allowed(h, s, i):
        return None
    rest = others(h, call.fd)
    if call.port is not None:
        if (call.port < 1024 and not ctx.consts.priv) or conflict(h, s, i, call.port):
            return None
    elif not autobind_possible(ctx.consts, None, rest):
        return None
    return i, rest, s


def _bind_7_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_7: the witness the outcome needs, or None."""
    return _bind_other_address(ctx, h, call,
                               lambda h, s, i: s.f.freebind and freebindable(h, i))


@rule("bind_7", call="bind", category="succeed", trigger="call",
      summary="with IP_FREEBIND, bind the socket to an address the host does not have [Linux 6.18, experiment]",
      guard=_bind_7_guard)
def bind_7(ctx: RuleCtx, h: Host, tid: TID, call: Bind, w: Any) -> Host | Branch[Host]:
    """Description: a socket with IP_FREEBIND is bound to an address that is not (yet) one
    of the host's, with the given or an ephemeral port, exactly as bind_1 binds a local one.

    Errors: none; the failures are those of bind_1 (bind_3..bind_6).

    Common cases: a service binding the address it will serve before the interface that
    carries it comes up.

    Model details: provenance: Linux 6.18, experiment — bind succeeds and getsockname shows
    the address; datagrams to it cannot arrive (it is not local), and the socket has no
    route: sendto and connect fail with ENETUNREACH (sendto_11, connect_2, through
    has_route_from), also after IP_FREEBIND is cleared. Port conflicts are as for bind_1
    (a wildcard socket on the same port conflicts). Martian addresses (0.1.2.3, 240.0.0.1,
    250.1.1.1) and other networks' broadcast and network addresses (10.77.0.255, 10.77.0.0
    on a host without 10.77.0.0/24) bind the same way, and have no route either [Linux
    6.18, experiment: they fail with EADDRNOTAVAIL without the option]. Broadcast and
    multicast addresses the host can receive on bind without it (bind_8).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 = None ∧ s.is2 = None; s.f.freebind; is =
          Some i; freebindable(h, i) (not local, not bindable_bcast); p ∈ autobind(ps,
          others) (a choice when ps = None); if ps = Some p: (p ≥ 1024 ∨ priv) ∧ ¬conflict(h, s,
          i, p)
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {s := front(s with {is1 := Some i, ps1 := Some p, lk := (T, ps ≠
          None)}); ts(tid) := RET(OK ())_dsch}
        changes: s.is1, s.ps1, s.lk, the socket's place (front of h.s), ts(tid)
    """
    i, rest, s = w

    def done(p: Port) -> Host:
        s2 = replace(s, is1=i, ps1=p, lk=(True, call.port is not None))
        return ret(ctx, front(h, s2), tid, Ok(None), "bind")

    return with_autobind(ctx.consts, call.port, rest, done)


def _bind_8_guard(ctx: RuleCtx, h: Host, tid: TID, call: Bind) -> Any:
    """The guard of bind_8: the witness the outcome needs, or None."""
    return _bind_other_address(ctx, h, call, lambda h, s, i: bindable_bcast(h, i))


@rule("bind_8", call="bind", category="succeed", trigger="call",
      summary="bind the socket to a broadcast or multicast address: it receives there and sends from the route's source [Linux 6.18, experiment]",
      guard=_bind_8_guard)
def bind_8(ctx: RuleCtx, h: Host, tid: TID, call: Bind, w: Any) -> Host | Branch[Host]:
    """Description: a socket is bound, with or without IP_FREEBIND, to 255.255.255.255,
    to the subnet broadcast of one of the host's interfaces, or to a multicast address
    (224.0.0.0/4), with the given or an ephemeral port, as bind_1 binds a local address.
    It then receives only datagrams addressed to that address, and what it sends leaves
    from the source address the route gives, as if it were unbound.

    Errors: none; the failures are those of bind_1 (bind_3..bind_6).

    Common cases: a DHCP or discovery server listening on 255.255.255.255 only; a
    multicast receiver binding the group address so that it gets nothing else.

    Model details: provenance: Linux 6.18, experiment — inet_bind accepts an address the
    routing table types as broadcast or multicast without IP_FREEBIND, and keeps it as the
    receive address only (inet_saddr = 0): getsockname shows it, also after connect; a
    datagram sent to 127.0.0.1 from a socket bound to 255.255.255.255 (or 224.0.0.1, or
    192.0.2.255 on a host with 192.0.2.2/24) arrives from 127.0.0.1 and its port; a
    broadcast to 255.255.255.255 reaches it, a datagram to 127.0.0.1 on its port does not
    (ECONNREFUSED for a connected sender). A socket bound to 127.255.255.255 (bind_1, as all
    of 127/8 is local) sends from the route's source too (send_src). The model has no
    multicast delivery, so a socket bound to a multicast address receives nothing; Linux
    delivers to it what is sent to a group the host has joined (224.0.0.1 always), which
    is outside the model. On a loopback-only host such a socket has no route to
    255.255.255.255 (ENETUNREACH), like an unbound one.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.ps1 = None ∧ s.is2 = None; is = Some i;
          bindable_bcast(h, i) (not local; 255.255.255.255, an interface's subnet broadcast,
          or 224.0.0.0/4); p ∈ autobind(ps, others) (a choice when ps = None); if ps = Some
          p: (p ≥ 1024 ∨ priv) ∧ ¬conflict(h, s, i, p)
        transition: h --Lh_call(tid, bind(fd, is, ps))--> h'
        after: h' = h with {s := front(s with {is1 := Some i, ps1 := Some p, lk := (T, ps ≠
          None)}); ts(tid) := RET(OK ())_dsch}
        changes: s.is1, s.ps1, s.lk, the socket's place (front of h.s), ts(tid)
    """
    i, rest, s = w

    def done(p: Port) -> Host:
        s2 = replace(s, is1=i, ps1=p, lk=(True, call.port is not None))
        return ret(ctx, front(h, s2), tid, Ok(None), "bind")

    return with_autobind(ctx.consts, call.port, rest, done)
