"""socket() — docs/rules.md#socket_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, used_fds
from udpsem.hosts.calls import Socket
from udpsem.hosts.state import Host, RuleCtx, Sock
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _socket_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Socket) -> Any:
    """The guard of socket_1: the witness the outcome needs, or None."""
    used = used_fds(h, ctx.consts)
    if len(used) >= ctx.consts.open_max:
        return None
    fd = 0
    while fd in used:
        fd += 1
    return fd


@rule("socket_1", call="socket", category="succeed", trigger="call",
      summary="create a fresh unbound, unconnected UDP socket on the least free fd",
      guard=_socket_1_guard)
def socket_1(ctx: RuleCtx, h: Host, tid: TID, call: Socket, fd: Any) -> Host:
    """Description: allocate a new socket with every address field wildcard, no pending
    error, both options off and an empty receive queue, and return its fd.

    Errors: none (a full fd table is socket_2).

    Common cases: the first call of every UDP program.

    Model details: the paper lets the fd be any unused one; like Linux we take the least free
    fd ≥ 3, so this rule is deterministic. The new socket goes to the front of the list.

    Formal:
        premises: ts(tid) = RUN; fd = the least n ≥ 0 with n ∉ used_fds(h) (CONSOLE is used);
          card(used_fds(h)) < OPEN_MAX
        transition: h --Lh_call(tid, socket())--> h'
        after: h' = h with {s := SOCK(fd, None, None, None, None, None, FLAGS(F, F), [], lk = (F,
          F), cl = F) :: h.s; ts(tid) := RET(OK fd)_dsch}
        changes: s (a new socket at the front), ts(tid)
    """
    h2 = Host(h.ifds, h.ts, (Sock(fd), *h.s), h.oq, h.oq_deadline, h.oqf)
    return ret(ctx, h2, tid, Ok(fd), "socket")


def _socket_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Socket) -> Any:
    """The guard of socket_2: the witness the outcome needs, or None."""
    if len(used_fds(h, ctx.consts)) < ctx.consts.open_max:
        return None
    return True


@rule("socket_2", call="socket", category="fail", trigger="call", errors=("EMFILE",),
      summary="fail with EMFILE when the per-process fd table is full", guard=_socket_2_guard)
def socket_2(ctx: RuleCtx, h: Host, tid: TID, call: Socket, _: Any) -> Host:
    """Description: the process already has OPEN_MAX fds in use (sockets, including orphans,
    and console fds), so no socket is created.

    Errors: EMFILE.

    Common cases: a program that leaks sockets.

    Model details: orphans keep their fd until gc removes them, so they count here.

    Formal:
        premises: ts(tid) = RUN; card(used_fds(h)) ≥ OPEN_MAX (orphans count)
        transition: h --Lh_call(tid, socket())--> h'
        after: h' = h with {ts(tid) := RET(FAIL EMFILE)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EMFILE), "socket")
