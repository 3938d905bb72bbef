"""getsockopt(fd, opt) — docs/rules.md#getsockopt_1."""

from __future__ import annotations

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import ret, sock
from udpsem.hosts.calls import GetSockOpt
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Arch, Ok, SockOpt


@rule("getsockopt_1", call="getsockopt", category="succeed", trigger="call",
      summary="return the value of a boolean socket option")
def getsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Host | None:
    """Description: answer the socket's SO_REUSEADDR or SO_BSDCOMPAT flag.

    Errors: none.

    Common cases: a library checking whether address reuse is on.

    Model details: on linux SO_BSDCOMPAT always reads False: the option is obsolete, so
    setting it is accepted and ignored. Other architectures return the stored flag.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); b = s.f.reuseaddr for SO_REUSEADDR; for
          SO_BSDCOMPAT b = F on linux, else s.f.bsdcompat
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK b)_dsch}
        changes: ts(tid)
    """
    s = sock(h, call.fd)
    if s is None:
        return None
    if call.opt == SockOpt.SO_REUSEADDR:
        value = s.f.reuseaddr
    else:
        value = s.f.bsdcompat and ctx.consts.arch != Arch.LINUX
    return ret(ctx, h, tid, Ok(value), "getsockopt")
