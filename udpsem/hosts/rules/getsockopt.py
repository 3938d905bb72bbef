"""getsockopt(fd, opt) — docs/rules.md#getsockopt_1."""

from __future__ import annotations

from typing import Any

from udpsem.base.registry import rule
from udpsem.hosts.auxiliary import rcvbuf_of, ret, sock
from udpsem.hosts.calls import GetSockOpt
from udpsem.hosts.state import Host, RuleCtx
from udpsem.hosts.values import TID, Arch, Ok, SockOpt
from udpsem.network.messages import IP_DEFAULT_TTL


def _getsockopt_1_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_1: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_REUSEADDR, SockOpt.SO_BSDCOMPAT):
        return None
    if call.opt == SockOpt.SO_REUSEADDR:
        value = s.f.reuseaddr
    else:
        value = s.f.bsdcompat and ctx.consts.arch != Arch.LINUX
    return value


@rule("getsockopt_1", call="getsockopt", category="succeed", trigger="call",
      summary="return the value of a boolean socket option", guard=_getsockopt_1_guard)
def getsockopt_1(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, value: Any) -> Host:
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
    return ret(ctx, h, tid, Ok(value), "getsockopt")


# Linux options (Linux 6.18, by experiment) ---------------------------------------------------

def _getsockopt_2_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_2: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_BROADCAST, SockOpt.IP_RECVERR):
        return None
    v = s.f.broadcast if call.opt == SockOpt.SO_BROADCAST else s.f.recverr
    return v


@rule("getsockopt_2", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_BROADCAST or IP_RECVERR [Linux 6.18, experiment]",
      guard=_getsockopt_2_guard)
