"""getsockname(fd) — docs/rules.md#getsockname_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, sock
from udpsem.hosts.calls import GetSockName
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok


def _getsockname_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockName) -> Any:
    """The guard of getsockname_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None:
        return None
    return s


@rule("getsockname_1", call="getsockname", category="succeed", trigger="call",
      summary="return the socket's local address and port (None for wildcard or unbound)",
      guard=_getsockname_1_guard)
def getsockname_1(ctx: RuleCtx, h: Host, tid: TID, call: GetSockName, s: Any) -> Host:
    """Description: answer the pair `(is1, ps1)` of the socket.

    Errors: none; any open socket has a local pair, possibly `(None, None)`.

    Common cases: finding which ephemeral port bind, connect or a first sendto picked.

    Model details: a wildcard address and a missing port are returned as None (the C call
    reports 0.0.0.0 and port 0).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, getsockname(fd))--> h'
        after: h' = h with {ts(tid) := RET(OK (s.is1, s.ps1))_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok((s.is1, s.ps1)), "getsockname")
