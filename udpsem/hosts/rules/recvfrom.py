"""recvfrom(fd, nb) — docs/rules.md#recvfrom_1.

The failures (3, 2, 5) exclude one another by their guards; the success recvfrom_1 and the
blocking recvfrom_4 follow. The slow rules recvfrom_6/7 leave RECVFROM2.
"""

from __future__ import annotations

from dataclasses import replace

from udpsem.base.choice import Branch
from udpsem.base.registry import rule
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import (
    any_sock,
    autobind_possible,
    others,
    replace_sock,
    ret,
    set_thread,
    sock,
    with_autobind,
)
from udpsem.hosts.calls import RecvFrom
from udpsem.hosts.state import Host, HostStep, RecvFrom2, RuleCtx, Sock
from udpsem.hosts.values import IP, TID, Errno, Fail, Ok, Port
from udpsem.network.messages import UDP, IPMsg


def _answer(m: IPMsg) -> tuple[IP, Port | None, bytes]:
    """`(i3, p3, data)` of a queued datagram `IP(i3, _, UDP(p3, _, data))`."""
    body = m.body
    assert isinstance(body, UDP), "receive queues hold only UDP datagrams (S6)"
    return (m.src, body.sport, body.data)


def _take(ctx: RuleCtx, h: Host, tid: TID, s: Sock) -> Host:
    """`mq := rest` and → `OK(i3, p3, data)` of the head datagram."""
    h2 = replace_sock(h, replace(s, mq=s.mq[1:]))
    return ret(ctx, h2, tid, Ok(_answer(s.mq[0])), "recvfrom")


def _report(ctx: RuleCtx, h: Host, tid: TID, s: Sock) -> Host:
    """`es := None` and → `FAIL e` for the pending error `e`."""
    assert s.es is not None
    return ret(ctx, replace_sock(h, replace(s, es=None)), tid, Fail(s.es), "recvfrom")


@rule("recvfrom_3", call="recvfrom", category="fail", trigger="call",
      errors=("ECONNREFUSED", "EHOSTUNREACH"),
      summary="report and clear the pending ICMP error before any queued data")
