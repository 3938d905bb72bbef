"""The socket options as one table (docs/rules.md#setsockopt_1, #getsockopt_1).

Every option the LIB knows is a row: which setsockopt rule stores it and which getsockopt rule
reads it, how a value is stored in the socket (`store`), how the socket answers it (`read`),
and, for options that refuse some values, which values are accepted and which rule refuses
the others. The setsockopt and getsockopt rules keep their names and their docstrings (each
names the options of its group, and the four sections say what Linux does); their guards and
outcomes are the same few lines for every option (`setter_guard`, `getter_guard`, `stored`,
`answered`), so adding an option is a row here and, if it needs one, a rule whose docstring
says how it behaves.

A row's functions are pure: `store(consts, s, v)` is the socket after setsockopt(s, opt, v),
`read(consts, s)` the value getsockopt answers. The table is looked up by option only; its
order chooses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from udpsem.base.frozen import replace
from udpsem.hosts.auxiliary import jiffies_ns, rcvbuf_of, replace_sock, ret, sock
from udpsem.hosts.calls import GetSockOpt, SetSockOpt
from udpsem.hosts.state import (
    SOCK_MIN_RCVBUF,
    SOCK_MIN_SNDBUF,
    Flags,
    Host,
    HostConsts,
    RuleCtx,
    Sock,
)
from udpsem.hosts.values import PMTUDISC_OMIT, TID, Arch, Errno, Fail, Ok, SockOpt
from udpsem.network.messages import IP_DEFAULT_TTL

Store = Callable[[HostConsts, Sock, Any], Sock]
Read = Callable[[HostConsts, Sock], Any]


def _any_value(v: object) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Option:
    """One socket option: the rule that sets it and the rule that reads it, how it is stored
    and read, and (`accepts`, `refused_by`) which values setsockopt refuses with EINVAL and by
    which rule (None: every value of the option's type is taken)."""

    opt: SockOpt
    set_rule: str
    get_rule: str
    store: Store
    read: Read
    accepts: Callable[[object], bool] = _any_value
    refused_by: str | None = None
    # Read only (IP_MTU): setsockopt is refused by `set_rule` (ENOPROTOOPT), and `get_rule`
    # reads the host, not the socket alone, so its guard is its own (the row's store and
    # read are not used)
    read_only: bool = False


def _flag(name: str) -> tuple[Store, Read]:
    """A boolean kept in the socket's flags `s.f.<name>` (any non-zero value is on)."""

    def store(consts: HostConsts, s: Sock, v: Any) -> Sock:
        f: Flags = replace(s.f, **{name: bool(v)})
        return replace(s, f=f)

    def read(consts: HostConsts, s: Sock) -> Any:
        return getattr(s.f, name)

    return store, read


def _bsdcompat_read(consts: HostConsts, s: Sock) -> Any:
    # Obsolete on Linux: setting it is accepted and ignored, it reads False.
    return s.f.bsdcompat and consts.arch != Arch.LINUX


def _rcvtimeo_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, rcvtimeo=jiffies_ns(consts, int(v)))


def _sndtimeo_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, sndtimeo=jiffies_ns(consts, int(v)))


def _us(t: int | None) -> int:
    """A stored timeout (ns, None: none) as getsockopt answers it, in µs (0: none)."""
    return 0 if t is None else t // 1000


def _rcvtimeo_read(consts: HostConsts, s: Sock) -> Any:
    return _us(s.rcvtimeo)


def _sndtimeo_read(consts: HostConsts, s: Sock) -> Any:
    return _us(s.sndtimeo)


def buffer_size(v: int, cap: int, least: int) -> int:
    """SO_RCVBUF / SO_SNDBUF as Linux stores a value `v`: clamped to `cap` (a negative value
    is taken as unsigned, so as the cap), doubled, and at least `least` [L: experiment]."""
    v = cap if v < 0 else min(v, cap)
    return max(2 * v, least)


def _rcvbuf_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, rcvbuf=buffer_size(int(v), consts.rmem_max, SOCK_MIN_RCVBUF))


def _rcvbuf_read(consts: HostConsts, s: Sock) -> Any:
    return rcvbuf_of(consts, s)


def _sndbuf_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, sndbuf=buffer_size(int(v), consts.wmem_max, SOCK_MIN_SNDBUF))


def _sndbuf_read(consts: HostConsts, s: Sock) -> Any:
    return s.sndbuf if s.sndbuf is not None else consts.wmem_default


def ttl_ok(v: object) -> bool:
    """An IP_TTL value Linux takes: 1..255, or -1 for the default [L: experiment]."""
    return isinstance(v, int) and not isinstance(v, bool) and (v == -1 or 1 <= v <= 255)


def _ttl_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, ttl=None if v == -1 else int(v))


def _ttl_read(consts: HostConsts, s: Sock) -> Any:
    return IP_DEFAULT_TTL if s.ttl is None else s.ttl


def pmtudisc_ok(v: object) -> bool:
    """An IP_MTU_DISCOVER value Linux takes: PMTUDISC_DONT .. PMTUDISC_OMIT, 0..5
    [L: experiment: -1, 6 and 2^31 - 1 gave EINVAL]."""
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= PMTUDISC_OMIT


def _pmtudisc_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    return replace(s, pmtudisc=int(v))


def _pmtudisc_read(consts: HostConsts, s: Sock) -> Any:
    return s.pmtudisc


