"""socket() — MODEL.md §A.8.3."""

from __future__ import annotations

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, used_fds
from udpsem.hosts.calls import Socket
from udpsem.hosts.state import Host, RuleCtx, Sock
from udpsem.hosts.values import TID, Errno, Fail, Ok


@rule("socket_1", call="socket", category="succeed", trigger="call",
      summary="create a fresh unbound, unconnected UDP socket on the least free fd")
def socket_1(ctx: RuleCtx, h: Host, tid: TID, call: Socket) -> Host | None:
    """Description: allocate a new socket with every address field wildcard, no pending
    error, both options off and an empty receive queue, and return its fd.

    Errors: none (a full fd table is socket_2).

    Common cases: the first call of every UDP program.

    Model details: the paper lets the fd be any unused one; like Linux we take the least free
    fd ≥ 3, so this rule is deterministic. The new socket goes to the front of the list.
    """
    used = used_fds(h, ctx.consts)
    if len(used) >= ctx.consts.open_max:
        return None
    fd = 0
    while fd in used:
        fd += 1
    h2 = Host(h.ifds, h.ts, (Sock(fd), *h.s), h.oq, h.oq_deadline, h.oqf)
    return ret(ctx, h2, tid, Ok(fd), "socket")


@rule("socket_2", call="socket", category="fail", trigger="call", errors=("EMFILE",),
      summary="fail with EMFILE when the per-process fd table is full")
def socket_2(ctx: RuleCtx, h: Host, tid: TID, call: Socket) -> Host | None:
    """Description: the process already has OPEN_MAX fds in use (sockets, including orphans,
    and console fds), so no socket is created.

    Errors: EMFILE.

    Common cases: a program that leaks sockets.

    Model details: orphans keep their fd until gc removes them, so they count here.
    """
    if len(used_fds(h, ctx.consts)) < ctx.consts.open_max:
        return None
    return ret(ctx, h, tid, Fail(Errno.EMFILE), "socket")
