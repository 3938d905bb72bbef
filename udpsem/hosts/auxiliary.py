"""Auxiliary functions of the host rules (docs/glossary.md) and the address predicates.

All are pure functions of a host (and its constants); rules build on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from udpsem.base.choice import Branch
from udpsem.base.frozen import replace
from udpsem.base.time import NEVER, deadline_after
from udpsem.hosts.state import (
    ETH_MTU,
    Host,
    HostConsts,
    HostStep,
    Interface,
    Poll2,
    RecvFrom2,
    Ret,
    RuleCtx,
    Select2,
    SendTo2,
    Sock,
    ThreadEntry,
    ThreadState,
)
from udpsem.hosts.values import (
    BROADCAST,
    FD,
    IP,
    LO_BROADCAST,
    LOCALHOST,
    PMTUDISC_DO,
    PMTUDISC_DONT,
    PMTUDISC_INTERFACE,
    PMTUDISC_PROBE,
    PMTUDISC_WANT,
    POLLERR,
    POLLHUP,
    POLLIN,
    POLLNVAL,
    POLLOUT,
    POLLPRI,
    POLLRDHUP,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    TID,
    Arch,
    Errno,
    Port,
    Result,
    in_prefix,
    is_loopback,
    is_multicast,
)
from udpsem.network.messages import ICMP, IP_DEFAULT_TTL, IP_UDP_HEADERS, UDP, IcmpKind, IPMsg

T = TypeVar("T")
Quad = tuple[IP | None, Port | None, IP | None, Port | None]


# Addresses ---------------------------------------------------------------------------------

def own(h: Host) -> frozenset[IP]:
    """`own(h)`: every address of every interface (incl. 127.0.0.1)."""
    return frozenset(a for i in h.ifds for a in i.ipset)


def local(h: Host, i: IP) -> bool:
    """`local(h, i)`: an own address or anything in 127/8 (Linux)."""
    if is_loopback(i):
        return True
    for iface in h.ifds:
        if i in iface.ipset:
            return True
    return False


def non_lo(h: Host) -> list[Interface]:
    """Non-loopback interfaces in ifid order."""
    return [i for i in h.ifds if not i.is_lo]


def bcast(h: Host, i: IP) -> bool:
    """`bcast(h, i)`: 255.255.255.255, or the subnet broadcast of a non-LO interface (/≤30)."""
    if i == BROADCAST:
        return True
    for iface in non_lo(h):
        k = iface.netmask
        if k <= 30:
            host_bits = (1 << (32 - k)) - 1
            if i == (iface.primary | host_bits) and in_prefix(i, iface.primary, k):
                return True
    return False


def dst_norm(consts: HostConsts, is1: IP | None, i: IP) -> IP:
    """`dst_norm`: on Linux 0.0.0.0 means this host (is1 if bound, else 127.0.0.1)."""
    if consts.arch == Arch.LINUX and i == 0:
        return is1 if is1 is not None else LOCALHOST
    return i


def has_route(h: Host, i: IP) -> bool:
    """`has_route`: local, or some non-LO interface is up (the lowest ETH is the default).
    A down interface has no routes: its own addresses stay local, nothing else goes through
    it [L: Linux 6.18, experiment]."""
    return local(h, i) or any(not x.is_lo and x.up for x in h.ifds)


def route_src(h: Host, i: IP) -> IP:
    """`route_src`: the source address the host picks for destination `i` (through an
    interface that is up)."""
    if any(i in x.ipset for x in h.ifds):
        return i
    if is_loopback(i):
        return LOCALHOST
    eths = [x for x in non_lo(h) if x.up]
    for iface in eths:
        if in_prefix(i, iface.primary, iface.netmask):
            return iface.primary
    return eths[0].primary if eths else LOCALHOST


# Path MTU (IP_MTU_DISCOVER; Linux 6.18, by experiment) -------------------------------------

MIN_PMTU = 552  # net.ipv4.route.min_pmtu on Linux 6.18: a smaller reported MTU is raised to it
IP_MAX_MTU = 65535  # the most a path MTU reads (experiment: IP_MTU over loopback, MTU 65536)


def out_iface(h: Host, i: IP) -> Interface | None:
    """The interface a datagram to `i` leaves by: loopback for a local or 127/8 address,
    else the up interface whose subnet holds `i`, else the lowest up one (the default
    route); None without a route."""
    if local(h, i) or is_loopback(i):
        return next((x for x in h.ifds if x.is_lo), None)
    eths = [x for x in non_lo(h) if x.up]
    for iface in eths:
        if in_prefix(i, iface.primary, iface.netmask):
            return iface
    return eths[0] if eths else None


def path_mtu(h: Host, i: IP) -> int | None:
    """The MTU of the path to `i` as the host knows it (IP_MTU): its interface's, or less
    if an ICMP fragmentation-needed said so; None without a route."""
    iface = out_iface(h, i)
    if iface is None:
        return None
    m = min(iface.link_mtu, IP_MAX_MTU)
    for dst, p in iface.pmtu:
        if dst == i and p < m:
            m = p
    return m


def learn_pmtu(h: Host, i: IP, mtu: int) -> Host:
    """`h` after an ICMP fragmentation-needed with next-hop MTU `mtu` for destination `i`:
    the path MTU to `i` is lowered to it (raised to MIN_PMTU if below; a larger one is
    ignored) [L: Linux 6.18's __ip_rt_update_pmtu; the lowering by experiment]."""
    iface = out_iface(h, i)
    old = path_mtu(h, i)
    if iface is None or iface.is_lo or old is None:
        return h
    mtu = max(mtu, MIN_PMTU)
    if mtu >= old:
        return h
    pm = tuple(sorted({**dict(iface.pmtu), i: mtu}.items()))
    ifds = tuple(replace(x, pmtu=pm) if x is iface else x for x in h.ifds)
    return replace(h, ifds=ifds)


def too_big(h: Host, i: IP, ip_len: int, mode: int) -> bool:
    """Whether a datagram of `ip_len` bytes to `i` fails locally with EMSGSIZE under
    IP_MTU_DISCOVER `mode`: DO, above the path MTU; PROBE and INTERFACE, above the
    interface's MTU; DONT, WANT and OMIT never (they fragment) [L: Linux 6.18, experiment]."""
    if mode in (PMTUDISC_DONT, PMTUDISC_WANT) or mode > PMTUDISC_INTERFACE:
        return False
    if mode == PMTUDISC_DO:
        mtu = path_mtu(h, i)
    else:
        iface = out_iface(h, i)
        mtu = None if iface is None else iface.link_mtu
    return mtu is not None and ip_len > mtu


def wire_df(h: Host, i: IP, ip_len: int, mode: int) -> bool:
    """The DF bit of a datagram of `ip_len` bytes to `i` under IP_MTU_DISCOVER `mode`: DO and
    PROBE always; WANT while the datagram fits the path MTU (a bigger one is fragmented
    here without DF); DONT, INTERFACE and OMIT never [L: Linux 6.18, experiment: a WANT
    datagram bigger than the interface's MTU crossed a router into a smaller link]."""
    if mode in (PMTUDISC_DO, PMTUDISC_PROBE):
        return True
    if mode != PMTUDISC_WANT:
        return False
    mtu = path_mtu(h, i)
    return mtu is not None and ip_len <= mtu


# Sockets -----------------------------------------------------------------------------------

def sock(h: Host, fd: FD) -> Sock | None:
    """`sock(h, fd)`: the *open* socket with this fd, if any."""
    for s in h.s:
        if s.fd == fd and not s.cl:
            return s
    return None


def any_sock(h: Host, fd: FD) -> Sock | None:
    """The socket with this fd, open or closed (the slow rules' `s`)."""
    for s in h.s:
        if s.fd == fd:
            return s
    return None


def others(h: Host, fd: FD) -> tuple[Sock, ...]:
    """`h.s` without the socket with this fd."""
    return tuple(s for s in h.s if s.fd != fd)


def used_fds(h: Host, consts: HostConsts) -> frozenset[FD]:
    """`used_fds(h)`: fds of all sockets (closed ones too) and the console fds."""
    return frozenset(s.fd for s in h.s) | frozenset(consts.console)


def replace_sock(h: Host, s: Sock) -> Host:
    """The host with `s` in place of the socket with the same fd (position kept)."""
    return Host(h.ifds, h.ts, tuple(s if x.fd == s.fd else x for x in h.s), h.oq,
                h.oq_deadline, h.oqf)


def front(h: Host, s: Sock) -> Host:
    """`front`: replace `s`'s old entry and move it to the head of the list."""
    rest = tuple(x for x in h.s if x.fd != s.fd)
    return Host(h.ifds, h.ts, (s, *rest), h.oq, h.oq_deadline, h.oqf)


class FreePorts(Sequence[Port]):
    """The ports of `[lo, hi]` not in `taken`, ascending: a read-only sequence that is never
    materialised (an autobind offers ~28,000 of them, and a chooser picks one)."""

    __slots__ = ("_hi", "_lo", "_taken")

    def __init__(self, lo: int, hi: int, taken: Sequence[int]) -> None:
        self._lo, self._hi = lo, hi
        self._taken = tuple(sorted({p for p in taken if lo <= p <= hi}))

    def __len__(self) -> int:
        return max(0, self._hi - self._lo + 1 - len(self._taken))

    def __getitem__(self, k: int) -> Port:  # type: ignore[override]
        n = len(self)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError(k)
        p = self._lo + k
        for t in self._taken:  # ascending: each taken port at or below p shifts it up
            if t <= p:
                p += 1
            else:
                break
        return p

    def __contains__(self, p: object) -> bool:
        return (isinstance(p, int) and not isinstance(p, bool) and self._lo <= p <= self._hi
                and p not in self._taken)

    def __iter__(self) -> Iterator[Port]:
        taken = set(self._taken)
        return (p for p in range(self._lo, self._hi + 1) if p not in taken)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FreePorts):
            return (self._lo, self._hi, self._taken) == (other._lo, other._hi, other._taken)
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._lo, self._hi, self._taken))

    def __repr__(self) -> str:
        return f"FreePorts({self._lo}, {self._hi}, taken={list(self._taken)})"


