"""exit() — docs/rules.md#exit_1: exit_1 starts the exit, exit_2 performs it (label Lh_exit)."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import set_thread
from udpsem.hosts.calls import Exit
from udpsem.hosts.state import EXIT, ZOMBIE, ExitState, Host, HostStep, LhExit, RuleCtx, ThreadEntry
from udpsem.hosts.values import TID


def _exit_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Exit) -> Any:
    """The guard of exit_1: the witness the outcome needs, or None."""
    return True


@rule("exit_1", call="exit", category="misc", trigger="call",
      summary="begin ending the program: the caller becomes EXIT, every other thread ZOMBIE",
      guard=_exit_1_guard)
def exit_1(ctx: RuleCtx, h: Host, tid: TID, call: Exit, _: Any) -> Host:
    """Description: the calling thread enters EXIT with an upper-bound timer dsch, and every
    other thread becomes ZOMBIE with timer ∞; the call is never answered.

    Errors: none.

    Common cases: a program finishing, or giving up after an error.

    Model details: zombies stay receptive (zombie_1 absorbs their calls) until exit_2 ends
    the program. Any pending answer or blocked call of another thread is abandoned.

    Formal:
        premises: ts(tid) = RUN
        transition: h --Lh_call(tid, exit())--> h'
        after: h' = h with {ts(tid) := EXIT, upper-bound timer dsch; ts(t) := ZOMBIE_∞ for every
          other t ∈ dom(ts)} (never answered)
        changes: ts (every entry)
    """
    ts = tuple(ThreadEntry(e.tid, ZOMBIE, NEVER) for e in h.ts if e.tid != tid)
    h2 = Host(h.ifds, ts, h.s, h.oq, h.oq_deadline, h.oqf)
    return set_thread(h2, tid, EXIT, ctx.now + ctx.timing.dsch)


def _exit_2_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of exit_2: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, ExitState):
        return None
    return True


@rule("exit_2", category="misc", trigger="thread", states=(ExitState,),
      summary="end the program: drop every thread and socket, keep the out-queue (Lh_exit)",
      guard=_exit_2_guard)
def exit_2(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: with label Lh_exit (the multiway n·exit) the host forgets all threads
    (`ts := ∅`) and closes every socket (`s := []`).

    Errors: none.

    Common cases: the step after exit_1, within dsch.

    Model details: the out-queue, its timer and oqf are kept, so datagrams already sent
    still leave the host; the interfaces are unchanged. At network level every snippet of
    the machine disappears with the same label.

    Formal:
        premises: ts(tid) = EXIT, timer in [0, dsch]
        transition: h --Lh_exit--> h' (at network level the multiway n·exit, host_exit)
        after: h' = h with {ts := ∅; s := []}; oq, its timer and oqf are kept
        changes: ts, s
    """
    return HostStep(Host(h.ifds, (), (), h.oq, h.oq_deadline, h.oqf), LhExit())
