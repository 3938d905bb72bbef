"""recvfrom(fd, nb) — docs/rules.md#recvfrom_1.

The failures (3, 2, 5) exclude one another by their guards; the success recvfrom_1 and the
blocking recvfrom_4 follow. The slow rules recvfrom_6/7 leave RECVFROM2.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import (
    any_sock,
    autobind_possible,
    others,
    replace_sock,
    ret,
    set_thread,
    sock,
    timeout_deadline,
    with_autobind,
)
from udpsem.hosts.calls import RecvFrom
from udpsem.hosts.state import ErrEntry, Host, HostStep, RecvFrom2, RuleCtx, Sock
from udpsem.hosts.values import TID, Errno, Fail, Ok, Port
from udpsem.network.messages import ICMP_TYPE_CODE, UDP, IPMsg


def _answer(m: IPMsg, maxlen: int | None = None) -> tuple[Any, ...]:
    """`(i3, p3, data)` of a queued datagram `IP(i3, _, UDP(p3, _, data))`; with a buffer
    length, `(i3, p3, data[:maxlen], truncated)`."""
    body = m.body
    assert isinstance(body, UDP), "receive queues hold only UDP datagrams (S6)"
    if maxlen is None:
        return (m.src, body.sport, body.data)
    n = max(0, maxlen)
    return (m.src, body.sport, body.data[:n], len(body.data) > n)


def _take(ctx: RuleCtx, h: Host, tid: TID, s: Sock, maxlen: int | None = None,
          peek: bool = False, via: str = "recvfrom", ovfl: bool = False,
          trunc: bool = False) -> Host:
    """`mq := rest` (unless peeking) and → the answer for the head datagram: recv and read
    answer only the data (they give no address and no flags); with `ovfl`, the answer is
    `(ip, port, data, truncated, drops)`, `drops` the head's SO_RXQ_OVFL stamp while the
    option is on, else 0 (no control message); with `trunc` (MSG_TRUNC in the flags) the
    answer ends with the datagram's real length, and recv's is `(data, length)` [L: Linux
    6.18, experiment]."""
    stamp = s.mqd[0] if s.mqd else 0
    if not peek:
        rest = s.mqd[1:]
        mqd = rest if any(rest) else ()
        h = replace_sock(h, replace(s, mq=s.mq[1:], mqd=mqd))
    m = s.mq[0]
    if via != "recvfrom":
        data = _answer(m, maxlen)[2]
        return ret(ctx, h, tid, Ok((data, _length(m)) if trunc else data), "recvfrom")
    if ovfl or trunc:
        a = _answer(m, 65536 if maxlen is None else maxlen)
        if ovfl:
            a = (*a, stamp if s.f.rxq_ovfl else 0)
        if trunc:
            a = (*a, _length(m))
        return ret(ctx, h, tid, Ok(a), "recvfrom")
    return ret(ctx, h, tid, Ok(_answer(m, maxlen)), "recvfrom")


def _length(m: IPMsg) -> int:
    """The payload length of a queued datagram: what a receive with MSG_TRUNC returns."""
    body = m.body
    assert isinstance(body, UDP), "receive queues hold only UDP datagrams (S6)"
    return len(body.data)


def _shut_answer(maxlen: int | None, via: str = "recvfrom", trunc: bool = False) -> Any:
    """What a receive ended by SHUT_RD returns: no source and no data (Linux returns 0
    bytes and an empty address; with MSG_TRUNC the length 0 too) [L: Linux 6.18,
    experiment]."""
    if via != "recvfrom":
        return (b"", 0) if trunc else b""
    if trunc:
        return (None, None, b"", False, 0)
    return (None, None, b"") if maxlen is None else (None, None, b"", False)


def _plain(call: RecvFrom | RecvFrom2) -> bool:
    """A receive as in the paper: no buffer length, no peek, no SO_RXQ_OVFL reading, no
    MSG_TRUNC."""
    return call.maxlen is None and not call.peek and not call.ovfl and not call.trunc


def _report(ctx: RuleCtx, h: Host, tid: TID, s: Sock) -> Host:
    """`es := None` and → `FAIL e` for the pending error `e`."""
    assert s.es is not None
    return ret(ctx, replace_sock(h, replace(s, es=None)), tid, Fail(s.es), "recvfrom")


def _recvfrom_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_3: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is None:
        return None
    return s


@rule("recvfrom_3", call="recvfrom", category="fail", trigger="call",
      errors=("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"),
      summary="report and clear the pending ICMP error before any queued data",
      guard=_recvfrom_3_guard)
def recvfrom_3(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, s: Any) -> Host:
    """Description: an ICMP error is pending on the socket; recvfrom returns it and clears
    it, even when datagrams are queued (they stay for the next call).

    Errors: the pending error: ECONNREFUSED, or EHOSTUNREACH on freebsd; on linux with
    IP_RECVERR also EHOSTUNREACH and a router's ENETUNREACH.

    Common cases: a connected client waiting for a reply from a server that is down.

    Model details: the error is reported before data, as on Linux; blocking and
    non-blocking calls behave alike. No autobind.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = Some e (reported before queued data)
        transition: h --Lh_call(tid, recvfrom(fd, nb))--> h'
        after: h' = h with {s := s with {es := None}; ts(tid) := RET(FAIL e)_dsch}
        changes: s.es, ts(tid)
    """
    return _report(ctx, h, tid, s)


def _recvfrom_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_2: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or not call.nonblock:
        return None
    return True


@rule("recvfrom_2", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN on a non-blocking receive with nothing queued",
      guard=_recvfrom_2_guard)
def recvfrom_2(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, _: Any) -> Host:
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
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


def _recvfrom_10_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_10: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock or s.rcvtimeo != 0:
        return None
    return True


@rule("recvfrom_10", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN at once on a blocking receive whose SO_RCVTIMEO is zero [Linux 6.18, experiment]",
      guard=_recvfrom_10_guard)
def recvfrom_10(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, _: Any) -> Host:
    """Description: a blocking recvfrom finds nothing queued and no error, and the
    socket's receive timeout is zero (SO_RCVTIMEO was set to a negative time), so the call
    gives up without waiting.

    Errors: EAGAIN.

    Common cases: a program that computes its timeout as "deadline minus now" after the
    deadline has passed.

    Model details: provenance: Linux 6.18, experiment — a negative `tv_sec` stores a zero
    timeout (getsockopt then reads 0), and a zero timeout makes a blocking receive behave
    like a non-blocking one. No autobind.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; s.rcvtimeo
          = Some 0
        transition: h --Lh_call(tid, recvfrom(fd, F, maxlen, peek))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


