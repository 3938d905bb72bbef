"""select(rs, ws, tms) — docs/rules.md#select_1. Registered in Linux's order: 5, 2, then 1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import NEVER, deadline_after, us_to_ns
from udpsem.hosts.auxiliary import exceptional, readable, ret, set_thread, sock, writable
from udpsem.hosts.calls import Select
from udpsem.hosts.state import Host, HostStep, RuleCtx, Select2
from udpsem.hosts.values import FD, TID, Errno, Fail, Ok


def _fds_ok(ctx: RuleCtx, h: Host, fds: tuple[FD, ...]) -> bool:
    """Every fd is an open socket or a console fd."""
    return all(fd in ctx.consts.console or sock(h, fd) is not None for fd in fds)


def _all_fds(call: Select | Select2) -> tuple[FD, ...]:
    return (*call.reads, *call.writes, *(call.excepts or ()))


def _ready(ctx: RuleCtx, h: Host, st: Select2) -> tuple[tuple[FD, ...], ...]:
    """`(R, W)`, or `(R, W, E)` with an exception set: the ready fds of each set, in
    argument order with duplicates."""
    r = tuple(fd for fd in st.reads if readable(h, fd))
    w = tuple(fd for fd in st.writes if writable(h, ctx.consts, fd))
    if st.excepts is None:
        return r, w
    return r, w, tuple(fd for fd in st.excepts if exceptional(h, fd))


def _select_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: Select) -> Any:
    """The guard of select_5: the witness the outcome needs, or None."""
    if call.timeout_us is None or call.timeout_us >= 0:
        return None
    return True


@rule("select_5", call="select", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL when the select timeout is negative", guard=_select_5_guard)
def select_5(ctx: RuleCtx, h: Host, tid: TID, call: Select, _: Any) -> Host:
    """Description: a timeout of `Some i` with `i < 0` is rejected before anything else.

    Errors: EINVAL.

    Common cases: a timeout computed as "deadline minus now" that has already passed.

    Model details: Linux checks the timeout before the fd sets, so in the deterministic
    error order this rule wins over select_2.

    Formal:
        premises: ts(tid) = RUN; tms = Some i; i < 0
        transition: h --Lh_call(tid, select(rs, ws, tms))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "select")


def _select_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Select) -> Any:
    """The guard of select_2: the witness the outcome needs, or None."""
    if _fds_ok(ctx, h, _all_fds(call)):
        return None
    return True


@rule("select_2", call="select", category="fail", trigger="call", errors=("EBADF",),
      summary="fail with EBADF when a select set names an fd that is neither a socket nor console",
      guard=_select_2_guard)
