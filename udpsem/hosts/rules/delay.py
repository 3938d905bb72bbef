"""delay(n) — docs/rules.md#delay_1. Registered in Linux's order: 2, then 1; delay_3 wakes."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.base.time import deadline_after, us_to_ns
from udpsem.hosts.auxiliary import ret, set_thread
from udpsem.hosts.calls import Delay
from udpsem.hosts.state import DELAY2, Delay2, Host, HostStep, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _delay_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: Delay) -> Any:
    """The guard of delay_2: the witness the outcome needs, or None."""
    if call.us >= 0:
        return None
    return True


@rule("delay_2", call="delay", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL for a negative delay", guard=_delay_2_guard)
def delay_2(ctx: RuleCtx, h: Host, tid: TID, call: Delay, _: Any) -> Host:
    """Description: a sleep of a negative number of microseconds is rejected.

    Errors: EINVAL.

    Common cases: sleeping until a deadline that has already passed, computed as a
    difference.

    Model details: like nanosleep's EINVAL for a negative time.

    Formal:
        premises: ts(tid) = RUN; n < 0
        transition: h --Lh_call(tid, delay(n))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "delay")


def _delay_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: Delay) -> Any:
    """The guard of delay_1: the witness the outcome needs, or None."""
    if call.us < 0:
        return None
    return True


@rule("delay_1", call="delay", category="enter2", trigger="call",
      summary="start sleeping for the given number of microseconds", guard=_delay_1_guard)
def delay_1(ctx: RuleCtx, h: Host, tid: TID, call: Delay, _: Any) -> Host:
    """Description: the thread enters DELAY2 with a sharp timer of n µs.

    Errors: none; a negative n is delay_2.

    Common cases: the heartbeat sender pausing between beats.

    Model details: the deadline is now + n µs; `delay(0)` wakes at once (delay_3 is enabled
    immediately, without time passing). A delay however long stays finite and ends: a
    deadline beyond the clock's last instant is that instant (`deadline_after`), as Linux's
    nanosleep saturates at KTIME_MAX.

    Formal:
        premises: ts(tid) = RUN; n ≥ 0
        transition: h --Lh_call(tid, delay(n))--> h'
        after: h' = h with {ts(tid) := DELAY2 with sharp timer n µs}
        changes: ts(tid) (blocks)
    """
    return set_thread(h, tid, DELAY2, deadline_after(ctx.now, us_to_ns(call.us)))


def _delay_3_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of delay_3: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Delay2) or e.deadline != ctx.now:
        return None
    return True


@rule("delay_3", category="slowsucceed", trigger="thread", states=(Delay2,),
      summary="wake a sleeping thread when its delay has elapsed", guard=_delay_3_guard)
def delay_3(ctx: RuleCtx, h: Host, tid: TID, _: Any) -> HostStep:
    """Description: a thread in DELAY2 whose timer has reached 0 is answered `OK ()`.

    Errors: none (a signal during the sleep is intr_1).

    Common cases: the end of every sleep.

    Model details: the timer is sharp: the rule is enabled only at the exact deadline, and
    time cannot pass beyond it.

    Formal:
        premises: ts(tid) = DELAY2 with timer = 0 (sharp: exactly at the deadline)
        transition: h --Lh_tau--> h'
        after: h' = h with {ts(tid) := RET(OK ())_dsch}
        changes: ts(tid)
    """
    return HostStep(ret(ctx, h, tid, Ok(None), "delay"))
