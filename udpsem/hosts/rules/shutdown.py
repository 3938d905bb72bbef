"""shutdown(fd, how) — added by experiment on Linux 6.18 (issue 12; numbered by this project).

Registered in Linux's order: the failure shutdown_2 (an unconnected socket), then the success.
"""

from __future__ import annotations

from typing import Any

from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import replace_sock, ret, sock
from udpsem.hosts.calls import Shutdown
from udpsem.hosts.state import Host, RuleCtx, Sock
from udpsem.hosts.values import TID, Errno, Fail, Ok, Shut


def _shut(s: Sock, how: Shut) -> Sock:
    rd, wr = s.shut
    return replace(s, shut=(rd or how != Shut.SHUT_WR, wr or how != Shut.SHUT_RD))


def _shutdown_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Shutdown) -> Any:
    """The guard of shutdown_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.is2 is not None:
        return None
    return s


@rule("shutdown_2", call="shutdown", category="fail", trigger="call", errors=("ENOTCONN",),
      summary="shutdown of an unconnected socket fails with ENOTCONN, yet takes effect [Linux 6.18, experiment]",
      guard=_shutdown_2_guard)
def shutdown_2(ctx: RuleCtx, h: Host, tid: TID, call: Shutdown, s: Any) -> Host:
    """Description: the socket has no peer, so shutdown reports ENOTCONN; but the socket is
    shut down all the same: receives return no data instead of blocking and wake blocked
    receivers (recvfrom_11, recvfrom_14), and sends fail with EPIPE (sendto_13).

    Errors: ENOTCONN.

    Common cases: waking a thread blocked in recvfrom on a server socket (the usual idiom,
    which works on Linux despite the error).

    Model details: provenance: Linux 6.18, experiment — `inet_shutdown` answers ENOTCONN
    for an unconnected datagram socket and then falls through to set the shutdown flags
    and wake sleepers ("a hack to wake up other listeners", says its comment). No autobind.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.is2 = None
        transition: h --Lh_call(tid, shutdown(fd, how))--> h'
        after: h' = h with {s := s with {shut := s.shut ∪ how}; ts(tid) := RET(FAIL
          ENOTCONN)_dsch}
        changes: s.shut, ts(tid)
    """
    return ret(ctx, replace_sock(h, _shut(s, call.how)), tid, Fail(Errno.ENOTCONN),
               "shutdown")


def _shutdown_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Shutdown) -> Any:
    """The guard of shutdown_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.is2 is None:
        return None
    return s


@rule("shutdown_1", call="shutdown", category="succeed", trigger="call",
      summary="shut a connected socket down for reading, writing or both [Linux 6.18, experiment]",
      guard=_shutdown_1_guard)
def shutdown_1(ctx: RuleCtx, h: Host, tid: TID, call: Shutdown, s: Any) -> Host:
    """Description: the connected socket stops receiving (SHUT_RD: a receive with nothing
    queued returns no data at once), sending (SHUT_WR: sends fail with EPIPE) or both.

    Errors: none; an unconnected socket is shutdown_2.

    Common cases: a client telling its threads it is done with a connected socket.

    Model details: provenance: Linux 6.18, experiment — datagrams keep arriving and queued
    ones are still returned after SHUT_RD; select reports the socket readable; the flags
    only accumulate (neither connect nor disconnect clears them).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.is2 ≠ None
        transition: h --Lh_call(tid, shutdown(fd, how))--> h'
        after: h' = h with {s := s with {shut := s.shut ∪ how}; ts(tid) := RET(OK
          ())_dsch}
        changes: s.shut, ts(tid)
    """
    return ret(ctx, replace_sock(h, _shut(s, call.how)), tid, Ok(None), "shutdown")