def free_ephemeral(consts: HostConsts, socks: Sequence[Sock]) -> FreePorts:
    """The ephemeral ports no socket in `socks` has as `ps1`, ascending (a lazy sequence)."""
    lo, hi = consts.eph_range
    return FreePorts(lo, hi, [s.ps1 for s in socks if s.ps1 is not None])


def autobind_possible(consts: HostConsts, ps: Port | None, socks: Sequence[Sock]) -> bool:
    """Whether `autobind(ps, S)` is non-empty."""
    if ps is not None:
        return True
    lo, hi = consts.eph_range
    taken = {s.ps1 for s in socks if s.ps1 is not None and lo <= s.ps1 <= hi}
    return len(taken) < hi - lo + 1


def with_autobind(consts: HostConsts, ps: Port | None, socks: Sequence[Sock],
                  cont: Callable[[Port], T]) -> T | Branch[T]:
    """AB: continue with the bound port, or branch over `autobind(None, socks)` (kind `eph`).

    The guard must have checked `autobind_possible` first.
    """
    if ps is not None:
        return cont(ps)
    return Branch("eph", free_ephemeral(consts, socks), cont)


def conflict(h: Host, s: Sock, i: IP | None, p: Port) -> bool:
    """`conflict(h, s, i, p)`: another socket holds p, not both reuseaddr, addresses overlap.
    With SO_REUSEPORT (as the flags are now), the first such holder in list order (the most
    recently bound) decides: if it and `s` both have it, there is no conflict, whatever older
    holders have, as Linux's udp_lib_lport_inuse answers [L: Linux 6.18, experiment]."""
    for o in h.s:
        if o.fd == s.fd or o.ps1 != p:
            continue
        if s.f.reuseaddr and o.f.reuseaddr:
            continue
        if i is None or o.is1 is None or o.is1 == i:
            return not (s.f.reuseport and o.f.reuseport)
    return False


