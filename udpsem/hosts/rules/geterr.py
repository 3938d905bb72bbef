"""geterr(fd) — docs/rules.md#geterr_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import replace_sock, ret, sock
from udpsem.hosts.calls import GetErr
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok


def _geterr_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetErr) -> Any:
    """The guard of geterr_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.es is not None:
        return None
    return True


@rule("geterr_1", call="geterr", category="succeed", trigger="call",
      summary="return None when no asynchronous error is pending", guard=_geterr_1_guard)
def geterr_1(ctx: RuleCtx, h: Host, tid: TID, call: GetErr, _: Any) -> Host:
    """Description: the socket has no pending error; the answer is None.

    Errors: none.

    Common cases: checking a socket after select reported it readable or writable.

    Model details: C's `getsockopt(SO_ERROR)` returning 0.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = None
        transition: h --Lh_call(tid, geterr(fd))--> h'
        after: h' = h with {ts(tid) := RET(OK None)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(None), "geterr")


def _geterr_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetErr) -> Any:
    """The guard of geterr_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.es is None:
        return None
    return s


@rule("geterr_2", call="geterr", category="succeed", trigger="call",
      summary="return and clear the pending asynchronous error", guard=_geterr_2_guard)
def geterr_2(ctx: RuleCtx, h: Host, tid: TID, call: GetErr, s: Any) -> Host:
    """Description: the socket has a pending error (set by ICMP); it is returned as a value,
    not as a failure, and cleared.

    Errors: none as a failure; the value is ECONNREFUSED, or EHOSTUNREACH on freebsd (on
    linux with IP_RECVERR also EHOSTUNREACH and a router's ENETUNREACH).

    Common cases: a connected client reading why its server stopped answering.

    Model details: C's `getsockopt(SO_ERROR)`, which also clears the error.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.es = Some e
        transition: h --Lh_call(tid, geterr(fd))--> h'
        after: h' = h with {s := s with {es := None}; ts(tid) := RET(OK (Some e))_dsch}
        changes: s.es, ts(tid)
    """
    return ret(ctx, replace_sock(h, replace(s, es=None)), tid, Ok(s.es), "geterr")