def _recvfrom_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_5: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock or s.ps1 is not None:
        return None
    if s.shut[0] or s.rcvtimeo == 0:
        return None  # recvfrom_11 / recvfrom_10: Linux returns before it would bind
    if autobind_possible(ctx.consts, None, others(h, call.fd)):
        return None
    return True


@rule("recvfrom_5", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="fail with EAGAIN when a blocking receive cannot autobind an unbound socket",
      guard=_recvfrom_5_guard)
def recvfrom_5(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, _: Any) -> Host:
    """Description: a blocking recvfrom would wait, but the socket has no port and every
    ephemeral port is taken, so it cannot be autobound before blocking.

    Errors: EAGAIN.

    Common cases: port exhaustion on a host with very many sockets.

    Model details: a consequence of the model's autobind in recvfrom_4 (a deviation from
    current Linux, which blocks without binding); only reachable with a small EPH.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; s.ps1 = None;
          autobind(None, others) = ∅; ¬s.shut.rd; s.rcvtimeo ≠ Some 0
        transition: h --Lh_call(tid, recvfrom(fd, F))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


def _recvfrom_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_1: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or not s.mq or not _plain(call):
        return None
    return s


@rule("recvfrom_1", call="recvfrom", category="succeed", trigger="call",
      summary="take the oldest queued datagram and return its source and data",
      guard=_recvfrom_1_guard)
def recvfrom_1(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, s: Any) -> Host:
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
    return _take(ctx, h, tid, s)


def _recvfrom_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_4: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock:
        return None
    if s.shut[0] or s.rcvtimeo == 0:
        return None  # recvfrom_11 / recvfrom_10 answer at once
    rest = others(h, call.fd)
    if not autobind_possible(ctx.consts, s.ps1, rest):
        return None
    return rest, s


@rule("recvfrom_4", call="recvfrom", category="enter2", trigger="call",
      summary="block a receive on an empty queue, autobinding the socket first",
      guard=_recvfrom_4_guard)
def recvfrom_4(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, w: Any) -> Host | Branch[Host]:
    """Description: a blocking recvfrom finds no datagram and no error; the socket gets an
    ephemeral port if it has none, and the thread waits in RECVFROM2.

    Errors: none here; the wait ends with recvfrom_6, recvfrom_7 or intr_1.

    Common cases: a server waiting for its next request.

    Model details: the autobind (choice kind `eph`) follows Linux 2.2–2.4 and the 2005
    specification rather than current Linux; it keeps invariant T3 (a RECVFROM2 socket has
    a port). With SO_RCVTIMEO set the wait has a sharp deadline (recvfrom_13).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; p' ∈ autobind(s.ps1,
          others) (AB); ¬s.shut.rd; s.rcvtimeo ≠ Some 0
        transition: h --Lh_call(tid, recvfrom(fd, F))--> h'
        after: h' = h with {s := s with {ps1 := Some p'}; ts(tid) := RECVFROM2 fd, timer ∞ (or
          the SO_RCVTIMEO, sharp)}
        changes: s.ps1 (autobind), ts(tid) (blocks)
    """
    rest, s = w
    deadline = timeout_deadline(ctx.now, s.rcvtimeo)

    def done(p: Port) -> Host:
        h2 = replace_sock(h, replace(s, ps1=p))
        return set_thread(h2, tid, RecvFrom2(call.fd, call.maxlen, call.peek, call.via,
                                             call.ovfl, call.trunc), deadline)

    return with_autobind(ctx.consts, s.ps1, rest, done)


# Slow rules: leaving RECVFROM2 --------------------------------------------------------------

def _state(h: Host, tid: TID) -> RecvFrom2 | None:
    e = h.thread(tid)
    return e.state if e is not None and isinstance(e.state, RecvFrom2) else None


def _blocked(h: Host, tid: TID) -> Sock | None:
    """The socket (open or closed) a thread in RECVFROM2 waits on."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, RecvFrom2):
        return None
    return any_sock(h, e.state.fd)


