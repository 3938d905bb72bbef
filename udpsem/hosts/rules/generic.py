"""Generic rules — docs/rules.md#ret_1: ret_1, notsockfd_*, intr_1, badmem_*, zombie_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.choice import Branch
from udpsem.base.registry import rule
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import any_sock, ret, set_thread, sock
from udpsem.hosts.calls import Bind, Call, Connect, RecvFrom, Select, SendTo, Socket
from udpsem.hosts.state import (
    RUN,
    Delay2,
    Host,
    HostStep,
    LhReturn,
    Poll2,
    RecvFrom2,
    Ret,
    RuleCtx,
    Select2,
    SendTo2,
)
from udpsem.hosts.values import TID, Errno, Fail


def _ret_1_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of ret_1: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Ret):
        return None
    return e


@rule("ret_1", category="misc", trigger="thread", states=(Ret,),
      summary="deliver a pending return value to its thread, which becomes RUN", guard=_ret_1_guard)
def ret_1(ctx: RuleCtx, h: Host, tid: TID, e: Any) -> HostStep:
    """Description: a thread in `RET v` is answered with `v` (label `Lh_return(tid, v)`).

    Errors: none.

    Common cases: the second half of every call that does not block.

    Model details: may fire at any time while the `dsch` timer has not expired, and must
    fire before it does.

    Formal:
        premises: ts(tid) = RET v, with its timer in [0, dsch] (any moment before it expires)
        transition: h --Lh_return(tid, v)--> h'
        after: h' = h with {ts(tid) := RUN_∞}
        changes: ts(tid)
    """
    return HostStep(set_thread(h, tid, RUN, NEVER), LhReturn(tid, e.state.value))


def _takes_fd(call_type: type) -> bool:
    """The static premise of notsockfd_1/2: the call takes an fd argument."""
    return bool(getattr(call_type, "takes_fd", False))


def _notsockfd_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> Any:
    """The guard of notsockfd_1: the witness the outcome needs, or None."""
    if not call.takes_fd or getattr(call, "fd") not in ctx.consts.console:  # noqa: B009
        return None
    return True


@rule("notsockfd_1", call="*", category="fail", trigger="call", errors=("ENOTSOCK",),
      summary="fail with ENOTSOCK when an fd-taking call names a console fd",
      guard=_notsockfd_1_guard, when=_takes_fd)
def notsockfd_1(ctx: RuleCtx, h: Host, tid: TID, call: Call, _: Any) -> Host:
    """Description: the fd is open but is not a socket (stdin, stdout, stderr).

    Errors: ENOTSOCK.

    Common cases: passing 0 for an uninitialised fd variable.

    Model details: applies to every call with an fd argument except select, which accepts
    console fds.

    Formal:
        premises: ts(tid) = RUN; c takes an fd argument (every call but select); c.fd ∈ CONSOLE
        transition: h --Lh_call(tid, c)--> h'
        after: h' = h with {ts(tid) := RET(FAIL ENOTSOCK)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.ENOTSOCK), call.name)


def _notsockfd_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> Any:
    """The guard of notsockfd_2: the witness the outcome needs, or None."""
    if not call.takes_fd:
        return None
    fd: int = getattr(call, "fd")  # noqa: B009  (every call with takes_fd has an fd)
    if fd in ctx.consts.console:
        return None
    s = any_sock(h, fd)
    if s is not None and not s.cl:
        return None
    return True


@rule("notsockfd_2", call="*", category="fail", trigger="call", errors=("EBADF",),
      summary="fail with EBADF when an fd-taking call names no open socket",
      guard=_notsockfd_2_guard, when=_takes_fd)
