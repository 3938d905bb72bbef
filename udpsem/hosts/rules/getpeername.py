"""getpeername(fd) — docs/rules.md#getpeername_1. Registered as 1, then the failure 2."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, sock
from udpsem.hosts.calls import GetPeerName
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _getpeername_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetPeerName) -> Any:
    """The guard of getpeername_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or s.is2 is None or s.ps2 is None:
        return None
    return s


@rule("getpeername_1", call="getpeername", category="succeed", trigger="call",
      summary="return the peer address and port of a socket connected to a full address",
      guard=_getpeername_1_guard)
def getpeername_1(ctx: RuleCtx, h: Host, tid: TID, call: GetPeerName, s: Any) -> Host:
    """Description: the socket has a peer with both an address and a port; return them.

    Errors: none; an incomplete peer is getpeername_2.

    Common cases: checking which server a connected client talks to.

    Model details: both components are returned as `Some` values (bare ints here).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.is2 = Some i ∧ s.ps2 = Some p
        transition: h --Lh_call(tid, getpeername(fd))--> h'
        after: h' = h with {ts(tid) := RET(OK (Some i, Some p))_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok((s.is2, s.ps2)), "getpeername")


def _getpeername_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetPeerName) -> Any:
    """The guard of getpeername_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or (s.is2 is not None and s.ps2 is not None):
        return None
    return True


@rule("getpeername_2", call="getpeername", category="fail", trigger="call", errors=("ENOTCONN",),
      summary="fail with ENOTCONN when the socket has no peer or a peer without a port",
      guard=_getpeername_2_guard)
def getpeername_2(ctx: RuleCtx, h: Host, tid: TID, call: GetPeerName, _: Any) -> Host:
    """Description: the socket is not connected, or was connected with no port, so there is
    no full peer address to report.

    Errors: ENOTCONN.

    Common cases: calling getpeername on a server socket that only ever used sendto.

    Model details: a peer without a port (connect with `ps = None`) also counts as not
    connected, as Linux reports for a peer port of 0.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); s.is2 = None ∨ s.ps2 = None
        transition: h --Lh_call(tid, getpeername(fd))--> h'
        after: h' = h with {ts(tid) := RET(FAIL ENOTCONN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.ENOTCONN), "getpeername")