# Threads -----------------------------------------------------------------------------------

def set_thread(h: Host, tid: TID, state: ThreadState, deadline: int = NEVER) -> Host:
    """`ts := ts ⊕ (tid ↦ (state, deadline))`, keeping `ts` sorted by tid."""
    entry = ThreadEntry(tid, state, deadline)
    ts = list(h.ts)
    for k, e in enumerate(ts):
        if e.tid == tid:
            ts[k] = entry
            break
        if e.tid > tid:
            ts.insert(k, entry)
            break
    else:
        ts.append(entry)
    return Host(h.ifds, tuple(ts), h.s, h.oq, h.oq_deadline, h.oqf)


def ret(ctx: RuleCtx, h: Host, tid: TID, value: Result, call: str = "") -> Host:
    """"→ X": `ts(tid) := RET X` with an upper-bound timer `dsch`."""
    return set_thread(h, tid, Ret(value, call), ctx.now + ctx.timing.dsch)


def refs(h: Host, fd: FD) -> bool:
    """`refs(h, fd)`: some thread is blocked in recvfrom, sendto, select or poll on this fd."""
    for e in h.ts:
        st = e.state
        if isinstance(st, (RecvFrom2, SendTo2)):
            if st.fd == fd:
                return True
        elif isinstance(st, Select2):
            if fd in st.reads or fd in st.writes or fd in (st.excepts or ()):
                return True
        elif isinstance(st, Poll2) and any(f == fd for f, _ in st.fds):
            return True
    return False


