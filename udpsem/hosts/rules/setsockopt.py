"""setsockopt(fd, opt, b) — docs/rules.md#setsockopt_1."""

from __future__ import annotations

from dataclasses import replace

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import replace_sock, ret, sock
from udpsem.hosts.calls import SetSockOpt
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Ok, SockOpt


@rule("setsockopt_1", call="setsockopt", category="succeed", trigger="call",
      summary="set a boolean socket option")
def setsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Host | None:
    """Description: store the new value of SO_REUSEADDR or SO_BSDCOMPAT in the socket's
    flags.

    Errors: none.

    Common cases: a server sets SO_REUSEADDR before bind so that it can share a port.

    Model details: SO_REUSEADDR affects only bind conflicts; SO_BSDCOMPAT is stored but
    never changes behaviour (and reads back False on linux).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd)
        transition: h --Lh_call(tid, setsockopt(fd, opt, b))--> h'
        after: h' = h with {s := s with {f := s.f with {opt := b}}; ts(tid) := RET(OK ())_dsch}
        changes: s.f, ts(tid)
    """
    s = sock(h, call.fd)
    if s is None:
        return None
    if call.opt == SockOpt.SO_REUSEADDR:
        f = replace(s.f, reuseaddr=call.value)
    else:
        f = replace(s.f, bsdcompat=call.value)
    return ret(ctx, replace_sock(h, replace(s, f=f)), tid, Ok(None), "setsockopt")
