"""getifaddrs() — docs/rules.md#getifaddrs_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret
from udpsem.hosts.calls import GetIfAddrs
from udpsem.hosts.state import Host, Interface, RuleCtx
from udpsem.hosts.values import TID, Ok


def _ifid_order(i: Interface) -> tuple[int, int]:
    """LO first, then ETH n by n."""
    ifid = i.ifid
    return (0, 0) if isinstance(ifid, str) else (1, ifid[1])


def _getifaddrs_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetIfAddrs) -> Any:
    """The guard of getifaddrs_1: the witness the outcome needs, or None."""
    rows = tuple((i.ifid, i.primary, tuple(sorted(i.ipset)), i.netmask)
                 for i in sorted(h.ifds, key=_ifid_order))
    return rows


@rule("getifaddrs_1", call="getifaddrs", category="succeed", trigger="call",
      summary="list the host's interfaces with primary address, addresses and netmask",
      guard=_getifaddrs_1_guard)
def getifaddrs_1(ctx: RuleCtx, h: Host, tid: TID, call: GetIfAddrs, rows: Any) -> Host:
    """Description: return one tuple `(ifid, primary, sorted ipset, netmask)` per interface.

    Errors: none.

    Common cases: a program finding its own address to bind or to tell a peer.

    Model details: the list is ordered LO first, then ETH by number, and each ipset is a
    sorted tuple, so the answer is deterministic. Interfaces never change in this model.

    Formal:
        premises: ts(tid) = RUN
        transition: h --Lh_call(tid, getifaddrs())--> h'
        after: h' = h with {ts(tid) := RET(OK [(ifid, primary, sorted ipset, netmask) for each
          interface of h.ifds, LO first, then ETH by number])_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(rows), "getifaddrs")
