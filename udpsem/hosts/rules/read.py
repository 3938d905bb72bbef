"""read(fd, buf, 0) — added by experiment on Linux 6.18 (issue 12; numbered by this project).
Reads of one byte or more are recvfrom (`calls.read`)."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, sock
from udpsem.hosts.calls import ReadZero
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok


def _read_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: ReadZero) -> Any:
    """The guard of read_1: the witness the outcome needs, or None."""
    if sock(h, call.fd) is None:
        return None
    return True


@rule("read_1", call="read", category="succeed", trigger="call",
      summary="a read of zero bytes answers empty data at once, touching nothing [Linux 6.18, experiment]",
      guard=_read_1_guard)
def read_1(ctx: RuleCtx, h: Host, tid: TID, call: ReadZero, _: Any) -> Host:
    """Description: `read(fd, buf, 0)` on a socket returns 0 bytes at once: no datagram is
    taken, a pending error is neither reported nor cleared, and the call never blocks.

    Errors: none (EBADF and ENOTSOCK are the generic rules').

    Common cases: a program probing an fd with a zero-length read; a read loop whose buffer
    is full.

    Model details: provenance: Linux 6.18, experiment — sock_read_iter returns 0 for an
    empty buffer before it calls into UDP, so even an unbound socket, an empty queue or a
    pending ECONNREFUSED answer b"" (and the error is still there afterwards). recv with 0
    bytes is different: it takes a datagram and reports errors (recvfrom_9, recvfrom_3).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, read(fd, 0))--> h'
        after: h' = h with {ts(tid) := RET(OK "")_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(b""), "read")