def _recvfrom_6_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of recvfrom_6: the witness the outcome needs, or None."""
    s = _blocked(h, tid)
    st = _state(h, tid)
    if s is None or st is None or s.es is not None or not s.mq or not _plain(st):
        return None
    return s


@rule("recvfrom_6", category="slowsucceed", trigger="thread", states=(RecvFrom2,),
      urgent=True,
      summary="a blocked recvfrom takes a datagram that has arrived", guard=_recvfrom_6_guard)
def recvfrom_6(ctx: RuleCtx, h: Host, tid: TID, s: Any) -> HostStep:
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
    return HostStep(_take(ctx, h, tid, s))


def _recvfrom_7_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of recvfrom_7: the witness the outcome needs, or None."""
    s = _blocked(h, tid)
    if s is None or s.es is None:
        return None
    return s


@rule("recvfrom_7", category="slowfail", trigger="thread", states=(RecvFrom2,), urgent=True,
      errors=("ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH"),
      summary="a blocked recvfrom fails with an ICMP error that arrived while it waited",
      guard=_recvfrom_7_guard)
def recvfrom_7(ctx: RuleCtx, h: Host, tid: TID, s: Any) -> HostStep:
    """Description: an ICMP error reached the socket of a thread blocked in recvfrom; the
    call returns the error and clears it.

    Errors: the pending error: ECONNREFUSED, or EHOSTUNREACH on freebsd; on linux with
    IP_RECVERR also EHOSTUNREACH and a router's ENETUNREACH.

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
    return HostStep(_report(ctx, h, tid, s))


# Linux additions (Linux 6.18, by experiment): buffer length, peek, shutdown, timeouts -------

def _recvfrom_8_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_8: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or not s.mq or not call.peek or call.trunc:
        return None  # (with MSG_TRUNC: recvfrom_18)
    return s


@rule("recvfrom_8", call="recvfrom", category="succeed", trigger="call",
      summary="MSG_PEEK: return the oldest queued datagram and leave it queued [Linux 6.18, experiment]",
      guard=_recvfrom_8_guard)
def recvfrom_8(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, s: Any) -> Host:
    """Description: a peeking recvfrom on a socket with queued datagrams and no pending
    error returns the head datagram (truncated to `maxlen` with the truncation flag, if a
    length is given) without removing it.

    Errors: none; a pending error is reported (and cleared) by recvfrom_3 even when
    peeking, as Linux does.

    Common cases: reading a datagram's header to decide which buffer to read it into.

    Model details: provenance: Linux 6.18, experiment (MSG_PEEK with and without a
    length; the next receive gets the same datagram).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = IP(i3, _, UDP(p3, _,
          data)) :: rest; peek
        transition: h --Lh_call(tid, recvfrom(fd, nb, maxlen, T))--> h'
        after: h' = h with {ts(tid) := RET(OK answer)_dsch}, answer = (i3, p3, data)
          without maxlen, (i3, p3, data[:maxlen], len data > maxlen) with it; s.mq
          unchanged
        changes: ts(tid)
    """
    return _take(ctx, h, tid, s, call.maxlen, True, call.via, call.ovfl)


def _recvfrom_9_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_9: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or not s.mq or call.peek or _plain(call) or call.trunc:
        return None  # (with MSG_TRUNC: recvfrom_18)
    return s


@rule("recvfrom_9", call="recvfrom", category="succeed", trigger="call",
      summary="receive with a buffer length: the datagram is removed, its excess bytes lost [Linux 6.18, experiment]",
      guard=_recvfrom_9_guard)
def recvfrom_9(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, s: Any) -> Host:
    """Description: a recvfrom with a buffer length `maxlen` takes the head datagram and
    returns `(ip, port, data[:maxlen], truncated)`; bytes beyond `maxlen` are discarded.

    Errors: none; a pending error is recvfrom_3.

    Common cases: a server reading requests into a fixed 512-byte buffer.

    Model details: provenance: Linux 6.18, experiment — `truncated` is Linux's MSG_TRUNC
    in `msg_flags`; the rest of the datagram is gone (the next receive gets the next
    datagram). A negative `maxlen` counts as 0. `recv(fd, n)` and `read(fd, n)` are this
    call (Linux runs the same code) and answer only `data[:n]` [Linux 6.18, experiment]. A
    receive that reads SO_RXQ_OVFL (`ovfl`, a recvmsg; no length means the whole datagram)
    is this rule too and answers `(ip, port, data, truncated, drops)`: the drop count the
    datagram was stamped with when it was queued (the option on then), reported while the
    option is on, 0 otherwise (Linux sends no control message) [Linux 6.18, experiment].

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = IP(i3, _, UDP(p3, _,
          data)) :: rest; maxlen = Some n (or ovfl, n = ∞ without maxlen); ¬peek
        transition: h --Lh_call(tid, recvfrom(fd, nb, Some n, F))--> h'
        after: h' = h with {s := s with {mq := rest, mqd := tl mqd}; ts(tid) := RET(OK (i3, p3,
          data[:n], len data > n))_dsch} (recv, read: OK data[:n]; ovfl: the head's stamp
          appended if s.f.rxq_ovfl, else 0)
        changes: s.mq, s.mqd, ts(tid)
    """
    return _take(ctx, h, tid, s, call.maxlen, False, call.via, call.ovfl)


def _recvfrom_11_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_11: the witness the outcome needs, or None."""
    if call.errqueue:
        return None  # recvfrom_15 / recvfrom_16
    s = sock(h, call.fd)
    if s is None or s.es is not None or s.mq or call.nonblock or not s.shut[0]:
        return None
    if s.rcvtimeo == 0:
        return None
    return True