def recvfrom_3(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Host | None:
    """Description: an ICMP error is pending on the socket; recvfrom returns it and clears
    it, even when datagrams are queued (they stay for the next call).

    Errors: the pending error: ECONNREFUSED, or EHOSTUNREACH on freebsd.

    Common cases: a connected client waiting for a reply from a server that is down.

    Model details: the error is reported before data, as on Linux; blocking and
    non-blocking calls behave alike. No autobind.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = Some e (reported before queued data)
        transition: h --Lh_call(tid, recvfrom(fd, nb))--> h'
        after: h' = h with {s := s with {es := None}; ts(tid) := RET(FAIL e)_dsch}
        changes: s.es, ts(tid)
    """
    s = sock(h, call.fd)
    if s is None or s.es is None:
        return None
    return _report(ctx, h, tid, s)


@rule("recvfrom_2", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN on a non-blocking receive with nothing queued")
def recvfrom_2(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Host | None:
    """Description: a non-blocking recvfrom finds no datagram and no error, so it returns at
    once.

    Errors: EAGAIN.

    Common cases: polling a socket in a loop.

    Model details: the socket is not autobound, as on Linux.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; nb
        transition: h --Lh_call(tid, recvfrom(fd, T))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch} (no autobind)
        changes: ts(tid)
    """
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or not call.nonblock:
        return None
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


@rule("recvfrom_5", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN when a blocking receive cannot autobind an unbound socket")
def recvfrom_5(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Host | None:
    """Description: a blocking recvfrom would wait, but the socket has no port and every
    ephemeral port is taken, so it cannot be autobound before blocking.

    Errors: EAGAIN.

    Common cases: port exhaustion on a host with very many sockets.

    Model details: a consequence of the model's autobind in recvfrom_4 (a deviation from
    current Linux, which blocks without binding); only reachable with a small EPH.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; s.ps1 = None;
          autobind(None, others) = ∅
        transition: h --Lh_call(tid, recvfrom(fd, F))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock or s.ps1 is not None:
        return None
    if autobind_possible(ctx.consts, None, others(h, call.fd)):
        return None
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


@rule("recvfrom_1", call="recvfrom", category="succeed", trigger="call",
      summary="take the oldest queued datagram and return its source and data")
def recvfrom_1(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Host | None:
    """Description: the socket has queued datagrams and no pending error; the head of the
    queue is removed and its source address, source port and whole payload returned.

    Errors: none; a pending error is recvfrom_3.

    Common cases: a server reading a request; the heartbeat's detector reading a beat.

    Model details: LIB has no length argument, so the whole datagram is returned; a None
    source port is port 0 on the wire.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = IP(i3, _, UDP(p3, _, data))
          :: rest
        transition: h --Lh_call(tid, recvfrom(fd, nb))--> h'
        after: h' = h with {s := s with {mq := rest}; ts(tid) := RET(OK (i3, p3, data))_dsch}
        changes: s.mq, ts(tid)
    """
    s = sock(h, call.fd)
    if s is None or s.es is not None or not s.mq:
        return None
    return _take(ctx, h, tid, s)


@rule("recvfrom_4", call="recvfrom", category="enter2", trigger="call",
      summary="block a receive on an empty queue, autobinding the socket first")
def recvfrom_4(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Host | Branch[Host] | None:
    """Description: a blocking recvfrom finds no datagram and no error; the socket gets an
    ephemeral port if it has none, and the thread waits in RECVFROM2.

    Errors: none here; the wait ends with recvfrom_6, recvfrom_7 or intr_1.

    Common cases: a server waiting for its next request.

    Model details: the autobind (choice kind `eph`) follows Linux 2.2–2.4 and the 2005
    specification rather than current Linux; it keeps invariant T3 (a RECVFROM2 socket has
    a port).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; p' ∈ autobind(s.ps1,
          others) (AB)
        transition: h --Lh_call(tid, recvfrom(fd, F))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RECVFROM2 fd, timer ∞}
        changes: s.ps1 (autobind), ts(tid) (blocks)
    """
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock:
        return None
    rest = others(h, call.fd)
    if not autobind_possible(ctx.consts, s.ps1, rest):
        return None

    def done(p: Port) -> Host:
        h2 = replace_sock(h, replace(s, ps1=p))
        return set_thread(h2, tid, RecvFrom2(call.fd), NEVER)

    return with_autobind(ctx.consts, s.ps1, rest, done)


# Slow rules: leaving RECVFROM2 --------------------------------------------------------------

def _blocked(h: Host, tid: TID) -> Sock | None:
    """The socket (open or closed) a thread in RECVFROM2 waits on."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, RecvFrom2):
        return None
    return any_sock(h, e.state.fd)


@rule("recvfrom_6", category="slowsucceed", trigger="thread", states=(RecvFrom2,),
      urgent=True,
      summary="a blocked recvfrom takes a datagram that has arrived")
def recvfrom_6(ctx: RuleCtx, h: Host, tid: TID) -> HostStep | None:
    """Description: a datagram has been queued on the socket of a thread blocked in
    recvfrom, and no error is pending; the thread takes the head datagram.

    Errors: none; a pending error ends the wait with recvfrom_7.

    Common cases: a waiting server receives a request.

    Model details: urgent. When several threads wait on one socket, each has this rule
    enabled and exactly one takes the datagram; the others stay blocked. Works on an
    orphan (a socket closed meanwhile), which gc then removes if no one else waits.

    Formal:
        premises: ts(tid) = RECVFROM2 fd; s = the socket of h.s with fd (open or closed); s.es =
          None; s.mq = IP(i3, _, UDP(p3, _, data)) :: rest. Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {s := s with {mq := rest}; ts(tid) := RET(OK (i3, p3, data))_dsch}
        changes: s.mq, ts(tid)
    """
    s = _blocked(h, tid)
    if s is None or s.es is not None or not s.mq:
        return None
    return HostStep(_take(ctx, h, tid, s))


@rule("recvfrom_7", category="slowfail", trigger="thread", states=(RecvFrom2,), urgent=True,
      errors=("ECONNREFUSED", "EHOSTUNREACH"),
      summary="a blocked recvfrom fails with an ICMP error that arrived while it waited")
def recvfrom_7(ctx: RuleCtx, h: Host, tid: TID) -> HostStep | None:
    """Description: an ICMP error reached the socket of a thread blocked in recvfrom; the
    call returns the error and clears it.

    Errors: the pending error: ECONNREFUSED, or EHOSTUNREACH on freebsd.

    Common cases: a connected client waiting for a reply learns that the server's port is
    closed.

    Model details: urgent; on every architecture, windows included (recvfrom behaves as on
    Linux there).

    Formal:
        premises: ts(tid) = RECVFROM2 fd; s = the socket with fd (open or closed); s.es = Some e.
          Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {s := s with {es := None}; ts(tid) := RET(FAIL e)_dsch}
        changes: s.es, ts(tid)
    """
    s = _blocked(h, tid)
    if s is None or s.es is None:
        return None
    return HostStep(_report(ctx, h, tid, s))