def gc(h: Host) -> Host:
    """`gc(h)`: remove every closed socket that no blocked thread refers to."""
    for s in h.s:
        if s.cl:
            break
    else:
        return h  # no closed socket (the common case): nothing to collect
    kept = tuple(s for s in h.s if not s.cl or refs(h, s.fd))
    if len(kept) == len(h.s):
        return h
    return Host(h.ifds, h.ts, kept, h.oq, h.oq_deadline, h.oqf)


def readable(h: Host, fd: FD) -> bool:
    """`readable(h, fd)`: an open socket with queued data, a pending error or a non-empty
    error queue, or shut down for reading (a receive then returns at once) [L: Linux 6.18,
    experiment: select's read set is poll's POLLIN | POLLHUP | POLLERR]."""
    s = sock(h, fd)
    return s is not None and (bool(s.mq) or s.es is not None or bool(s.eq) or s.shut[0])


def exceptional(h: Host, fd: FD) -> bool:
    """`exceptional(h, fd)`: select's exception set, poll's POLLPRI. For a UDP socket only
    SO_SELECT_ERR_QUEUE with a pending error or a non-empty error queue puts it there
    [L: Linux 6.18, experiment]; a console fd never."""
    s = sock(h, fd)
    return s is not None and s.f.select_err_queue and (s.es is not None or bool(s.eq))


# What Linux's udp_poll answers for a socket (datagram_poll), as poll(2) bits: IN|RDNORM for a
# queued datagram or a receive shut down, RDHUP for the latter, HUP when both directions are
# shut down, ERR for a pending error or error queue (PRI too with SO_SELECT_ERR_QUEUE), and
# OUT|WRNORM|WRBAND while the out-queue has room [L: Linux 6.18, experiment].
_POLL_READ = POLLIN | POLLRDNORM
_POLL_WRITE = POLLOUT | POLLWRNORM | POLLWRBAND


def poll_mask(h: Host, consts: HostConsts, fd: FD) -> int:
    """`poll_mask(h, fd)`: every poll(2) event bit true of `fd` now. A negative fd: 0 (poll
    skips it); a console fd: writable; no open socket (unused, or closed): POLLNVAL."""
    if fd < 0:
        return 0
    if fd in consts.console:
        return _POLL_WRITE
    s = sock(h, fd)
    if s is None:
        return POLLNVAL
    m = 0
    if s.es is not None or s.eq:
        m |= POLLERR | (POLLPRI if s.f.select_err_queue else 0)
    if s.shut[0]:
        m |= POLLRDHUP | _POLL_READ
    if s.shut[0] and s.shut[1]:
        m |= POLLHUP
    if s.mq:
        m |= _POLL_READ
    if not h.oqf:
        m |= _POLL_WRITE
    return m


def revents(h: Host, consts: HostConsts, fd: FD, events: int) -> int:
    """`revents(h, fd, events)`: what poll reports for one entry: the mask restricted to the
    events asked for, plus POLLERR, POLLHUP and POLLNVAL, which are always reported."""
    return poll_mask(h, consts, fd) & (events | POLLERR | POLLHUP | POLLNVAL)