def select_2(ctx: RuleCtx, h: Host, tid: TID, call: Select, _: Any) -> Host:
    """Description: some fd of the read or write set is not in use, or names a socket that
    was closed, and is not a console fd.

    Errors: EBADF.

    Common cases: selecting on an fd after closing it.

    Model details: select has its own bad-fd rule because it takes lists of fds (the
    exception set, when given, counts too); console fds are accepted (they are never readable and always writable). An orphan (a closed
    socket another thread still waits on) counts as bad.

    Formal:
        premises: ts(tid) = RUN; some fd ∈ rs @ ws has fd ∉ CONSOLE ∧ sock(h, fd) = None (unused,
          or a closed orphan)
        transition: h --Lh_call(tid, select(rs, ws, tms))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EBADF)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EBADF), "select")


def _select_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Select) -> Any:
    """The guard of select_1: the witness the outcome needs, or None."""
    tms = call.timeout_us
    if tms is not None and tms < 0:
        return None
    if not _fds_ok(ctx, h, _all_fds(call)):
        return None
    return True


@rule("select_1", call="select", category="enter2", trigger="call",
      summary="block in select until an fd is ready or the timeout expires", guard=_select_1_guard)
def select_1(ctx: RuleCtx, h: Host, tid: TID, call: Select, _: Any) -> Host:
    """Description: every call of select with valid fds and a non-negative timeout first
    enters SELECT2(rs, ws); the answer comes from select_3 or select_4.

    Errors: none; failures are select_5 and select_2.

    Common cases: the heartbeat's event loop waiting for a datagram or its next tick.

    Model details: exactly as the paper, even when an fd is already ready or the timeout is
    0 (select_3 is urgent, so the thread is answered without time passing). The timer is
    sharp: the deadline is now plus the timeout in µs, or NEVER when there is no timeout.
    A timeout however long stays finite (never "no timeout"): a deadline beyond the clock's
    last instant is that instant (`deadline_after`; Linux likewise keeps a huge timeout
    finite: a select of 2^62 s is interrupted with 2^62 s less the time waited left).

    Formal:
        premises: ts(tid) = RUN; every fd ∈ rs @ ws is in CONSOLE or sock(h, fd) ≠ None; tms = None
          ∨ tms = Some i with i ≥ 0; d' = ∞ if tms = None, else i µs
        transition: h --Lh_call(tid, select(rs, ws, tms))--> h'
        after: h' = h with {ts(tid) := SELECT2(rs, ws) with sharp timer d'} (also when something is
          already ready: select_3 then answers at once)
        changes: ts(tid) (blocks)
    """
    tms = call.timeout_us
    deadline = NEVER if tms is None else deadline_after(ctx.now, us_to_ns(tms))
    return set_thread(h, tid, Select2(call.reads, call.writes, call.excepts), deadline)


def _select_3_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of select_3: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Select2):
        return None
    ready = _ready(ctx, h, e.state)
    if not any(ready):
        return None
    return ready


@rule("select_3", category="slowsucceed", trigger="thread", states=(Select2,), urgent=True,
      summary="answer a blocked select with the ready fds as soon as one is ready",
      guard=_select_3_guard)
def select_3(ctx: RuleCtx, h: Host, tid: TID, ready: Any) -> HostStep:
    """Description: a thread in SELECT2(rs, ws) returns `(R, W)`, the readable fds of rs
    and the writable fds of ws, as soon as at least one is ready.

    Errors: none.

    Common cases: a datagram arrives on a watched socket; a write set with a socket whose
    out-queue has room (ready at once).

    Model details: urgent, so time cannot pass while it is enabled. R and W keep the
    argument order and its duplicates (tuples). readable includes a non-empty error queue
    (IP_RECVERR) even with no error pending: Linux's read set is POLLIN | POLLHUP | POLLERR
    [Linux 6.18, experiment]. With an exception set the answer is `(R, W, E)`, E the fds
    with SO_SELECT_ERR_QUEUE and an error pending or queued (POLLPRI): for UDP Linux puts
    nothing else there [Linux 6.18, experiment]. A socket closed by another thread while
    the select waits is never ready, because readable/writable look at open sockets only;
    console fds are always writable and never readable.

    Formal:
        premises: ts(tid) = SELECT2(rs, ws[, xs]); R = [fd ∈ rs | readable(h, fd)], W = [fd ∈ ws |
          writable(h, fd)], E = [fd ∈ xs | exceptional(h, fd)] (argument order, duplicates kept);
          R @ W @ E ≠ []. Urgent.
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(OK (R, W[, E]))_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(ready), "select"))


def _select_4_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of select_4: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Select2) or e.deadline != ctx.now:
        return None
    ready = _ready(ctx, h, e.state)
    if any(ready):
        return None
    return ready


@rule("select_4", category="slowsucceed", trigger="thread", states=(Select2,),
      summary="answer a blocked select with two empty lists when its timeout expires",
      guard=_select_4_guard)
def select_4(ctx: RuleCtx, h: Host, tid: TID, ready: Any) -> HostStep:
    """Description: the select timer has reached 0 and nothing is ready, so the call
    returns `([], [])`.

    Errors: none.

    Common cases: the heartbeat's periodic tick; `select([], [], Some 0)` as a poll.

    Model details: the timer is sharp: the rule is enabled only when the deadline equals
    the current time (never for a select without timeout). If something is ready at that
    instant select_3 applies instead.

    Formal:
        premises: ts(tid) = SELECT2(rs, ws[, xs]) with timer = 0 (sharp: exactly at the deadline);
          R @ W @ E = []
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(OK ([], [][, []]))_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(ready), "select"))
