"""ioctl(fd, FIONREAD) — added by experiment on Linux 6.18 (issue 12; numbered by this
project)."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, sock
from udpsem.hosts.calls import FionRead
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok
from udpsem.network.messages import UDP


def _fionread_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: FionRead) -> Any:
    """The guard of fionread_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None:
        return None
    n = 0
    if s.mq:
        b = s.mq[0].body
        n = len(b.data) if isinstance(b, UDP) else 0
    return n


@rule("fionread_1", call="fionread", category="succeed", trigger="call",
      summary="return the payload size of the next queued datagram (0 if none) [Linux 6.18, experiment]",
      guard=_fionread_1_guard)
def fionread_1(ctx: RuleCtx, h: Host, tid: TID, call: FionRead, n: Any) -> Host:
    """Description: answer how many bytes the next receive would return in full: the
    length of the head datagram's payload, or 0 when nothing is queued.

    Errors: none.

    Common cases: sizing a buffer before recvfrom with a buffer length.

    Model details: provenance: Linux 6.18, experiment — only the first datagram counts
    (not the sum of the queue); a queued empty datagram also reads 0; a pending ICMP
    error is neither reported nor cleared.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, fionread(fd))--> h'
        after: h' = h with {ts(tid) := RET(OK n)_dsch}, n = the payload length of hd s.mq,
          or 0 if s.mq = []
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(n), "fionread")