def writable(h: Host, consts: HostConsts, fd: FD) -> bool:
    """`writable(h, fd)`: an open socket with room in oq or a pending error; or a console fd."""
    if fd in consts.console:
        return True
    s = sock(h, fd)
    return s is not None and (not h.oqf or s.es is not None)


def nodest(consts: HostConsts) -> Errno:
    """`nodest(arch)`: ENOTCONN on windows, EDESTADDRREQ otherwise."""
    return Errno.ENOTCONN if consts.arch == Arch.WINDOWS else Errno.EDESTADDRREQ


# Out-queue ---------------------------------------------------------------------------------

def full(consts: HostConsts, q: Sequence[IPMsg]) -> bool:
    """`full(q)`: OQ_CAP ≠ ∞ and len(q) ≥ OQ_CAP."""
    return consts.oq_cap is not None and len(q) >= consts.oq_cap


def dosend(ctx: RuleCtx, h: Host, dest: tuple[IP, Port] | None, data: bytes,
           quad: Quad, broadcast: bool = False,
           ttl: int | None = None,
           pmtudisc: int = PMTUDISC_WANT) -> tuple[tuple[IPMsg, ...], int, bool, bool] | None:
    """`dosend`: build the datagram and try to queue it.

    Returns `(oq', oq_deadline', oqf', ok)`, or None for the paper's empty result set (no
    destination, no route, or a Linux broadcast).
    """
    is1, ps1, is2, ps2 = quad
    if dest is not None:
        i, p = dest[0], dest[1]
        pp: Port | None = p
    elif is2 is not None:
        i, pp = is2, ps2
    else:
        return None
    src0 = send_src(h, is1)
    i = dst_norm(ctx.consts, src0, i)
    if not has_route_from(h, is1, i):
        return None
    if ctx.consts.arch == Arch.LINUX and linux_bcast(h, i) and not broadcast:
        return None
    src = src0 if src0 is not None else route_src(h, i)
    if h.oqf:
        return (h.oq, h.oq_deadline, True, False)
    msg = IPMsg(src, i, UDP(ps1, pp, data), IP_DEFAULT_TTL if ttl is None else ttl,
                bool(ctx.consts.router_legs) and wire_df(h, i, len(data) + IP_UDP_HEADERS,
                                                          pmtudisc))
    oq = (*h.oq, msg)
    deadline = h.oq_deadline if h.oq else ctx.now + ctx.timing.doq
    return (oq, deadline, full(ctx.consts, oq), True)


def enqueue(ctx: RuleCtx, h: Host, msg: IPMsg) -> Host:
    """`enqueue(h, msg)`: append to oq (timer doq if it was empty); dropped if oq is full."""
    if h.oqf:
        return h
    oq = (*h.oq, msg)
    deadline = h.oq_deadline if h.oq else ctx.now + ctx.timing.doq
    return Host(h.ifds, h.ts, h.s, oq, deadline, full(ctx.consts, oq))


def dequeue(ctx: RuleCtx, h: Host) -> Host:
    """`dequeue(h)`: drop the head; timer doq if more remain, else ∞."""
    oq = h.oq[1:]
    deadline = ctx.now + ctx.timing.doq if oq else NEVER
    return Host(h.ifds, h.ts, h.s, oq, deadline, full(ctx.consts, oq))


# Matching ----------------------------------------------------------------------------------

def score(s: Sock, quad: tuple[IP, Port | None, IP, Port | None]) -> int:
    """`score(s, (i3, p3, i4, p4))`: how specifically `s` matches a datagram (0: not at all)."""
    i3, p3, i4, p4 = quad
    if p4 is None or s.ps1 != p4:
        return 0
    if s.is1 is None:
        return 1 if s.is2 is None and s.ps2 is None else 0
    if s.is1 != i4:
        return 0
    if s.is2 is None:
        return 2 if s.ps2 is None else 0
    if s.is2 != i3:
        return 0
    if s.ps2 is None:
        return 3
    return 4 if p3 is not None and s.ps2 == p3 else 0