@rule("recvfrom_11", call="recvfrom", category="succeed", trigger="call",
      summary="a blocking receive on a socket shut down for reading returns no data at once [Linux 6.18, experiment]",
      guard=_recvfrom_11_guard)
def recvfrom_11(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, _: Any) -> Host:
    """Description: a blocking recvfrom on a socket that was shut down for reading, with
    nothing queued and no pending error, returns at once with no source and empty data.

    Errors: none (a non-blocking one still fails with EAGAIN: recvfrom_2).

    Common cases: a thread that reads until shutdown tells it to stop.

    Model details: provenance: Linux 6.18, experiment — Linux returns 0 bytes and no
    address; datagrams queued before or after the shutdown are still delivered first. No
    autobind (Linux does not bind here either). A zero SO_RCVTIMEO (recvfrom_10) wins.
    With MSG_TRUNC the answer ends with the length 0 (recvfrom_18's shape).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = []; ¬nb; s.shut.rd;
          s.rcvtimeo ≠ Some 0
        transition: h --Lh_call(tid, recvfrom(fd, F, maxlen, peek))--> h'
        after: h' = h with {ts(tid) := RET(OK (None, None, ""[, F]))_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(_shut_answer(call.maxlen, call.via, call.trunc)), "recvfrom")


def _recvfrom_12_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of recvfrom_12: the witness the outcome needs, or None."""
    s = _blocked(h, tid)
    st = _state(h, tid)
    if s is None or st is None or s.es is not None or not s.mq or _plain(st):
        return None
    return s, st