def notsockfd_2(ctx: RuleCtx, h: Host, tid: TID, call: Call, _: Any) -> Host:
    """Description: the fd is not in use, or names a socket that was closed (an orphan).

    Errors: EBADF.

    Common cases: using an fd after close.

    Model details: select reports bad fds with its own rule, select_2.

    Formal:
        premises: ts(tid) = RUN; c takes an fd argument (every call but select); c.fd ∉ CONSOLE;
          sock(h, c.fd) = None (the fd is unused, or names a closed socket with cl = T)
        transition: h --Lh_call(tid, c)--> h'
        after: h' = h with {ts(tid) := RET(FAIL EBADF)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EBADF), call.name)


_SLOW_CALL = {SendTo2: "sendto", RecvFrom2: "recvfrom", Select2: "select", Delay2: "delay",
              Poll2: "poll"}


def _intr_1_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of intr_1: the witness the outcome needs, or None."""
    if not ctx.consts.allow_intr:
        return None
    e = h.thread(tid)
    if e is None or type(e.state) not in _SLOW_CALL:
        return None
    return e


@rule("intr_1", category="slowintr", trigger="thread",
      states=(SendTo2, RecvFrom2, Select2, Delay2, Poll2),
      summary="a signal interrupts a blocked slow call, which fails with EINTR",
      guard=_intr_1_guard)