def _unused_store(consts: HostConsts, s: Sock, v: Any) -> Sock:
    raise AssertionError("a read-only option is never stored")


def _unused_read(consts: HostConsts, s: Sock) -> Any:
    raise AssertionError("a read-only option is read by its own rule")


def _row(opt: SockOpt, n: int, store: Store, read: Read, accepts: Callable[[object], bool]
         = _any_value, refused_by: str | None = None) -> tuple[SockOpt, Option]:
    return opt, Option(opt, f"setsockopt_{n}", f"getsockopt_{n}", store, read, accepts,
                       refused_by)


OPTIONS: dict[SockOpt, Option] = dict((
    # the paper's two flags: setsockopt_1 / getsockopt_1
    _row(SockOpt.SO_REUSEADDR, 1, *_flag("reuseaddr")),
    _row(SockOpt.SO_BSDCOMPAT, 1, _flag("bsdcompat")[0], _bsdcompat_read),
    # Linux options, each group determined by experiment on Linux 6.18
    _row(SockOpt.SO_BROADCAST, 2, *_flag("broadcast")),
    _row(SockOpt.IP_RECVERR, 2, *_flag("recverr")),
    _row(SockOpt.SO_RCVTIMEO, 3, _rcvtimeo_store, _rcvtimeo_read),
    _row(SockOpt.SO_SNDTIMEO, 3, _sndtimeo_store, _sndtimeo_read),
    _row(SockOpt.SO_RCVBUF, 4, _rcvbuf_store, _rcvbuf_read),
    _row(SockOpt.SO_SELECT_ERR_QUEUE, 5, *_flag("select_err_queue")),
    _row(SockOpt.SO_SNDBUF, 6, _sndbuf_store, _sndbuf_read),
    _row(SockOpt.SO_REUSEPORT, 7, *_flag("reuseport")),
    _row(SockOpt.IP_FREEBIND, 7, *_flag("freebind")),
    _row(SockOpt.SO_RXQ_OVFL, 7, *_flag("rxq_ovfl")),
    # (8 is not used: the numbers are never reused)
    _row(SockOpt.IP_TTL, 9, _ttl_store, _ttl_read, ttl_ok, "setsockopt_10"),
    _row(SockOpt.IP_MTU_DISCOVER, 11, _pmtudisc_store, _pmtudisc_read, pmtudisc_ok,
         "setsockopt_12"),
    # read only: getsockopt_12 answers a connected socket, getsockopt_13 (ENOTCONN) another
    (SockOpt.IP_MTU, Option(SockOpt.IP_MTU, "setsockopt_13", "getsockopt_12", _unused_store,
                            _unused_read, read_only=True)),
))
"""Every option of the LIB (a test checks that each SockOpt has its row)."""


# The shared guards and outcomes -----------------------------------------------------------------

Guard = Callable[[RuleCtx, Host, TID, Any], Any]


def setter_guard(rule: str) -> Guard:
    """The guard of the setsockopt rule `rule`: the socket and the option's row when `opt` is
    one of the rule's options and the value is one it accepts."""

    def guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
        o = OPTIONS.get(call.opt)
        if o is None or o.set_rule != rule or o.read_only or not o.accepts(call.value):
            return None
        s = sock(h, call.fd)
        return None if s is None else (s, o)

    return guard


def read_only_guard(rule: str) -> Guard:
    """The guard of the setsockopt rule `rule` that refuses to set a read-only option
    (ENOPROTOOPT)."""

    def guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
        o = OPTIONS.get(call.opt)
        if o is None or not o.read_only or o.set_rule != rule:
            return None
        return None if sock(h, call.fd) is None else True

    return guard


def refuser_guard(rule: str) -> Guard:
    """The guard of the setsockopt rule `rule` that refuses the values an option does not
    accept (EINVAL)."""

    def guard(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt) -> Any:
        o = OPTIONS.get(call.opt)
        if o is None or o.refused_by != rule or o.accepts(call.value):
            return None
        return None if sock(h, call.fd) is None else True

    return guard


def getter_guard(rule: str) -> Guard:
    """The guard of the getsockopt rule `rule`: the answer (in a 1-tuple, as it may be None)
    when `opt` is one of the rule's options."""

    def guard(ctx: RuleCtx, h: Host, tid: TID, call: GetSockOpt) -> Any:
        o = OPTIONS.get(call.opt)
        if o is None or o.get_rule != rule or o.read_only:
            return None
        s = sock(h, call.fd)
        return None if s is None else (o.read(ctx.consts, s),)

    return guard


def stored(ctx: RuleCtx, h: Host, tid: TID, call: SetSockOpt, w: Any) -> Host:
    """setsockopt's outcome: the socket with the value stored, → OK ()."""
    s, o = w
    return ret(ctx, replace_sock(h, o.store(ctx.consts, s, call.value)), tid, Ok(None),
               "setsockopt")


def refused(ctx: RuleCtx, h: Host, tid: TID, e: Errno = Errno.EINVAL) -> Host:
    """setsockopt's outcome for a value the option refuses: → FAIL EINVAL (ENOPROTOOPT for a
    read-only option), nothing stored."""
    return ret(ctx, h, tid, Fail(e), "setsockopt")


def answered(ctx: RuleCtx, h: Host, tid: TID, w: Any) -> Host:
    """getsockopt's outcome: → OK the value the guard read."""
    (v,) = w
    return ret(ctx, h, tid, Ok(v), "getsockopt")