@rule("recvfrom_12", category="slowsucceed", trigger="thread", states=(RecvFrom2,),
      urgent=True,
      summary="a blocked receive with a buffer length or MSG_PEEK gets a datagram that arrived [Linux 6.18, experiment]",
      guard=_recvfrom_12_guard)
def recvfrom_12(ctx: RuleCtx, h: Host, tid: TID, w: Any) -> HostStep:
    """Description: a datagram has been queued on the socket of a thread blocked in a
    recvfrom with a buffer length or with MSG_PEEK; the thread gets it as recvfrom_9 or
    recvfrom_8 would give it (peeking leaves it queued).

    Errors: none; a pending error ends the wait with recvfrom_7.

    Common cases: a server blocked reading into a fixed buffer.

    Model details: provenance: Linux 6.18, experiment. Urgent, like recvfrom_6. A receive
    blocked with MSG_TRUNC gets recvfrom_18's answer, the real length last (a thread
    blocked with a 3-byte buffer and MSG_TRUNC, woken by an 8-byte datagram, gets 8 and
    the first 3 bytes) [Linux 6.18, experiment].

    Formal:
        premises: ts(tid) = RECVFROM2(fd, maxlen, peek) with maxlen ≠ None ∨ peek; s = the
          socket fd (open or closed); s.es = None; s.mq = m :: rest
        transition: h --τ--> h'
        after: h' = h with {s := s with {mq := rest, or s.mq if peek}; ts(tid) := RET(OK
          a)_dsch}, a the answer recvfrom_9 or recvfrom_8 would give for m
        changes: s.mq (unless peek), ts(tid)
    """
    s, st = w
    return HostStep(_take(ctx, h, tid, s, st.maxlen, st.peek, st.via, st.ovfl, st.trunc))


def _recvfrom_13_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of recvfrom_13: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, RecvFrom2) or e.deadline != ctx.now:
        return None
    s = any_sock(h, e.state.fd)
    if s is None or s.mq or s.es is not None or s.shut[0]:
        return None
    return True