def getsockopt_2(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, v: Any) -> Host:
    """Description: answer whether the socket may send to broadcast addresses.

    Errors: none.

    Common cases: a discovery library checking its socket before broadcasting.

    Model details: provenance: Linux 6.18, experiment (reads back what setsockopt_2 set;
    off on a new socket).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_BROADCAST, IP_RECVERR}
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK s.f.broadcast or s.f.recverr)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(v), "getsockopt")


def _getsockopt_3_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_3: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO):
        return None
    return (s.rcvtimeo if call.opt == SockOpt.SO_RCVTIMEO else s.sndtimeo,)  # (None: no timeout)


@rule("getsockopt_3", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_RCVTIMEO or SO_SNDTIMEO in µs, as Linux rounded it [Linux 6.18, experiment]",
      guard=_getsockopt_3_guard)
def getsockopt_3(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's receive or send timeout in microseconds; 0 means
    none.

    Errors: none.

    Common cases: saving a socket's timeout before changing it.

    Model details: provenance: Linux 6.18, experiment — the value reads back rounded up to
    whole jiffies (1 µs reads 4000 with HZ = 250), and a zero timeout (from a negative
    setting, which makes calls give up at once) also reads 0.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_RCVTIMEO, SO_SNDTIMEO}; t =
          s.rcvtimeo or s.sndtimeo
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK (0 if t = None else t / 1000))_dsch}
        changes: ts(tid)
    """
    (t,) = w
    return ret(ctx, h, tid, Ok(0 if t is None else t // 1000), "getsockopt")


def _getsockopt_4_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_4: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_RCVBUF:
        return None
    return s


@rule("getsockopt_4", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_RCVBUF: the receive-buffer bound in bytes (None: unbounded) [Linux 6.18, experiment]",
      guard=_getsockopt_4_guard)
def getsockopt_4(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, s: Any) -> Host:
    """Description: answer the socket's receive-buffer size: what SO_RCVBUF set (doubled
    and clamped), else the host's default.

    Errors: none.

    Common cases: a program checking how much buffering the kernel gave it.

    Model details: provenance: Linux 6.18, experiment (212992 by default). On a host whose
    RMEM_DEFAULT constant is None (the paper's unbounded queues, the model's default) a
    socket without SO_RCVBUF answers None.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_RCVBUF
        transition: h --Lh_call(tid, getsockopt(fd, SO_RCVBUF))--> h'
        after: h' = h with {ts(tid) := RET(OK rcvbuf_of(s))_dsch} (s.rcvbuf, else
          RMEM_DEFAULT, possibly None)
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(rcvbuf_of(ctx.consts, s)), "getsockopt")


def _getsockopt_5_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_5: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_SELECT_ERR_QUEUE:
        return None
    return s


@rule("getsockopt_5", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_SELECT_ERR_QUEUE [Linux 6.18, experiment]", guard=_getsockopt_5_guard)
def getsockopt_5(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, s: Any) -> Host:
    """Description: answer whether errors mark the socket exceptional (setsockopt_5).

    Errors: none.

    Common cases: a library checking a socket it was handed.

    Model details: provenance: Linux 6.18, experiment (off on a new socket; reads back what
    was set, as a boolean).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SELECT_ERR_QUEUE
        transition: h --Lh_call(tid, getsockopt(fd, SO_SELECT_ERR_QUEUE))--> h'
        after: h' = h with {ts(tid) := RET(OK s.f.select_err_queue)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(s.f.select_err_queue), "getsockopt")


def _getsockopt_6_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_6: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.SO_SNDBUF:
        return None
    v = s.sndbuf if s.sndbuf is not None else ctx.consts.wmem_default
    return (v,)  # (a 1-tuple: v is None when unbounded)


@rule("getsockopt_6", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_SNDBUF: the send-buffer bound in bytes (None: unbounded) [Linux 6.18, experiment]",
      guard=_getsockopt_6_guard)
def getsockopt_6(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, w: Any) -> Host:
    """Description: answer the socket's send-buffer size: what SO_SNDBUF set (doubled and
    clamped), else the host's default.

    Errors: none.

    Common cases: a program checking how much it may send before the kernel pushes back.

    Model details: provenance: Linux 6.18, experiment (212992 by default,
    net.core.wmem_default). On a host whose WMEM_DEFAULT constant is None (the model's
    default) a socket without SO_SNDBUF answers None.

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = SO_SNDBUF
        transition: h --Lh_call(tid, getsockopt(fd, SO_SNDBUF))--> h'
        after: h' = h with {ts(tid) := RET(OK (s.sndbuf, else WMEM_DEFAULT))_dsch}
        changes: ts(tid)
    """
    (v,) = w
    return ret(ctx, h, tid, Ok(v), "getsockopt")


_FLAG_OPTS = {SockOpt.SO_REUSEPORT: "reuseport", SockOpt.IP_FREEBIND: "freebind",
              SockOpt.SO_RXQ_OVFL: "rxq_ovfl"}


def _getsockopt_7_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_7: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt not in _FLAG_OPTS:
        return None
    return s


@rule("getsockopt_7", call="getsockopt", category="succeed", trigger="call",
      summary="return SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL [Linux 6.18, experiment]",
      guard=_getsockopt_7_guard)
def getsockopt_7(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, s: Any) -> Host:
    """Description: answer whether the socket has SO_REUSEPORT, IP_FREEBIND or SO_RXQ_OVFL
    on.

    Errors: none.

    Common cases: a server library checking the socket it was handed before binding.

    Model details: provenance: Linux 6.18, experiment (off on a new socket; setting 5 reads
    back True).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt ∈ {SO_REUSEPORT, IP_FREEBIND, SO_RXQ_OVFL}
        transition: h --Lh_call(tid, getsockopt(fd, opt))--> h'
        after: h' = h with {ts(tid) := RET(OK the flag)_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(getattr(s.f, _FLAG_OPTS[call.opt])), "getsockopt")


def _getsockopt_9_guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
    """The guard of getsockopt_9: the witness the outcome needs, or None."""
    s = sock(h, call.fd)
    if s is None or call.opt != SockOpt.IP_TTL:
        return None
    return s


@rule("getsockopt_9", call="getsockopt", category="succeed", trigger="call",
      summary="return IP_TTL: the socket's time to live (64 by default) [Linux 6.18, experiment]",
      guard=_getsockopt_9_guard)
def getsockopt_9(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt, s: Any) -> Host:
    """Description: the time to live the socket's datagrams get.

    Errors: none.

    Common cases: reading the default before changing it.

    Model details: provenance: Linux 6.18, experiment (64, the host's
    net.ipv4.ip_default_ttl, until IP_TTL is set; -1 restores it).

    Formal:
        premises: ts(tid) = RUN; s = sock(h, fd); opt = IP_TTL
        transition: h --Lh_call(tid, getsockopt(fd, IP_TTL))--> h'
        after: h' = h with {ts(tid) := RET(OK (s.ttl, or 64 if None))_dsch}
        changes: ts(tid)
    """
    return ret(ctx, h, tid, Ok(IP_DEFAULT_TTL if s.ttl is None else s.ttl), "getsockopt")