def intr_1(ctx: RuleCtx, h: Host, tid: TID, e: Any) -> HostStep:
    """Description: a thread blocked in sendto, recvfrom, select, poll or delay is woken by
    a signal and its call fails.

    Errors: EINTR.

    Common cases: none in the heartbeat (Theorem 2 assumes no interrupts).

    Model details: enabled only with the host switch ALLOW_INTR; never urgent.

    Formal:
        premises: ALLOW_INTR; ts(tid) ∈ {SENDTO2 _, RECVFROM2 _, SELECT2 _, POLL2 _, DELAY2} (a
          blocked slow call), at any moment (a signal); not urgent
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINTR)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(Errno.EINTR), _SLOW_CALL[type(e.state)]))


_BADMEM_CALLS = (Bind, Connect, SendTo, RecvFrom, Select)


def _badmem_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Socket) -> Any:
    """The guard of badmem_1: the witness the outcome needs, or None."""
    if not ctx.consts.allow_badmem:
        return None
    return True


@rule("badmem_1", call="socket", category="badfail", trigger="call",
      errors=("ENFILE", "ENOBUFS", "ENOMEM"),
      summary="socket() fails because the kernel ran out of resources", guard=_badmem_1_guard)
def badmem_1(ctx: RuleCtx, h: Host, tid: TID, call: Socket, _: Any) -> Branch[Host]:
    """Description: the kernel cannot allocate a file or buffer for the new socket.

    Errors: ENFILE, ENOBUFS, ENOMEM (a choice of kind `errno`).

    Common cases: never under Theorem 2's assumptions.

    Model details: enabled only with ALLOW_BADMEM.

    Formal:
        premises: ALLOW_BADMEM; ts(tid) = RUN; e ∈ {ENFILE, ENOBUFS, ENOMEM} (a choice)
        transition: h --Lh_call(tid, socket())--> h'
        after: h' = h with {ts(tid) := RET(FAIL e)_dsch}
        changes: ts(tid)
    """
    return Branch("errno", (Errno.ENFILE, Errno.ENOBUFS, Errno.ENOMEM),
                  lambda e: ret(ctx, h, tid, Fail(e), "socket"))


def _badmem_call(call_type: type) -> bool:
    """The static premise of badmem_2: a call that may fail for lack of kernel memory."""
    return issubclass(call_type, _BADMEM_CALLS)


def _valid_fds(h: Host, call: Any, ctx: RuleCtx) -> bool:
    if isinstance(call, Select):
        return all(fd in ctx.consts.console or sock(h, fd) is not None
                   for fd in (*call.reads, *call.writes, *(call.excepts or ())))
    return sock(h, call.fd) is not None


def _badmem_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> Any:
    """The guard of badmem_2: the witness the outcome needs, or None."""
    if not ctx.consts.allow_badmem or not isinstance(call, _BADMEM_CALLS):
        return None
    if not _valid_fds(h, call, ctx):
        return None
    return True


@rule("badmem_2", call="*", category="badfail", trigger="call", errors=("ENOBUFS", "ENOMEM"),
      summary="bind/connect/sendto/recvfrom/select on valid fds fail for lack of kernel memory",
      guard=_badmem_2_guard, when=_badmem_call)
def badmem_2(ctx: RuleCtx, h: Host, tid: TID, call: Call, _: Any) -> Branch[Host]:
    """Description: the kernel cannot allocate memory for the call.

    Errors: ENOBUFS, ENOMEM (a choice of kind `errno`).

    Common cases: never under Theorem 2's assumptions.

    Model details: enabled only with ALLOW_BADMEM, and only when every fd argument is valid.

    Formal:
        premises: ALLOW_BADMEM; ts(tid) = RUN; c is bind, connect, sendto, recvfrom or select;
          every fd argument of c is an open socket (select: or in CONSOLE); e ∈ {ENOBUFS, ENOMEM}
          (a choice)
        transition: h --Lh_call(tid, c)--> h'
        after: h' = h with {ts(tid) := RET(FAIL e)_dsch}
        changes: ts(tid)
    """
    return Branch("errno", (Errno.ENOBUFS, Errno.ENOMEM),
                  lambda e: ret(ctx, h, tid, Fail(e), call.name))


def _badmem_3_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of badmem_3: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if not ctx.consts.allow_badmem or e is None or not isinstance(e.state, (SendTo2,
                                                                            RecvFrom2)):
        return None
    name = _SLOW_CALL[type(e.state)]
    return name


@rule("badmem_3", category="badfail", trigger="thread", states=(SendTo2, RecvFrom2),
      summary="a blocked sendto or recvfrom fails for lack of kernel memory", guard=_badmem_3_guard)
def badmem_3(ctx: RuleCtx, h: Host, tid: TID, name: Any) -> Branch[HostStep]:
    """Description: a thread blocked in sendto or recvfrom is failed by the kernel.

    Errors: ENOBUFS, ENOMEM (a choice of kind `errno`).

    Common cases: never under Theorem 2's assumptions.

    Model details: enabled only with ALLOW_BADMEM.

    Formal:
        premises: ALLOW_BADMEM; ts(tid) ∈ {SENDTO2 _, RECVFROM2 _}; e ∈ {ENOBUFS, ENOMEM} (a
          choice)
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(FAIL e)_dsch}
        changes: ts(tid)
    """
    return Branch("errno", (Errno.ENOBUFS, Errno.ENOMEM),
                  lambda err: HostStep(ret(ctx, h, tid, Fail(err), name)))


def _badmem_4_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of badmem_4: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if not ctx.consts.allow_badmem or e is None or not isinstance(e.state, Select2):
        return None
    return True


@rule("badmem_4", category="badfail", trigger="thread", states=(Select2,),
      summary="a blocked select fails with ENOMEM", guard=_badmem_4_guard)
def badmem_4(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: a thread blocked in select is failed by the kernel.

    Errors: ENOMEM.

    Common cases: never under Theorem 2's assumptions.

    Model details: enabled only with ALLOW_BADMEM.

    Formal:
        premises: ALLOW_BADMEM; ts(tid) = SELECT2(rs, ws)
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(FAIL ENOMEM)_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Fail(Errno.ENOMEM), "select"))


def _zombie_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Call) -> Any:
    """The guard of zombie_1: the witness the outcome needs, or None."""
    return True


@rule("zombie_1", call="*", category="misc", trigger="call",
      summary="absorb a call from a ZOMBIE thread; it is never answered", guard=_zombie_1_guard)
def zombie_1(ctx: RuleCtx, h: Host, tid: TID, call: Call, _: Any) -> Host:
    """Description: after another thread called exit, calls of the remaining threads are
    accepted (keeping the host receptive) and never answered.

    Errors: none.

    Common cases: a thread that calls into the host while the program is exiting.

    Model details: the only call rule that applies to a ZOMBIE thread rather than a RUN one;
    the dispatcher enforces both sides of that.

    Formal:
        premises: ts(tid) = ZOMBIE (another thread called exit); c is any call
        transition: h --Lh_call(tid, c)--> h
        after: h' = h: the call is absorbed and never answered
        changes: nothing
    """
    return h
