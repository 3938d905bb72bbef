"""port_of_int(n) — docs/rules.md#port_of_int_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret
from udpsem.hosts.calls import PortOfInt
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok


def _is_port(n: int) -> bool:
    # bool is an int subclass; True is not a port number.
    return isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 65535


def _port_of_int_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: PortOfInt) -> Any:
    """The guard of port_of_int_1: the witness the outcome needs, or None."""
    if not _is_port(call.n):
        return None
    return True


@rule("port_of_int_1", call="port_of_int", category="succeed", trigger="call",
      summary="convert an integer in 1..65535 to a port", guard=_port_of_int_1_guard)
def port_of_int_1(ctx: RuleCtx, h: Host, tid: TID, call: PortOfInt, _: Any) -> Host:
    """Description: return the integer itself as a port.

    Errors: none; an out-of-range integer is port_of_int_2.

    Common cases: a program turning a command-line number into the port it binds.

    Model details: port 0 does not exist in the model ("no port" is None), so the range
    starts at 1.

    Formal:
        premises: ts(tid) = RUN; 1 ≤ n ≤ 65535
        transition: h --Lh_call(tid, port_of_int(n))--> h'
        after: h' = h with {ts(tid) := RET(OK n)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(call.n), "port_of_int")


def _port_of_int_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: PortOfInt) -> Any:
    """The guard of port_of_int_2: the witness the outcome needs, or None."""
    if _is_port(call.n):
        return None
    return True


@rule("port_of_int_2", call="port_of_int", category="fail", trigger="call", errors=("EINVAL",),
      summary="fail with EINVAL for an integer outside 1..65535", guard=_port_of_int_2_guard)
def port_of_int_2(ctx: RuleCtx, h: Host, tid: TID, call: PortOfInt, _: Any) -> Host:
    """Description: the integer is 0, negative or above 65535, so it names no port.

    Errors: EINVAL.

    Common cases: a typo in a configured port number.

    Model details: pure conversion; the host state is unchanged apart from the answer.

    Formal:
        premises: ts(tid) = RUN; n < 1 ∨ n > 65535
        transition: h --Lh_call(tid, port_of_int(n))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "port_of_int")