@rule("recvfrom_13", category="slowfail", trigger="thread", states=(RecvFrom2,),
      errors=("EAGAIN",),
      summary="a blocked receive gives up with EAGAIN when its SO_RCVTIMEO expires [Linux 6.18, experiment]",
      guard=_recvfrom_13_guard)
def recvfrom_13(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: a thread blocked in recvfrom on a socket with a receive timeout has
    waited that long and nothing arrived; the call fails.

    Errors: EAGAIN.

    Common cases: a client that waits at most a second for a reply before retrying.

    Model details: provenance: Linux 6.18, experiment — the timeout is rounded up to
    whole jiffies (HZ = 250 here: 4 ms steps), and the timer is sharp: the rule is enabled
    exactly when the deadline is reached. A datagram or an error arriving at that instant
    wins (recvfrom_6/7, urgent).

    Formal:
        premises: ts(tid) = RECVFROM2 fd with timer 0 (SO_RCVTIMEO expired); s = the
          socket fd; s.mq = []; s.es = None; ¬s.shut.rd
        transition: h --τ--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom"))


def _recvfrom_14_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of recvfrom_14: the witness the outcome needs, or None."""
    s = _blocked(h, tid)
    st = _state(h, tid)
    if s is None or st is None or s.es is not None or s.mq or not s.shut[0]:
        return None
    return st


@rule("recvfrom_14", category="slowsucceed", trigger="thread", states=(RecvFrom2,),
      urgent=True,
      summary="shutdown(SHUT_RD) by another thread wakes a blocked receive with no data [Linux 6.18, experiment]",
      guard=_recvfrom_14_guard)
def recvfrom_14(ctx: RuleCtx, h: Host, tid: TID, st: Any) -> HostStep:
    """Description: the socket of a thread blocked in recvfrom is shut down for reading
    (by another thread) while nothing is queued; the thread returns with no source and
    empty data.

    Errors: none.

    Common cases: stopping a receiver thread: `shutdown(fd, SHUT_RD)` wakes it where
    `close` would not (close_2).

    Model details: provenance: Linux 6.18, experiment — it wakes even when the shutdown
    call itself fails with ENOTCONN (an unconnected socket, shutdown_2). Urgent. With
    MSG_TRUNC the answer ends with the length 0.

    Formal:
        premises: ts(tid) = RECVFROM2(fd, maxlen, _); s = the socket fd; s.es = None; s.mq
          = []; s.shut.rd
        transition: h --τ--> h'
        after: h' = h with {ts(tid) := RET(OK (None, None, ""[, F]))_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(_shut_answer(st.maxlen, st.via, st.trunc)),
                        "recvfrom"))


# The error queue (IP_RECVERR, MSG_ERRQUEUE; Linux 6.18, experiment) ---------------------------

SO_EE_ORIGIN_ICMP = 2  # <linux/errqueue.h>: the error came from an ICMP message


def extended_err(ent: ErrEntry) -> tuple[Any, ...]:
    """The `sock_extended_err` Linux attaches to an error-queue read, as a program sees it:
    `(ee_errno, ee_origin, ee_type, ee_code, ee_info, ee_data, offender)`; for an ICMP
    unreachable info and data are 0, and the offender is the address the ICMP came from
    [L: Linux 6.18, experiment]."""
    icmp_type, code = ICMP_TYPE_CODE[ent.kind]
    return (ent.errno, SO_EE_ORIGIN_ICMP, icmp_type, code, 0, 0, ent.offender)


def _recvfrom_15_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_15: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not call.errqueue or not s.eq:
        return None
    if call.maxlen is not None:
        return None  # recvfrom_17
    ent = s.eq[0]
    return ent, s


@rule("recvfrom_15", call="recvfrom", category="succeed", trigger="call",
      summary="MSG_ERRQUEUE: take the oldest error-queue entry [Linux 6.18, experiment]",
      guard=_recvfrom_15_guard)
