"""create(f, x) — docs/rules.md#create_1. The host only allocates the tid (create_ret_1 runs it)."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import ret, set_thread
from udpsem.hosts.calls import Create
from udpsem.hosts.state import RUN, Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _create_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Create) -> Any:
    """The guard of create_1: the witness the outcome needs, or None."""
    used = {e.tid for e in h.ts}
    new = 0
    while new in used:
        new += 1
    return new


@rule("create_1", call="create", category="succeed", trigger="call",
      summary="allocate a fresh thread id, set it RUN and return it", guard=_create_1_guard)
def create_1(ctx: RuleCtx, h: Host, tid: TID, call: Create, new: Any) -> Host:
    """Description: add a new thread entry `tid' ↦ RUN` with timer ∞ and answer `OK tid'`.

    Errors: none (resource exhaustion is create_2).

    Common cases: the heartbeat's main thread starting its sender and receiver threads.

    Model details: the paper allows any unused tid; like fds we take the least integer
    (from 0) not in dom(ts), so the rule is deterministic. The new thread's snippet is
    started by the network rule create_ret_1 when the answer reaches the caller.

    Formal:
        premises: ts(tid) = RUN; tid' = the least n ≥ 0 with n ∉ dom(ts)
        transition: h --Lh_call(tid, create(f, x))--> h'
        after: h' = h with {ts := ts ⊕ (tid' ↦ RUN_∞); ts(tid) := RET(OK tid')_dsch}
        changes: ts(tid'), ts(tid)
    """
    return ret(ctx, set_thread(h, new, RUN, NEVER), tid, Ok(new), "create")


def _create_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Create) -> Any:
    """The guard of create_2: the witness the outcome needs, or None."""
    if not ctx.consts.allow_badmem:
        return None
    return True


@rule("create_2", call="create", category="badfail", trigger="call", errors=("EAGAIN",),
      summary="create fails with EAGAIN for lack of a thread slot", guard=_create_2_guard)
def create_2(ctx: RuleCtx, h: Host, tid: TID, call: Create, _: Any) -> Host:
    """Description: the OS refuses to start another thread; no thread is created.

    Errors: EAGAIN.

    Common cases: never under Theorem 2's assumptions.

    Model details: enabled only with the host switch ALLOW_BADMEM; then it may happen at
    any time, alongside create_1.

    Formal:
        premises: ALLOW_BADMEM; ts(tid) = RUN
        transition: h --Lh_call(tid, create(f, x))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EAGAIN)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EAGAIN), "create")
