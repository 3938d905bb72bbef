"""print_endline_flush(str) — docs/rules.md#print_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, set_thread
from udpsem.hosts.calls import PrintEndlineFlush
from udpsem.hosts.state import Host, HostStep, LhConsole, Print2, RuleCtx
from udpsem.hosts.values import TID, Ok


def _print_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: PrintEndlineFlush) -> Any:
    """The guard of print_1: the witness the outcome needs, or None."""
    return True


@rule("print_1", call="print_endline_flush", category="enter2", trigger="call",
      summary="accept console output; it is written within dsch", guard=_print_1_guard)
def print_1(ctx: RuleCtx, h: Host, tid: TID, call: PrintEndlineFlush, _: Any) -> Host:
    """Description: the thread enters PRINT2 with the text, with an upper-bound timer dsch.

    Errors: none.

    Common cases: the heartbeat's failure detector reporting that a peer is down.

    Model details: output is a separate step (print_2) so that it appears on the console
    at some moment within dsch of the call, interleaved with other events.

    Formal:
        premises: ts(tid) = RUN
        transition: h --Lh_call(tid, print_endline_flush(str))--> h'
        after: h' = h with {ts(tid) := PRINT2 str, upper-bound timer dsch}
        changes: ts(tid)
    """
    return set_thread(h, tid, Print2(call.text), ctx.now + ctx.timing.dsch)


def _print_2_guard(ctx: RuleCtx, h: Host, tid: TID) -> Any:
    """The guard of print_2: the witness the outcome needs, or None."""
    e = h.thread(tid)
    if e is None or not isinstance(e.state, Print2):
        return None
    return e


@rule("print_2", category="console", trigger="thread", states=(Print2,),
      summary="write the pending text and a newline to the console and return",
      guard=_print_2_guard)
def print_2(ctx: RuleCtx, h: Host, tid: TID, e: Any) -> HostStep:
    """Description: a thread in PRINT2 s emits `Lh_console(s ^ "\\n")` and is answered
    `OK ()`.

    Errors: none.

    Common cases: the second half of every print_endline_flush.

    Model details: may fire at any time while the dsch timer has not expired and must fire
    before it does. The newline is part of the console label.

    Formal:
        premises: ts(tid) = PRINT2 str, timer in [0, dsch] (any moment before it expires)
        transition: h --Lh_console(str ^ newline)--> h'
        after: h' = h with {ts(tid) := RET(OK ())_dsch}
        changes: ts(tid)
    """
    h2 = ret(ctx, h, tid, Ok(None), "print_endline_flush")
    return HostStep(h2, LhConsole(e.state.text + "\n"))