def lookup_all(h: Host, quad: tuple[IP, Port | None, IP, Port | None]) -> list[Sock]:
    """Every socket with the highest positive score, in list order (closed ones included)."""
    best, found = 0, []
    for s in h.s:
        sc = score(s, quad)
        if sc > best:
            best, found = sc, [s]
        elif sc == best and sc > 0:
            found.append(s)
    return found


def lookup(h: Host, consts: HostConsts,
           quad: tuple[IP, Port | None, IP, Port | None]) -> list[Sock]:
    """`lookup`: the candidate receivers. Linux/windows: the first best; freebsd: any best.
    On linux, when the first best is an unconnected SO_REUSEPORT socket, its group: every
    best with SO_REUSEPORT, unconnected, on the same address and port (Linux picks one by a
    hash of the 4-tuple, which a program cannot predict; the model leaves it a choice)
    [L: Linux 6.18, experiment]."""
    found = lookup_all(h, quad)
    if consts.arch == Arch.FREEBSD:
        return found
    first = found[:1]
    if consts.arch == Arch.LINUX and first and first[0].f.reuseport and first[0].is2 is None:
        f0 = first[0]
        return [s for s in found
                if s.f.reuseport and s.is2 is None and s.is1 == f0.is1 and s.ps1 == f0.ps1]
    return first


def icmp_lookup(h: Host, consts: HostConsts, icmp: ICMP) -> list[Sock]:
    """`icmp_lookup`: Linux/windows: the socket a reply from the quoted destination would
    reach; freebsd: sockets whose quad is exactly the quoted one."""
    if consts.arch == Arch.FREEBSD:
        q = (icmp.is3, icmp.ps3, icmp.is4, icmp.ps4)
        return [s for s in h.s if s.quad == q]
    return lookup(h, consts, (icmp.is4, icmp.ps4, icmp.is3, icmp.ps3))


def icmp_err(consts: HostConsts, kind: IcmpKind, s: Sock) -> Errno | None:
    """`icmp_err(kind, s)`: only connected sockets get errors; host-unreach only on freebsd.
    On linux a socket with IP_RECVERR gets them connected or not, host-unreach included, and
    a router's net-unreachable (ENETUNREACH) only with IP_RECVERR: Linux treats host- and
    net-unreachable as soft errors [L: Linux 6.18, experiment for port-, host- and
    net-unreachable]; a router's time-exceeded (a TTL that ran out) likewise gives
    EHOSTUNREACH with IP_RECVERR only [L: experiment]. A router's fragmentation-needed gives
    EMSGSIZE and its admin-prohibited EHOSTUNREACH, both hard errors (a connected socket gets
    them without IP_RECVERR), EMSGSIZE not for an IP_MTU_DISCOVER DONT socket [L: Linux 6.18,
    experiment]. These four on windows or freebsd give nothing here (untested: an open
    question)."""
    recverr = consts.arch == Arch.LINUX and s.f.recverr
    if s.is2 is None and not recverr:
        return None
    if kind == IcmpKind.PORT_UNREACH:
        return Errno.ECONNREFUSED
    if kind == IcmpKind.NET_UNREACH:
        return Errno.ENETUNREACH if recverr else None
    if kind == IcmpKind.TIME_EXCEEDED:
        return Errno.EHOSTUNREACH if recverr else None
    if kind == IcmpKind.FRAG_NEEDED:
        # a hard error, except for a socket that does not do path-MTU discovery (DONT)
        # [L: Linux 6.18, experiment; __udp4_lib_err]
        if consts.arch != Arch.LINUX or s.pmtudisc == PMTUDISC_DONT:
            return None
        return Errno.EMSGSIZE
    if kind == IcmpKind.ADMIN_PROHIB:
        # a hard error: a connected socket gets it without IP_RECVERR [L: Linux 6.18,
        # experiment; icmp_err_convert[ICMP_PKT_FILTERED] = {EHOSTUNREACH, fatal}]
        return Errno.EHOSTUNREACH if consts.arch == Arch.LINUX else None
    return Errno.EHOSTUNREACH if consts.arch == Arch.FREEBSD or recverr else None


