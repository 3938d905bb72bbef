"""close(fd) — docs/rules.md#close_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import refs, replace_sock, ret, sock
from udpsem.hosts.calls import Close
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok


def _close_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Close) -> Any:
    """The guard of close_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or refs(h, call.fd):
        return None
    return True


@rule("close_1", call="close", category="succeed", trigger="call",
      summary="destroy a socket that no blocked thread refers to", guard=_close_1_guard)
def close_1(ctx: RuleCtx, h: Host, tid: TID, call: Close, _: Any) -> Host:
    """Description: remove the socket from the host; its port and fd become free and its
    queued datagrams are discarded.

    Errors: none.

    Common cases: the end of every program's use of a socket.

    Model details: applies only when no thread is blocked in recvfrom, sendto or select on
    the fd (else close_2).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); ¬refs(h, fd) (no thread blocked on fd)
        transition: h --Lh_call(tid, close(fd))--> h'
        after: h' = h with {s := h.s without s; ts(tid) := RET(OK ())_dsch}
        changes: s (removed), ts(tid)
    """
    h2 = Host(h.ifds, h.ts, tuple(x for x in h.s if x.fd != call.fd), h.oq, h.oq_deadline,
              h.oqf)
    return ret(ctx, h2, tid, Ok(None), "close")


def _close_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Close) -> Any:
    """The guard of close_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or not refs(h, call.fd):
        return None
    return s


@rule("close_2", call="close", category="succeed", trigger="call",
      summary="close a socket another thread is blocked on, leaving it as an orphan",
      guard=_close_2_guard)
def close_2(ctx: RuleCtx, h: Host, tid: TID, call: Close, s: Any) -> Host:
    """Description: another thread is blocked on the socket, so it is only marked closed
    (an orphan): new calls on its fd get EBADF, but it keeps its port and still receives
    datagrams, errors and wake-ups for the blocked threads.

    Errors: none.

    Common cases: one thread closes a socket while another waits in recvfrom on it.

    Model details: follows current Linux, where a blocked call holds a reference to the
    socket. gc removes the orphan when the last blocked thread leaves; until then its fd
    number stays taken (Linux frees it at once; invisible up to renaming).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); refs(h, fd) (another thread is blocked on fd)
        transition: h --Lh_call(tid, close(fd))--> h'
        after: h' = h with {s := s with {cl := T} (an orphan, removed by gc when the last blocked
          thread leaves); ts(tid) := RET(OK ())_dsch}
        changes: s.cl, ts(tid)
    """
    return ret(ctx, replace_sock(h, replace(s, cl=True)), tid, Ok(None), "close")
