"""disconnect(fd) — docs/rules.md#disconnect_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.frozen import replace
from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import front, refs, replace_sock, ret, sock
from udpsem.hosts.calls import Disconnect
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok


def _disconnect_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Disconnect) -> Any:
    """The guard of disconnect_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None:
        return None
    return s


@rule("disconnect_1", call="disconnect", category="succeed", trigger="call",
      summary="clear the peer and forget the local address and port that bind did not fix",
      guard=_disconnect_1_guard)
def disconnect_1(ctx: RuleCtx, h: Host, tid: TID, call: Disconnect, s: Any) -> Host:
    """Description: the socket loses its peer. Its local address is reset to the wildcard
    unless an explicit bind chose it (`lk.la`), and its port is released unless bind chose
    it (`lk.lp`) or another thread is blocked on the socket.

    Errors: none; it succeeds on any open socket, connected or not.

    Common cases: C's `connect` with `AF_UNSPEC`, used to turn a connected client back into
    one that can send anywhere and receive from anyone.

    Model details: Linux releases an autobound port even while a thread is blocked on the
    socket; the model keeps it then, so that blocked sendto/recvfrom sockets always have a
    port (invariants T3, T4). The socket moves to the front of the list when its local
    address changes. Queued datagrams and a pending error stay.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, disconnect(fd))--> h'
        after: h' = h with {s := s with {is2 := None; ps2 := None; is1 := None unless lk.la; ps1 :=
          None unless lk.lp ∨ refs(h, fd)} (front of h.s if is1 changed); ts(tid) := RET(OK
          ())_dsch}
        changes: s.is2, s.ps2, possibly s.is1, s.ps1 and the socket's place, ts(tid)
    """
    la, lp = s.lk
    is1 = s.is1 if la else None
    ps1 = s.ps1 if lp or refs(h, call.fd) else None
    s2 = replace(s, is1=is1, ps1=ps1, is2=None, ps2=None)
    h2 = front(h, s2) if is1 != s.is1 else replace_sock(h, s2)
    return ret(ctx, h2, tid, Ok(None), "disconnect")