def step(h: Host, label: object | None = None) -> HostStep:
    """A HostStep with the default τ label unless one is given."""
    if label is None:
        return HostStep(h)
    return HostStep(h, label)  # type: ignore[arg-type]


# Linux additions (Linux 6.18, by experiment; issue 12) ------------------------------------

def freebindable(h: Host, i: IP) -> bool:
    """An address IP_FREEBIND lets a socket bind although it is not local: any address that
    is neither local nor bindable without it (`bindable_bcast`), martian ones (0.0.0.0/8,
    240.0.0.0/4) and other networks' broadcast and network addresses included [L: Linux
    6.18, experiment]."""
    return not local(h, i) and not bindable_bcast(h, i)


def bindable_bcast(h: Host, i: IP) -> bool:
    """An address Linux lets a socket bind without IP_FREEBIND although no interface has it:
    255.255.255.255, the subnet broadcast of one of the host's interfaces, or a multicast
    address (224.0.0.0/4): inet_bind accepts RTN_BROADCAST and RTN_MULTICAST as well as
    RTN_LOCAL [L: Linux 6.18, experiment]."""
    return not local(h, i) and (bcast(h, i) or is_multicast(i))


def send_src(h: Host, is1: IP | None) -> IP | None:
    """The source address of a socket bound to `is1`, as Linux keeps it apart from the
    receive address (inet_saddr beside inet_rcv_saddr): `is1`, except that a socket bound to
    a broadcast or multicast address (`bindable_bcast`, or LO's 127.255.255.255) sends as if
    it were unbound, from the route's source address [L: Linux 6.18, experiment]."""
    if is1 is not None and (is1 == LO_BROADCAST or bindable_bcast(h, is1)):
        return None
    return is1


def linux_bcast(h: Host, i: IP) -> bool:
    """A broadcast address as Linux refuses it without SO_BROADCAST: `bcast`, or LO's own
    subnet broadcast 127.255.255.255 [L: experiment]."""
    return i == LO_BROADCAST or bcast(h, i)


def has_route_from(h: Host, is1: IP | None, i: IP) -> bool:
    """`has_route`, plus Linux's route for 255.255.255.255 through the interface of a bound
    source address (so a loopback-only host can broadcast from 127.0.0.1) [L: experiment].
    A source address that is not local (bound with IP_FREEBIND) has no route to anywhere
    (Linux: ENETUNREACH) [L: Linux 6.18, experiment]. `is1` is read as the socket's source
    address (`send_src`: none for one bound to a broadcast or multicast address)."""
    src = send_src(h, is1)
    if src is not None and not local(h, src):
        return False
    return has_route(h, i) or (i == BROADCAST and src is not None)


# The size Linux charges a receive buffer for a datagram of n payload bytes (the skb's
# truesize on loopback, measured with SO_MEMINFO on Linux 6.18 for n = 0..65507): small heads
# up to 197 bytes, then power-of-two heads, then paged data from 16005 bytes on.
_TRUESIZE_STEPS = ((197, 832), (645, 1280), (1669, 2304), (3717, 4352), (7813, 8448),
                   (16004, 16640))


def truesize(n: int) -> int:
    """The receive-buffer charge of an n-byte datagram [L: experiment]."""
    for top, size in _TRUESIZE_STEPS:
        if n <= top:
            return size
    return n + 832


def rmem(s: Sock) -> int:
    """Bytes charged to the socket's receive buffer: its queued datagrams' truesizes."""
    total = 0
    for m in s.mq:
        b = m.body
        total += truesize(len(b.data) if isinstance(b, UDP) else 0)
    return total


def rcvbuf_of(consts: HostConsts, s: Sock) -> int | None:
    """The socket's receive-buffer bound: SO_RCVBUF if set, else the host's default (None:
    unbounded, the paper's model)."""
    return s.rcvbuf if s.rcvbuf is not None else consts.rmem_default


def fits(consts: HostConsts, s: Sock, m: IPMsg) -> bool:
    """Whether Linux queues `m` on `s`: the buffer is unbounded, or empty (one datagram is
    always accepted), or has room for its truesize [L: Linux 6.18, experiment]."""
    bound = rcvbuf_of(consts, s)
    if bound is None or not s.mq:
        return True
    b = m.body
    n = len(b.data) if isinstance(b, UDP) else 0
    return rmem(s) + truesize(n) <= bound