def recvfrom_15(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, w: Any) -> Host:
    """Description: a receive from the error queue of a socket with IP_RECVERR returns the
    oldest entry, `(ip, port, errno)`: where the failed datagram was going and the error
    the ICMP meant. The pending error then becomes the next entry's, or None after the last.

    Errors: none; an empty queue is recvfrom_16.

    Common cases: an unconnected client learning which of its destinations refused.

    Model details: provenance: Linux 6.18, experiment — one entry per ICMP error (the
    pending error keeps only the latest); reading does not report the pending error first;
    reading the last entry clears it (SO_ERROR then reads 0), reading an earlier one leaves
    the next entry's error pending. With a buffer length, recvfrom_17 answers the payload
    and the extended error too.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); errqueue; maxlen = None; s.eq = (e, i, p, _, _,
          _) :: rest
        transition: h --Lh_call(tid, recvfrom(fd, nb, None, peek, T))--> h'
        after: h' = h with {s := s with {eq := rest; es := the error of hd rest, or None};
          ts(tid) := RET(OK (i, p, e))_dsch}
        changes: s.eq, s.es, ts(tid)
    """
    ent, s = w
    return _take_err(ctx, h, tid, s, (ent.ip, ent.port, ent.errno))


def _take_err(ctx: RuleCtx, h: Host, tid: TID, s: Sock, answer: tuple[Any, ...]) -> Host:
    """`eq := rest`, the pending error the next entry's (None after the last), → answer."""
    rest = s.eq[1:]
    s2 = replace(s, eq=rest, es=rest[0].errno if rest else None)
    return ret(ctx, replace_sock(h, s2), tid, Ok(answer), "recvfrom")


def _recvfrom_16_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_16: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not call.errqueue or s.eq:
        return None
    return True


@rule("recvfrom_16", call="recvfrom", category="fail", trigger="call", errors=("EAGAIN",),
      summary="MSG_ERRQUEUE on an empty error queue fails at once [Linux 6.18, experiment]",
      guard=_recvfrom_16_guard)
