"""ip_of_string(str) — docs/rules.md#ip_of_string_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret
from udpsem.hosts.calls import IpOfString
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Errno, Fail, Ok, parse_ip


def _ip_of_string_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: IpOfString) -> Any:
    """The guard of ip_of_string_1: the witness the outcome needs, or None."""
    addr = parse_ip(call.text)
    if addr is None:
        return None
    return addr


@rule("ip_of_string_1", call="ip_of_string", category="succeed", trigger="call",
      summary="parse a dotted quad into an IP address", guard=_ip_of_string_1_guard)
def ip_of_string_1(ctx: RuleCtx, h: Host, tid: TID, call: IpOfString, addr: Any) -> Host:
    """Description: the text is four decimal fields in 0..255 joined by dots; return the
    32-bit address it denotes.

    Errors: none; malformed text is ip_of_string_2.

    Common cases: `ip_of_string "192.168.0.11"` for the heartbeat's peer address.

    Model details: only the strict dotted-quad form is accepted (no names, no shorthand
    such as "10.1", no hex), using the shared parser `parse_ip`.

    Formal:
        premises: ts(tid) = RUN; str is four decimal fields in 0..255 joined by dots, denoting ip
        transition: h --Lh_call(tid, ip_of_string(str))--> h'
        after: h' = h with {ts(tid) := RET(OK ip)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(addr), "ip_of_string")


def _ip_of_string_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: IpOfString) -> Any:
    """The guard of ip_of_string_2: the witness the outcome needs, or None."""
    if parse_ip(call.text) is not None:
        return None
    return True


@rule("ip_of_string_2", call="ip_of_string", category="fail", trigger="call",
      errors=("EINVAL",), summary="fail with EINVAL when the text is not a dotted quad",
      guard=_ip_of_string_2_guard)
def ip_of_string_2(ctx: RuleCtx, h: Host, tid: TID, call: IpOfString, _: Any) -> Host:
    """Description: the text is not four decimal fields in 0..255 joined by dots.

    Errors: EINVAL.

    Common cases: a host name or a field above 255 ("192.168.0.256").

    Model details: the model has no name resolution, so every name fails here.

    Formal:
        premises: ts(tid) = RUN; str is not a dotted quad
        transition: h --Lh_call(tid, ip_of_string(str))--> h'
        after: h' = h with {ts(tid) := RET(FAIL EINVAL)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Fail(Errno.EINVAL), "ip_of_string")