# Fragments and the send buffer (Linux 6.18, by experiment) ------------------------------------

FRAG_HH_LEN = 16  # LL_RESERVED_SPACE of an Ethernet device: 14 bytes of header, 16-aligned
SKB_SHINFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64
SKB_HEAD = 256  # SKB_DATA_ALIGN(sizeof(struct sk_buff)) on x86-64


def route_mtu(h: Host, i: IP, mode: int = PMTUDISC_WANT) -> int:
    """The MTU a datagram to `i` is fragmented at: that of the interface it leaves by
    (`out_iface`: loopback's 65536 for this host's own and 127/8 addresses, so nothing is
    fragmented there), lowered to the learned path MTU unless IP_MTU_DISCOVER `mode` ignores
    it (PROBE, INTERFACE, OMIT) [L: ip_append_data with ip_sk_use_pmtu]."""
    iface = out_iface(h, i)
    if iface is None:
        return ETH_MTU
    if mode < PMTUDISC_PROBE:
        m = path_mtu(h, i)
        return iface.link_mtu if m is None else m
    return iface.link_mtu


def frag_count(mtu: int, n: int) -> int:
    """How many IP fragments a UDP datagram of `n` payload bytes is sent as over a link of
    MTU `mtu`: one if it fits (8 bytes of UDP header, 20 of IP), else pieces of the largest
    multiple of 8 that fits, the last piece up to the whole room [L: ip_append_data]."""
    room = mtu - 20
    total = n + 8
    if total <= room:
        return 1
    per = room & ~7
    return 1 + -(-(total - room) // per)


def frag_truesize(mtu: int) -> int:
    """The buffer Linux charges the socket for one full fragment: its kmalloc'ed head (the
    fragment, the link-layer headroom, 15 bytes of alignment slack and the shared info,
    rounded up to the allocator's size class) plus the sk_buff [L: Linux 6.18, experiment:
    2304 bytes at MTU 1000 and 1500, 8448 at 4000]."""
    need = mtu + FRAG_HH_LEN + 15 + SKB_SHINFO
    size = 2048
    while size < need:
        size *= 2
    return size + SKB_HEAD


def frags_exceed_sndbuf(consts: HostConsts, h: Host, s: Sock, i: IP, n: int) -> bool:
    """Whether a datagram of `n` bytes to `i` is refused with ENOBUFS while it is being
    fragmented: before each fragment after the first, Linux checks that the socket's
    write allocation (1, plus the fragments built so far) is at most twice SO_SNDBUF
    (`s.sndbuf`, else the host's WMEM_DEFAULT; None: unbounded, never) [L: Linux 6.18,
    experiment: over veth (MTU 1500) with SO_SNDBUF reading 4608 the largest datagram
    sent is 5912 bytes (4 fragments), with 10000 13312 (9), with 20000 26632 (18)]."""
    sndbuf = s.sndbuf if s.sndbuf is not None else consts.wmem_default
    if sndbuf is None:
        return False
    if too_big(h, i, n + IP_UDP_HEADERS, s.pmtudisc):
        return False  # EMSGSIZE comes first (IP_PMTUDISC_DO, PROBE, INTERFACE)
    mtu = route_mtu(h, i, s.pmtudisc)
    k = frag_count(mtu, n)
    return k >= 2 and 1 + (k - 1) * frag_truesize(mtu) > 2 * sndbuf


def jiffies_ns(consts: HostConsts, us: int) -> int | None:
    """A socket timeout of `us` µs as Linux stores it, in ns: None for 0 (no timeout), 0 for
    a negative one (give up at once), else rounded up to whole jiffies [L: experiment]."""
    if us == 0:
        return None
    if us < 0:
        return 0
    per = 1_000_000 // consts.hz
    return -(-us // per) * per * 1000


def timeout_deadline(now: int, timeo: int | None) -> int:
    """The deadline of a blocked call with this socket timeout (NEVER without one); a finite
    timeout however long stays finite (`deadline_after`)."""
    return NEVER if timeo is None else deadline_after(now, timeo)
