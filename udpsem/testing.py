"""Hypothesis strategies for udpsem: well-formed hosts, LIB calls, messages, constants, time.

Everything here is exported for users who want to property-test their own rules, programs or
invariants against the model:

* `host_consts()`, `timings()`, `nows()`: the constants a host never changes, the timing
  parameters, and the current time (ns).
* `interface_sets()`: LO plus up to three ETH interfaces with disjoint addresses.
* `host_cases()`: a `HostCase` (consts, timing, now, host) whose host satisfies `host_ok`
  but is otherwise arbitrary — not only reachable: sockets in every shape (unbound, bound,
  wildcard, connected, orphans), pending errors, receive queues, threads in every state with
  valid timers, empty, partly filled and full out-queues, several interfaces, and exiting
  programs (one EXIT thread, the rest ZOMBIE).
* `calls(case)`: well-typed LIB calls, with fds drawn from used and unused ones and addresses
  drawn from the host's own, loopback, remote, broadcast and martian ones.
* `messages(case)`: `msg_ok` UDP and ICMP datagrams, to own addresses and others, with ports
  and quotes that often match the host's sockets.
* `durations_us()`: LIB durations in µs (delay, select timeouts, socket timeouts), from
  negative (EINVAL) to the largest the LIB takes (`LIB_INT_MAX`), often ones whose deadline
  reaches or passes `NEVER` (the clock's end, where the model saturates them).
* `fault_settings(hosts, horizon)`: fault settings with disconnect windows that overlap,
  touch, nest or never end, and crashes, also inside windows and twice for one host.
* `outcomes(outcome, rnd)`: every successor of a (possibly branching) rule outcome, or a
  bounded sample (first, last and a few drawn options) of a Branch with many options.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

try:
    from hypothesis import strategies as st
except ImportError as e:  # pragma: no cover - only without the extra
    raise ImportError("udpsem.testing needs Hypothesis: pip install 'udpsem[testing]'") from e

from udpsem.base.choice import Branch
from udpsem.base.time import LAST, MS, NEVER, S
from udpsem.hosts import calls as C
from udpsem.hosts.auxiliary import bindable_bcast, freebindable, full, own, refs
from udpsem.hosts.invariants import call_errors
from udpsem.hosts.state import (
    DELAY2,
    EXIT,
    LINUX_RMEM_DEFAULT,
    LINUX_WMEM_DEFAULT,
    LO_INTERFACE,
    RUN,
    SOCK_MIN_RCVBUF,
    SOCK_MIN_SNDBUF,
    ZOMBIE,
    ErrEntry,
    Flags,
    Host,
    HostConsts,
    Interface,
    Poll2,
    Print2,
    RecvFrom2,
    Ret,
    RuleCtx,
    Select2,
    SendTo2,
    Sock,
    ThreadEntry,
    Timing,
)
from udpsem.hosts.values import (
    BOOL_OPTS,
    BROADCAST,
    FD,
    IP,
    LOCALHOST,
    POLL_ALL,
    POLLERR,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    Arch,
    Errno,
    Fail,
    IcmpGen,
    Ok,
    Port,
    Shut,
    SockOpt,
    ip,
    is_loopback,
    is_martian,
)
from udpsem.network.faults import Crash, Faults, Window
from udpsem.network.messages import ICMP, UDP, IcmpKind, IPMsg

T = TypeVar("T")

# Interesting values --------------------------------------------------------------------------

REMOTE_IPS: tuple[IP, ...] = (ip("192.168.0.11"), ip("192.168.0.14"), ip("10.0.0.7"),
                              ip("8.8.8.8"), ip("172.16.5.4"))
MARTIAN_IPS: tuple[IP, ...] = (0, ip("0.1.2.3"), ip("224.0.0.1"), ip("240.0.0.9"), BROADCAST)
LOOPBACK_IPS: tuple[IP, ...] = (LOCALHOST, ip("127.0.0.2"), ip("127.255.255.254"))
PORTS: tuple[Port, ...] = (1, 53, 1023, 1024, 7658, 32768, 40000, 49152, 60999, 65535)


_BOOL = st.booleans()
_IP32 = st.integers(0, 2**32 - 1)
_SANE_IP = st.integers(ip("1.0.0.0"), ip("223.255.255.255"))
_ANY_PORT = st.integers(1, 65535)


def _coin(draw: st.DrawFn) -> bool:
    """A boolean draw."""
    return bool(draw(_BOOL))


def _pick(draw: st.DrawFn, seq: Any) -> Any:
    """One element of a non-empty sequence (cheaper than building a sampled_from)."""
    return seq[draw(st.integers(0, len(seq) - 1))]


def _maybe(draw: st.DrawFn, f: Callable[[], T]) -> T | None:
    return f() if _coin(draw) else None


def _draw_ip(draw: st.DrawFn, pool: list[IP]) -> IP:
    return _pick(draw, pool) if draw(st.integers(0, 3)) else draw(_IP32)


def _draw_port(draw: st.DrawFn, extra: tuple[Port, ...] = ()) -> Port:
    r = draw(st.integers(0, 3))
    if r == 0:
        return draw(_ANY_PORT)
    if extra and r == 1:
        return _pick(draw, extra)  # type: ignore[no-any-return]
    return _pick(draw, PORTS)  # type: ignore[no-any-return]


def _draw_port_opt(draw: st.DrawFn, extra: tuple[Port, ...] = ()) -> Port | None:
    return None if draw(st.integers(0, 2)) == 0 else _draw_port(draw, extra)


_SHORT = st.binary(max_size=6)


@dataclass(frozen=True, slots=True)
class HostCase:
    """A generated host with everything needed to run rules on it."""

    consts: HostConsts
    timing: Timing
    now: int
    host: Host

    @property
    def ctx(self) -> RuleCtx:
        return RuleCtx(self.consts, self.timing, self.now)


# Constants, timing, time ---------------------------------------------------------------------

_EPHS = (None, None, None, (40000, 40000), (40000, 40001), (40000, 40003), (1020, 1030))
_CONSOLES = ((0, 1, 2), (0, 1, 2), (), (0, 1, 2, 5))
_ARCHS = tuple(Arch)
# Receive-buffer bounds: unbounded (the paper), Linux's default, and tiny ones that fill up.
_RMEMS = (None, None, LINUX_RMEM_DEFAULT, SOCK_MIN_RCVBUF, 3000)
_GENS = tuple(IcmpGen)


@st.composite
def host_consts(draw: st.DrawFn, arch: Arch | None = None) -> HostConsts:
    """Host constants: arch, privilege, ephemeral range (often tiny, to exhaust it), console
    fds, OPEN_MAX (sometimes small), OQ_CAP, the badmem/intr switches, ICMP_GEN and the
    error-order mode."""
    a = arch if arch is not None else _pick(draw, _ARCHS)
    console = _pick(draw, _CONSOLES)
    open_max = 1024 if _coin(draw) else len(console) + draw(st.integers(0, 6))
    oq_cap = None if _coin(draw) else draw(st.integers(1, 4))
    return HostConsts(
        arch=a, priv=_coin(draw), eph=_pick(draw, _EPHS), console=console, open_max=open_max,
        oq_cap=oq_cap, allow_badmem=_coin(draw), allow_intr=_coin(draw),
        icmp_gen=_pick(draw, _GENS), linux_error_order=_coin(draw),
        rmem_default=_pick(draw, _RMEMS), hz=_pick(draw, (250, 250, 100, 1000)),
        loopback_sync=_coin(draw), wmem_default=_pick(draw, (None, LINUX_WMEM_DEFAULT)),
        icmp_quote=_coin(draw), neigh=_coin(draw))


@st.composite
def timings(draw: st.DrawFn) -> Timing:
    """The default timing, or arbitrary positive parameters with dpropmin ≤ dpropmax."""
    if _coin(draw):
        return Timing()
    lo = draw(st.integers(0, 50 * MS))
    small = st.integers(1, 2 * MS)
    return Timing(dpropmin=lo, dpropmax=lo + draw(st.integers(0, 200 * MS)),
                  dsch=draw(small), doq=draw(small), dstore=draw(small), dthread=draw(small))


def nows() -> st.SearchStrategy[int]:
    """The current time in ns: 0, up to 10 s, or up to about 11 days."""
    return st.one_of(st.just(0), st.integers(0, 10 * S), st.integers(0, 10**15))


_NOWS = nows()


# Interfaces ----------------------------------------------------------------------------------

_ETH_POOL = (ip("192.168.0.14"), ip("192.168.0.11"), ip("10.0.0.1"), ip("10.0.0.2"),
             ip("172.16.0.1"), ip("192.168.1.255"), ip("10.1.2.3"))
_MASKS = (24, 24, 16, 30, 31, 32, 8, 0)


@st.composite
def interface_sets(draw: st.DrawFn) -> tuple[Interface, ...]:
    """LO plus 0..3 ETH interfaces with distinct ifids and disjoint, sane address sets, some
    of them down."""
    n = draw(st.integers(0, 3))
    used: set[IP] = set()
    ifds = [LO_INTERFACE]
    numbers: set[int] = set()
    for _ in range(n):
        numbers.add(draw(st.integers(0, 4)))
    for k in sorted(numbers):
        addrs: list[IP] = []
        for _ in range(draw(st.integers(1, 3))):
            a = _pick(draw, _ETH_POOL) if _coin(draw) else draw(_SANE_IP)
            if a not in used and a not in addrs and not is_loopback(a) and not is_martian(a):
                addrs.append(a)
        if not addrs:
            continue
        used.update(addrs)
        primary = _pick(draw, addrs)
        mask = _pick(draw, _MASKS) if _coin(draw) else draw(st.integers(0, 32))
        # One interface in four is administratively down (host_ifdown; routes gone).
        up = draw(st.integers(0, 3)) > 0
        # Path MTU (issue 12): sometimes a smaller or a jumbo link, and a path MTU learned
        # from a fragmentation-needed for an address of the pool
        mtu = _pick(draw, (None, None, None, 1000, 9000))
        link = 1500 if mtu is None else mtu
        pmtu: tuple[tuple[IP, int], ...] = ()
        if _coin(draw) and _coin(draw):
            pmtu = ((_pick(draw, _ETH_POOL), draw(st.integers(552, link - 1))),)
        ifds.append(Interface(("eth", k), tuple(sorted(addrs)), primary, mask, up, mtu, pmtu))
    return tuple(ifds)


def _ip_pool(ifds: tuple[Interface, ...]) -> list[IP]:
    own_ips = sorted({a for i in ifds for a in i.ipset})
    bcasts = []
    for i in ifds:
        if not i.is_lo and i.netmask <= 30:
            bcasts.append(i.primary | ((1 << (32 - i.netmask)) - 1))
    return [*own_ips, *LOOPBACK_IPS, *REMOTE_IPS, *MARTIAN_IPS, *bcasts]


def _local_ips(ifds: tuple[Interface, ...]) -> list[IP]:
    return sorted({a for i in ifds for a in i.ipset} | set(LOOPBACK_IPS))


def ips_for(ifds: tuple[Interface, ...]) -> st.SearchStrategy[IP]:
    """Addresses that matter to a host with these interfaces (own, loopback, remote,
    martian, subnet broadcasts), plus arbitrary ones."""
    pool = _ip_pool(ifds)
    return st.composite(lambda draw: _draw_ip(draw, pool))()


def ports() -> st.SearchStrategy[Port]:
    """Interesting ports (privileged, ephemeral edges, the heartbeat's) and arbitrary ones."""
    return st.composite(lambda draw: _draw_port(draw))()


_BIG = (b"x" * 9216, b"x" * 9217, b"x" * 65507, b"x" * 65508)


def _draw_payload(draw: st.DrawFn) -> bytes:
    """Mostly short payloads; sometimes at or just over the freebsd and UDP limits."""
    if draw(st.integers(0, 9)) == 0:
        return _pick(draw, _BIG)  # type: ignore[no-any-return]
    return draw(_SHORT)


def payloads() -> st.SearchStrategy[bytes]:
    return st.composite(_draw_payload)()


# Results (for RET states) --------------------------------------------------------------------

_FD = st.integers(0, 20)
_RET_CALLS = tuple(sorted(c for c in C.CALL_NAMES if c != "exit"))


def _ok_value(draw: st.DrawFn, call: str) -> Any:
    def ipo() -> IP | None:
        return None if _coin(draw) else int(draw(_IP32))

    def po() -> Port | None:
        return None if _coin(draw) else int(draw(_ANY_PORT))

    def fdl() -> tuple[FD, ...]:
        return tuple(int(draw(_FD)) for _ in range(draw(st.integers(0, 3))))

    if call in ("socket", "create"):
        return draw(_FD)
    if call in ("getsockname", "getpeername"):
        return (ipo(), po())
    if call == "recvfrom":
        r = draw(st.integers(0, 3))
        if r == 0:
            return (None, None, b"") if _coin(draw) else (None, None, b"", False)
        if r == 1:
            if _coin(draw):
                e = _pick(draw, (Errno.ECONNREFUSED, Errno.EHOSTUNREACH, Errno.ENETUNREACH))
                if _coin(draw):  # with a buffer: payload, MSG_TRUNC, extended error
                    ee = (e, 2, 3, _pick(draw, (1, 3)), 0, 0, _pick(draw, (None, LOCALHOST)))
                    return (draw(_IP32), po(), draw(_SHORT), _coin(draw), ee)
                return (draw(_IP32), po(), e)
            return (draw(_IP32), po(), draw(_SHORT), _coin(draw))
        if r == 2 and _coin(draw):
            return draw(_SHORT)  # recv / read: the data alone
        if r == 2 and _coin(draw):  # with the SO_RXQ_OVFL drop count
            return (draw(_IP32), po(), draw(_SHORT), _coin(draw), _pick(draw, (0, 3)))
        return (draw(_IP32), po(), draw(_SHORT))
    if call == "read":
        return b""
    if call == "geterr":
        return _pick(draw, (None, Errno.ECONNREFUSED, Errno.EHOSTUNREACH, Errno.ENETUNREACH))
    if call == "getsockopt":
        return _pick(draw, (True, False, None, 0, 4000, LINUX_RMEM_DEFAULT))
    if call == "fionread":
        return draw(st.integers(0, 65507))
    if call == "select":
        return (fdl(), fdl(), fdl()) if _coin(draw) else (fdl(), fdl())
    if call == "poll":
        return tuple(_pick(draw, _POLL_REVENTS) for _ in range(draw(st.integers(0, 3))))
    if call == "port_of_int":
        return draw(_ANY_PORT)
    if call == "ip_of_string":
        return draw(_IP32)
    if call == "getifaddrs":
        return ((LO_INTERFACE.ifid, LOCALHOST, (LOCALHOST,), 8),)
    return None


def _draw_ret(draw: st.DrawFn) -> Ret:
    call = _pick(draw, _RET_CALLS)
    errs = sorted(call_errors().get(call, frozenset()))
    if errs and _coin(draw):
        return Ret(Fail(_pick(draw, errs)), call)
    return Ret(Ok(_ok_value(draw, call)), call)


def results() -> st.SearchStrategy[Ret]:
    """A well-typed `RET v` for some call (T2): OK of its result type or one of its errors."""
    return st.composite(_draw_ret)()


# Durations -----------------------------------------------------------------------------------

# LIB durations in µs worth hitting: EINVAL, zero, one, the heartbeat's 2.5 s, 31.7 years (exact),
# 5·10^15 (158 years: past NEVER = 2^62 ns from any now), the µs that land exactly on NEVER
# from now = 904 ns (2^62 = 4611686018427387904), and the largest the LIB takes.
_DURATIONS_US = (-1, 0, 1, 2_500_000, 10**15, 5 * 10**15, 4_611_686_018_427_387,
                 C.LIB_INT_MAX)


def durations_us() -> st.SearchStrategy[int]:
    """A LIB duration in µs: an interesting one, a short one (-1 s .. 1000 s), or any up to
    `LIB_INT_MAX` (the largest a program may pass)."""
    return st.one_of(st.sampled_from(_DURATIONS_US), st.integers(-10**6, 10**9),
                     st.integers(0, C.LIB_INT_MAX))


_DURATIONS = durations_us()


# Faults --------------------------------------------------------------------------------------

@st.composite
def fault_settings(draw: st.DrawFn, hosts: tuple[str, ...], horizon: int,
                   crashes: bool = True) -> Faults:
    """A fault setting for `hosts` over [0, horizon]: up to four disconnect windows per
    host, which often overlap, touch, nest or never end (the schedule is their union,
    docs/model.md#faults), and crashes (`crashes`), also inside a window or twice for one
    host; sometimes loss and duplication."""
    grid = max(1, horizon // 20)  # window edges on a coarse grid, so that they often meet

    def t() -> int:
        return draw(st.integers(0, 20)) * grid if _coin(draw) else draw(st.integers(0, horizon))

    windows: list[Window] = []
    for h in hosts:
        for _ in range(draw(st.integers(0, 4))):
            start = t()
            if draw(st.integers(0, 5)) == 0:
                windows.append(Window(h, start, None))
                continue
            end = start + max(1, t() // 2)
            windows.append(Window(h, start, end))
            if _coin(draw):  # one that overlaps, touches or nests in it
                s2 = _pick(draw, (start, end, (start + end) // 2, max(0, start - grid)))
                windows.append(Window(h, s2, s2 + max(1, t() // 2)))
    crash_list: list[Crash] = []
    if crashes:
        for h in hosts:
            for _ in range(draw(st.integers(0, 2)) if draw(st.integers(0, 2)) == 0 else 0):
                inside = [w for w in windows if w.host == h]
                at = _pick(draw, inside).start + grid // 2 if inside and _coin(draw) else t()
                crash_list.append(Crash(h, at))
    loss = _pick(draw, (0.0, 0.0, 0.1, 0.3))
    dup = _pick(draw, (0.0, 0.0, 0.2))
    return Faults(loss=loss, dup=dup, max_copies=3, disconnects=tuple(windows),
                  crashes=tuple(crash_list))


# Hosts ---------------------------------------------------------------------------------------

def _deadline(draw: st.DrawFn, now: int, span: int) -> int:
    """A deadline in [now, now + span], often exactly now (a timer at 0) or at the bound."""
    r = draw(st.integers(0, 3))
    if r == 0:
        return now
    if r == 1:
        return now + span
    return now + draw(st.integers(0, span))


def _long_deadline(draw: st.DrawFn, now: int) -> int:
    """A sharp LIB timer (DELAY2, SELECT2): within 3 s, or saturated at the clock's last
    instant (a duration that reached past NEVER, `deadline_after`)."""
    return LAST if draw(st.integers(0, 4)) == 0 else _deadline(draw, now, 3 * S)


def _timeout_deadline(draw: st.DrawFn, now: int, timeo: int) -> int:
    """The deadline of a call blocked with socket timeout `timeo` (ns), saturated as
    `deadline_after` does."""
    return min(_deadline(draw, now, timeo), LAST)


def _draw_mq_msg(draw: st.DrawFn, locals_: list[IP]) -> IPMsg:
    """A datagram as receive queues hold them (S6): UDP, sane source, local destination."""
    r = draw(st.integers(0, 3))
    src = (_pick(draw, REMOTE_IPS) if r == 0 else _pick(draw, locals_) if r == 1
           else draw(_SANE_IP))
    return IPMsg(src, _pick(draw, locals_), UDP(_draw_port_opt(draw), _draw_port_opt(draw),
                                                draw(_SHORT)))


def _draw_socket(draw: st.DrawFn, fd: FD, pool: list[IP], locals_: list[IP],
                 eph: tuple[Port, ...], ifds: tuple[Interface, ...] = ()) -> Sock:
    is1 = _maybe(draw, lambda: _pick(draw, locals_))
    ps1 = _maybe(draw, lambda: _draw_port(draw, eph))
    is2 = ps2 = None
    if is1 is not None and ps1 is not None and _coin(draw):
        is2 = _draw_ip(draw, pool)
        ps2 = _draw_port_opt(draw)
    la = is1 is not None and _coin(draw)
    lp = ps1 is not None and _coin(draw)
    es = _pick(draw, (None, None, None, None, Errno.ECONNREFUSED, Errno.EHOSTUNREACH,
                      Errno.ENETUNREACH))
    n_mq = draw(st.integers(0, 3)) if _coin(draw) else 0
    mq = tuple(_draw_mq_msg(draw, locals_) for _ in range(n_mq))
    s = Sock(fd, is1, ps1, is2, ps2, es, Flags(_coin(draw), _coin(draw)), mq, (la, lp),
             False)
    if draw(st.integers(0, 2)) == 0:
        # The Linux state of issue 12: shutdown flags, SO_BROADCAST, timeouts, SO_RCVBUF.
        s = replace(s, shut=(_coin(draw), _coin(draw)),
                    f=replace(s.f, broadcast=_coin(draw), recverr=_coin(draw),
                              select_err_queue=_coin(draw), reuseport=_coin(draw),
                              freebind=_coin(draw)),
                    eq=tuple(_frag_info(draw, ErrEntry(_pick(draw, (Errno.ECONNREFUSED,
                                                                    Errno.EHOSTUNREACH,
                                                                    Errno.ENETUNREACH,
                                                                    Errno.EMSGSIZE)),
                                      _draw_ip(draw, pool), _draw_port_opt(draw),
                                      _pick(draw, (b"", b"abc", b"q" * 520)),
                                      _pick(draw, (None, *locals_[:1], *REMOTE_IPS[:1])),
                                      _pick(draw, tuple(IcmpKind))))
                             for _ in range(draw(st.integers(0, 2)))),
                    rcvtimeo=_pick(draw, _TIMEOS), sndtimeo=_pick(draw, _TIMEOS),
                    rcvbuf=_pick(draw, (None, SOCK_MIN_RCVBUF, 4608, LINUX_RMEM_DEFAULT)),
                    sndbuf=_pick(draw, (None, SOCK_MIN_SNDBUF, LINUX_RMEM_DEFAULT)),
                    ttl=_pick(draw, (None, None, 1, 2, 255)),
                    pmtudisc=_pick(draw, (1, 1, 0, 2, 3, 4, 5)))
        if _coin(draw):
            # SO_RXQ_OVFL state: a drop count and the stamps of the queued datagrams
            drops = _pick(draw, (0, 1, 3))
            s = replace(s, f=replace(s.f, rxq_ovfl=_coin(draw)), drops=drops)
            stamps = tuple(draw(st.integers(0, drops)) for _ in s.mq)
            if any(stamps):
                s = replace(s, mqd=stamps)
        if s.f.freebind and s.ps1 is not None and _coin(draw):
            # bound with IP_FREEBIND to an address the host lacks (bind_7): never connected
            away = [a for a in pool if freebindable(Host(ifds), a)]
            if away:
                s = replace(s, is1=_pick(draw, away), is2=None, ps2=None)
        elif s.ps1 is not None and _coin(draw):
            # bound to a broadcast or multicast address (bind_8), connected or not
            casts = [a for a in pool if bindable_bcast(Host(ifds), a)]
            if casts:
                s = replace(s, is1=_pick(draw, casts))
    return s


# poll event masks: none, single bits, the usual combinations, everything.
_POLL_EVENTS = (0, POLLIN, POLLOUT, POLLIN | POLLOUT, POLLERR, POLLNVAL, POLL_ALL, 0xFFFF)
# What poll can answer for an entry: masks of the POLL* bits only (not 0xFFFF).
_POLL_REVENTS = _POLL_EVENTS[:-1]


# Socket timeouts in ns: none, zero (give up at once), 20, 40 and 400 ms, and 5·10^15 µs (past
# NEVER), whole jiffies for HZ = 100, 250 and 1000 alike (multiples of 20 ms: of 10, 4, 1 ms).
_TIMEOS = (None, None, 0, 20_000_000, 40_000_000, 400_000_000, 5 * 10**18)


def _quad(s: Sock) -> tuple[IP | None, Port | None, IP | None, Port | None]:
    return (s.is1, s.ps1, s.is2, s.ps2)


_KINDS = ("run", "run", "ret", "sendto", "recvfrom", "select", "delay", "print", "poll")


def _draw_thread(draw: st.DrawFn, tid: int, kind: str, consts: HostConsts, timing: Timing,
                 now: int, pool: list[IP], locals_: list[IP],
                 socks: list[Sock]) -> ThreadEntry:
    bound = [s for s in socks if s.ps1 is not None]
    if kind in ("sendto", "recvfrom") and not bound:
        kind = "run"
    if kind == "recvfrom":
        s = _pick(draw, bound)
        maxlen = None if _coin(draw) else _pick(draw, (0, 1, 4, 100))
        dl = NEVER
        if s.rcvtimeo and _coin(draw):
            dl = _timeout_deadline(draw, now, s.rcvtimeo)
        via = "recvfrom" if maxlen is None or _coin(draw) else _pick(draw, ("recv", "read"))
        return ThreadEntry(tid, RecvFrom2(s.fd, maxlen, _coin(draw), via,
                                          via == "recvfrom" and _coin(draw),
                                          via != "read" and _coin(draw)), dl)
    if kind == "sendto":
        # a socket bound to an address the host lacks (IP_FREEBIND) has no route: it never
        # blocks in sendto
        routable = [s for s in bound
                    if s.is1 is None or s.is1 in locals_ or is_loopback(s.is1)]
        if not routable:
            return ThreadEntry(tid, RUN, NEVER)
        s = _pick(draw, routable)
        q = _quad(s)
        if _coin(draw):
            # The quad when it blocked may differ from the socket's now (connect/disconnect
            # since); it still had this port and a local (or no) address.
            is1 = _maybe(draw, lambda: _pick(draw, locals_))
            is2 = _maybe(draw, lambda: _draw_ip(draw, pool)) if is1 is not None else None
            q = (is1, s.ps1, is2, _draw_port_opt(draw) if is2 is not None else None)
        dest = _maybe(draw, lambda: (_draw_ip(draw, pool), _draw_port(draw)))
        if dest is None and q[2] is None:
            dest = (_draw_ip(draw, pool), _draw_port(draw))
        dl = NEVER
        if s.sndtimeo and _coin(draw):
            dl = _timeout_deadline(draw, now, s.sndtimeo)
        return ThreadEntry(tid, SendTo2(s.fd, dest, draw(_SHORT), q), dl)
    if kind == "select":
        fds = [s.fd for s in socks] + list(consts.console)
        if fds:
            rs = tuple(_pick(draw, fds) for _ in range(draw(st.integers(0, 3))))
            ws = tuple(_pick(draw, fds) for _ in range(draw(st.integers(0, 2))))
        else:
            rs = ws = ()
        xs = tuple(_pick(draw, fds) for _ in range(draw(st.integers(0, 2)))) if fds else ()
        dl = NEVER if _coin(draw) else _long_deadline(draw, now)
        return ThreadEntry(tid, Select2(rs, ws, xs if _coin(draw) else None), dl)
    if kind == "poll":
        # Any fd may be polled: sockets, console, unused, negative.
        cands = [s.fd for s in socks] + list(consts.console) + [-1, 13]
        ents = tuple((_pick(draw, cands), _pick(draw, _POLL_EVENTS))
                     for _ in range(draw(st.integers(0, 3))))
        dl = NEVER if _coin(draw) else _long_deadline(draw, now)
        # fds that named closed sockets when the poll was called (any polled fd may)
        closed0 = tuple(sorted({fd for fd, _ in ents if _coin(draw)})) if _coin(draw) else ()
        return ThreadEntry(tid, Poll2(ents, closed0), dl)
    if kind == "ret":
        return ThreadEntry(tid, _draw_ret(draw), _deadline(draw, now, timing.dsch))
    if kind == "delay":
        return ThreadEntry(tid, DELAY2, _long_deadline(draw, now))
    if kind == "print":
        return ThreadEntry(tid, Print2(_pick(draw, ("", "hello", "KURT down"))),
                           _deadline(draw, now, timing.dsch))
    return ThreadEntry(tid, RUN, NEVER)


def _quote(draw: st.DrawFn) -> bytes:
    """What an ICMP error quotes of the payload: nothing (the paper), or up to 520 bytes."""
    return _pick(draw, (b"", b"", b"req-1", b"z" * 520))  # type: ignore[no-any-return]


def _frag_mtu(draw: st.DrawFn, kind: IcmpKind) -> int | None:
    """A fragmentation-needed's next-hop MTU (none for the other kinds): below the minimum
    Linux accepts, a usual one, or one no smaller than Ethernet's."""
    if kind != IcmpKind.FRAG_NEEDED:
        return None
    return _pick(draw, (1000, 500, 1400, 1500, 9000, None))  # type: ignore[no-any-return]


def _frag_info(draw: st.DrawFn, ent: ErrEntry) -> ErrEntry:
    """An error-queue entry with a fragmentation-needed's MTU as its info when of that kind
    (as Linux's sock_extended_err.ee_info)."""
    if ent.kind != IcmpKind.FRAG_NEEDED:
        return ent
    return replace(ent, errno=Errno.EMSGSIZE, info=_pick(draw, (1000, 0, 576)))


def _draw_oq_msg(draw: st.DrawFn, pool: list[IP], locals_: list[IP],
                 socks: list[Sock]) -> IPMsg:
    """A datagram as out-queues hold them (Q1): msg_ok with a local source; often local
    (loopback delivery), often to or quoting a socket of this host."""
    src = _pick(draw, locals_)
    dst = _pick(draw, locals_) if _coin(draw) else _draw_ip(draw, pool)
    ports_ = tuple(sorted({p for s in socks for p in (s.ps1, s.ps2) if p is not None}))
    if draw(st.integers(0, 3)) == 0:
        kind = _pick(draw, tuple(IcmpKind))
        quads = [_quad(s) for s in socks if s.is1 is not None and s.is2 is not None]
        if quads and _coin(draw):
            i1, p1, i2, p2 = _pick(draw, quads)
            assert i1 is not None and i2 is not None
            return IPMsg(src, i1, ICMP(kind, i1, p1, i2, p2, _quote(draw),
                                       _frag_mtu(draw, kind)))
        body: UDP | ICMP = ICMP(kind, dst, _draw_port_opt(draw, ports_), src,
                                _draw_port_opt(draw, ports_), b"", _frag_mtu(draw, kind))
    else:
        body = UDP(_draw_port_opt(draw, ports_), _draw_port_opt(draw, ports_), draw(_SHORT))
    return IPMsg(src, dst, body, _pick(draw, _TTLS))


_CONSTS = host_consts()
_TIMINGS = timings()
_IFDS = interface_sets()


@st.composite
def host_cases(draw: st.DrawFn, consts: st.SearchStrategy[HostConsts] | None = None,
               min_run: int = 0) -> HostCase:
    """A well-formed (`host_ok`) host with its constants, timing and current time.

    `min_run` asks for at least that many RUN threads (callers of LIB); 0 also allows an
    exiting program (one EXIT thread, every other ZOMBIE).
    """
    k = draw(consts if consts is not None else _CONSTS)
    timing = draw(_TIMINGS)
    now = draw(_NOWS)
    ifds = draw(_IFDS)
    pool, locals_ = _ip_pool(ifds), _local_ips(ifds)

    # Sockets: fds distinct, not console, and within OPEN_MAX.
    room = max(0, k.open_max - len(set(k.console)))
    free_fds = [fd for fd in range(12) if fd not in k.console]
    fds: list[int] = []
    for _ in range(draw(st.integers(0, min(5, room)))):
        fd = _pick(draw, free_fds)
        if fd not in fds:
            fds.append(fd)
    lo, hi = k.eph_range
    eph = (lo, hi, lo + 1) if hi > lo else (lo,)
    socks = [_draw_socket(draw, fd, pool, locals_, eph, ifds) for fd in fds]

    # Threads.
    tids = sorted({draw(st.integers(0, 9)) for _ in range(draw(st.integers(1, 5)))})
    while len(tids) < min_run:
        tids.append(max(tids) + 1)
    exiting = min_run == 0 and draw(st.integers(0, 9)) == 0
    entries: list[ThreadEntry] = []
    if exiting:
        ex = _pick(draw, tids)
        for t in tids:
            if t == ex:
                entries.append(ThreadEntry(t, EXIT, _deadline(draw, now, timing.dsch)))
            else:
                entries.append(ThreadEntry(t, ZOMBIE, NEVER))
    else:
        for n, t in enumerate(tids):
            kind = "run" if n < min_run else _pick(draw, _KINDS)
            entries.append(_draw_thread(draw, t, kind, k, timing, now, pool, locals_, socks))
        # Orphans: a socket a blocked thread refers to may have been closed.
        h0 = Host(ifds, tuple(entries), tuple(socks))
        socks = [replace(s, cl=refs(h0, s.fd) and draw(st.integers(0, 2)) == 0)
                 for s in socks]

    # Out-queue: msg_ok messages with a local source; oqf = full(oq); often exactly full.
    cap = k.oq_cap
    max_len = 4 if cap is None else cap
    n_oq = draw(st.integers(0, max_len))
    if cap is not None and _coin(draw):
        n_oq = cap
    oq = tuple(_draw_oq_msg(draw, pool, locals_, socks) for _ in range(n_oq))
    oq_dl = NEVER if not oq else _deadline(draw, now, timing.doq)
    h = Host(ifds, tuple(entries), tuple(socks), oq, oq_dl, full(k, oq))
    return HostCase(k, timing, now, h)


# Calls ---------------------------------------------------------------------------------------

def _program(*_: Any) -> Generator[Any, Any, None]:
    """A thread program for generated `create` calls (it never runs at host level)."""
    yield C.socket()


_TEXTS = ("192.168.0.11", "127.0.0.1", "0.0.0.0", "1.2.3", "256.1.1.1", "a.b.c.d", "",
          "01.2.3.4", "255.255.255.255", " 1.2.3.4")
_INTS = (-1, 0, 1, 65535, 65536, C.LIB_INT_MIN, C.LIB_INT_MAX)
_TIMEOUTS = (None, None, 0, 1, 2_500_000, -1)
_CALL_KINDS = ("socket", "bind", "bind", "connect", "connect", "disconnect", "getsockname",
               "getpeername", "sendto", "sendto", "sendto", "sendto", "recvfrom", "recvfrom",
               "recvfrom", "close", "geterr", "getsockopt",
               "setsockopt", "close", "select", "select", "port_of_int", "ip_of_string",
               "getifaddrs", "create", "delay", "print_endline_flush", "exit",
               "shutdown", "fionread", "recvfrom", "setsockopt", "poll", "poll")
_OPTS = tuple(SockOpt)
_TTLS = (64, 64, 64, 1, 2, 255)  # IP_TTL: mostly the default, sometimes one that runs out
_SHUTS = tuple(Shut)


def _draw_call(draw: st.DrawFn, case: HostCase) -> C.Call:
    ifds = case.host.ifds
    pool = _ip_pool(ifds)
    sock_fds = [s.fd for s in case.host.s]
    console = list(case.consts.console)
    lo, hi = case.consts.eph_range
    sock_ports = tuple(sorted({s.ps1 for s in case.host.s if s.ps1 is not None} | {lo, hi}))

    def fd() -> FD:
        r = draw(st.integers(0, 9))
        if sock_fds and r < 7:
            return _pick(draw, sock_fds)  # type: ignore[no-any-return]
        if console and r < 6:
            return _pick(draw, console)  # type: ignore[no-any-return]
        return draw(st.integers(0, 30))

    def ipv() -> IP:
        return _draw_ip(draw, pool)

    kind = _pick(draw, _CALL_KINDS)
    if kind == "socket":
        return C.Socket()
    if kind == "bind":
        return C.Bind(fd(), _maybe(draw, ipv), _draw_port_opt(draw, sock_ports))
    if kind == "connect":
        return C.Connect(fd(), ipv(), _draw_port_opt(draw, sock_ports))
    if kind == "sendto":
        if draw(st.integers(0, 4)) == 0:
            alias: C.Call = _pick(draw, (C.send(fd(), _draw_payload(draw), _coin(draw)),
                                         C.write(fd(), _draw_payload(draw))))
            return alias
        return C.SendTo(fd(), _maybe(draw, lambda: (ipv(), _draw_port(draw, sock_ports))),
                        _draw_payload(draw), _coin(draw))
    if kind == "recvfrom":
        if _coin(draw):
            return C.RecvFrom(fd(), _coin(draw))
        if draw(st.integers(0, 3)) == 0:
            # recv / read (read of 0 bytes is its own call, read_1)
            n = _pick(draw, (0, 1, 3, 100))
            reader: C.Call = _pick(draw, (C.recv(fd(), n, _coin(draw), _coin(draw),
                                                 _coin(draw)),
                                          C.read(fd(), n)))
            return reader
        return C.recvfrom(fd(), _coin(draw), _pick(draw, (None, -1, 0, 1, 3, 100, 70000)),
                          _coin(draw), draw(st.integers(0, 3)) == 0, _coin(draw),
                          _coin(draw))
    if kind in ("getsockopt", "setsockopt"):
        opt = _pick(draw, _OPTS)
        if kind == "getsockopt":
            return C.GetSockOpt(fd(), opt)
        if opt in BOOL_OPTS:
            return C.SetSockOpt(fd(), opt, _coin(draw))
        if opt in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO) and _coin(draw):
            return C.SetSockOpt(fd(), opt, draw(_DURATIONS))
        v = _pick(draw, (0, 1, -1, 1500, 1_000_000, 10**9, -(10**9), 2, 255, 256)) \
            if _coin(draw) else draw(st.integers(-(2**31), 2**31))
        return C.SetSockOpt(fd(), opt, v)
    if kind == "shutdown":
        return C.Shutdown(fd(), _pick(draw, _SHUTS))
    if kind == "fionread":
        return C.FionRead(fd())
    if kind == "select":
        rs = tuple(fd() for _ in range(draw(st.integers(0, 3))))
        ws = tuple(fd() for _ in range(draw(st.integers(0, 2))))
        tms = _pick(draw, _TIMEOUTS) if _coin(draw) else draw(_DURATIONS)
        xs = tuple(fd() for _ in range(draw(st.integers(0, 2)))) if _coin(draw) else None
        return C.Select(rs, ws, tms, xs)
    if kind == "poll":
        ents = tuple((fd() if draw(st.integers(0, 5)) else -1,
                      _pick(draw, _POLL_EVENTS) if _coin(draw) else draw(
                          st.integers(-(2**15), 2**16)))
                     for _ in range(draw(st.integers(0, 3))))
        return C.Poll(ents, _pick(draw, (-1, 0, 1, 50, -7)) if _coin(draw) else draw(
            st.one_of(st.integers(-10**4, 10**4), _DURATIONS)))
    if kind == "port_of_int":
        return C.PortOfInt(_pick(draw, _INTS) if _coin(draw) else draw(
            st.integers(-70000, 70000)))
    if kind == "ip_of_string":
        return C.IpOfString(_pick(draw, _TEXTS) if _coin(draw) else draw(
            st.text(alphabet="0123456789.", max_size=16)))
    if kind == "getifaddrs":
        return C.GetIfAddrs()
    if kind == "create":
        return C.Create(_program, ())
    if kind == "delay":
        return C.Delay(_pick(draw, (-1, 0, 1)) if _coin(draw) else draw(_DURATIONS))
    if kind == "print_endline_flush":
        return C.PrintEndlineFlush(_pick(draw, ("", "hi", "KURT is down")))
    if kind == "exit":
        return C.Exit()
    cls = {"disconnect": C.Disconnect, "getsockname": C.GetSockName,
           "getpeername": C.GetPeerName, "geterr": C.GetErr, "close": C.Close}[kind]
    return cls(fd())


def calls(case: HostCase) -> st.SearchStrategy[C.Call]:
    """A well-typed LIB call for this host (any LIB call), with fds drawn from used
    (sockets, orphans, console) and unused ones."""
    return st.composite(lambda draw: _draw_call(draw, case))()


# Messages ------------------------------------------------------------------------------------

def _draw_message(draw: st.DrawFn, case: HostCase, deliverable: bool) -> IPMsg:
    h = case.host
    own_nl = sorted(a for a in own(h) if not is_loopback(a))
    pool = _ip_pool(h.ifds)
    sock_ports = tuple(sorted({p for s in h.s for p in (s.ps1, s.ps2) if p is not None}))

    def dst() -> IP:
        if deliverable or (own_nl and _coin(draw)):
            return _pick(draw, own_nl)  # type: ignore[no-any-return]
        return _draw_ip(draw, pool)

    def src() -> IP:
        return _draw_ip(draw, pool)

    if draw(st.integers(0, 2)) == 0:
        kind = _pick(draw, tuple(IcmpKind))
        quads = [q for q in (_quad(s) for s in h.s) if q[0] is not None and q[2] is not None]
        if quads and _coin(draw):
            i1, p1, i2, p2 = _pick(draw, quads)
            d = dst() if deliverable or _coin(draw) else i1
            return IPMsg(i2 if _coin(draw) else src(), d, ICMP(kind, i1, p1, i2, p2, _quote(draw),
                                                               _frag_mtu(draw, kind)))
        return IPMsg(src(), dst(), ICMP(kind, src(), _draw_port_opt(draw, sock_ports), src(),
                                        _draw_port_opt(draw, sock_ports), b"",
                                        _frag_mtu(draw, kind)))
    return IPMsg(src(), dst(), UDP(_draw_port_opt(draw, sock_ports),
                                   _draw_port_opt(draw, sock_ports), draw(_SHORT)),
                 _pick(draw, _TTLS))


def messages(case: HostCase, deliverable: bool = False) -> st.SearchStrategy[IPMsg]:
    """`msg_ok` datagrams for this host: UDP and ICMP, from sane, loopback and martian
    sources, often matching a socket's ports or quoting its quad. With `deliverable`, the
    destination is an own non-loopback address (what the network delivers to a host);
    a host with only loopback gets none."""
    if deliverable and not any(not is_loopback(a) for a in own(case.host)):
        return st.nothing()
    return st.composite(lambda draw: _draw_message(draw, case, deliverable))()


# Outcomes ------------------------------------------------------------------------------------

def outcomes(outcome: Any, rnd: random.Random | None = None, limit: int = 12,
             sample: int = 3) -> Iterator[Any]:
    """Every final value of a possibly branching outcome.

    A Branch with more than `limit` options (an ephemeral port, a propagation delay) is
    sampled: its first and last options and `sample` drawn with `rnd`.
    """
    if not isinstance(outcome, Branch):
        yield outcome
        return
    opts = outcome.options
    n = len(opts)
    if n <= limit:
        picks = list(range(n))
    else:
        r = rnd if rnd is not None else random.Random(0)
        picks = sorted({0, n - 1, *(r.randrange(n) for _ in range(sample))})
    for k in picks:
        yield from outcomes(outcome.cont(opts[k]), rnd, limit, sample)


def first_outcome(outcome: Any) -> Any:
    """The final value when every choice takes its first option."""
    while isinstance(outcome, Branch):
        outcome = outcome.cont(outcome.options[0])
    return outcome


def map_outcome(outcome: Any, f: Callable[[Any], T]) -> Any:
    """Apply `f` to every final value of an outcome, keeping its branches."""
    if isinstance(outcome, Branch):
        return Branch(outcome.kind, outcome.options, lambda v: map_outcome(outcome.cont(v), f),
                      outcome.hint)
    return f(outcome)


__all__ = [
    "LOOPBACK_IPS",
    "MARTIAN_IPS",
    "PORTS",
    "REMOTE_IPS",
    "HostCase",
    "calls",
    "durations_us",
    "fault_settings",
    "first_outcome",
    "host_cases",
    "host_consts",
    "interface_sets",
    "ips_for",
    "map_outcome",
    "messages",
    "nows",
    "outcomes",
    "payloads",
    "ports",
    "results",
    "timings",
]