def recvfrom_16(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, _: Any) -> Host:
    """Description: a receive from an empty error queue fails without waiting, blocking or
    not.

    Errors: EAGAIN.

    Common cases: draining the error queue in a loop until it is empty.

    Model details: provenance: Linux 6.18, experiment (a blocking MSG_ERRQUEUE read
    returns EAGAIN at once; a socket without IP_RECVERR has an empty queue).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); errqueue; s.eq = []
        transition: h --Lh_call(tid, recvfrom(fd, nb, maxlen, peek, T))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "recvfrom")


def _recvfrom_17_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_17: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not call.errqueue or not s.eq or call.maxlen is None:
        return None
    ent, n = s.eq[0], max(0, call.maxlen)
    answer = (ent.ip, ent.port, ent.data[:n], len(ent.data) > n, extended_err(ent))
    return answer, s


@rule("recvfrom_17", call="recvfrom", category="succeed", trigger="call",
      summary="MSG_ERRQUEUE with a buffer: the failed datagram's quoted payload and the extended error [Linux 6.18, experiment]",
      guard=_recvfrom_17_guard)
def recvfrom_17(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, w: Any) -> Host:
    """Description: a receive from the error queue with a buffer length returns what
    recvmsg(MSG_ERRQUEUE) gives: the failed datagram's destination, its payload as the ICMP
    quoted it (cut to the buffer, with the truncation flag) and the sock_extended_err;
    the entry is taken as by recvfrom_15.

    Errors: none; an empty queue is recvfrom_16.

    Common cases: a client matching an ICMP error to the request that caused it by the
    request's payload (a sequence number in it).

    Model details: provenance: Linux 6.18, experiment — the payload is the first 520 bytes
    of the failed datagram (Linux's ICMP errors are at most 576 bytes), MSG_TRUNC is set
    when the buffer is shorter, msg_flags has MSG_ERRQUEUE; the extended error is
    `(ee_errno, ee_origin, ee_type, ee_code, ee_info, ee_data, offender)` = (the error, 2 =
    SO_EE_ORIGIN_ICMP, 3, 3 for port or 1 for host unreachable, 0, 0, the address the ICMP
    came from). On a host whose ICMP errors do not quote payloads (HostConsts.icmp_quote
    off, the paper's ICMP) the payload is empty.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); errqueue; maxlen = Some n; s.eq = (e, i, p,
          data, j, k) :: rest
        transition: h --Lh_call(tid, recvfrom(fd, nb, Some n, peek, T))--> h'
        after: h' = h with {s := s with {eq := rest; es := the error of hd rest, or None};
          ts(tid) := RET(OK (i, p, data[:n], len data > n, (e, 2, 3, code k, 0, 0, j)))_dsch}
        changes: s.eq, s.es, ts(tid)
    """
    answer, s = w
    return _take_err(ctx, h, tid, s, answer)


# MSG_TRUNC as a receive flag (Linux 6.18, by experiment) --------------------------------------

def _recvfrom_18_guard(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom) -> Any:
    """The guard of recvfrom_18: the witness the outcome needs, or None."""
    if call.errqueue or not call.trunc:
        return None  # MSG_ERRQUEUE ignores MSG_TRUNC (recvfrom_15..17)
    s = sock(h, call.fd)
    if s is None or s.es is not None or not s.mq:
        return None
    return s


@rule("recvfrom_18", call="recvfrom", category="succeed", trigger="call",
      summary="MSG_TRUNC in the flags: a receive also answers the datagram's real length [Linux 6.18, experiment]",
      guard=_recvfrom_18_guard)
def recvfrom_18(ctx: RuleCtx, h: Host, tid: TID, call: RecvFrom, s: Any) -> Host:
    """Description: a receive with MSG_TRUNC among its flags, on a socket with queued
    datagrams and no pending error, takes (or with MSG_PEEK, reads) the head datagram as
    recvfrom_9 (recvfrom_8) would, and answers its real length as well: `(ip, port,
    data[:maxlen], truncated, length)` (with SO_RXQ_OVFL read, the drop count before the
    length); recv answers `(data[:n], length)`.

    Errors: none; a pending error is reported first (recvfrom_3), an empty queue fails
    (recvfrom_2) or blocks (recvfrom_4, then recvfrom_12) as without the flag.

    Common cases: `recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC)` to learn the size of the next
    datagram and allocate a buffer for it; a server noticing that a request was longer
    than its buffer by how much.

    Model details: provenance: Linux 6.18, experiment (loopback) — with a 4-byte buffer
    a 10-byte datagram returns 10 and the first 4 bytes (recv, recvfrom and recvmsg
    alike; msg_flags still has MSG_TRUNC); with a 20-byte buffer it returns 10; a 0-byte
    buffer with MSG_PEEK returns 10 and leaves it queued; an empty datagram returns 0; a
    65507-byte datagram into 4 bytes returns 65507. Without a buffer length the whole
    datagram is copied, so `length` is its length. MSG_ERRQUEUE ignores the flag (the error
    queue's read returns the bytes copied, recvfrom_17). `read` has no flags, so no MSG_TRUNC.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None; s.mq = IP(i3, _, UDP(p3, _,
          data)) :: rest; trunc; ¬errqueue
        transition: h --Lh_call(tid, recvfrom(fd, nb, maxlen, peek, trunc = T))--> h'
        after: h' = h with {s := s with {mq := rest, mqd := tl mqd} unless peek; ts(tid) :=
          RET(OK (i3, p3, data[:n], len data > n[, drops], len data))_dsch}, n = maxlen or ∞
          (recv: OK (data[:n], len data))
        changes: s.mq and s.mqd (unless peek), ts(tid)
    """
    return _take(ctx, h, tid, s, call.maxlen, call.peek, call.via, call.ovfl, True)
