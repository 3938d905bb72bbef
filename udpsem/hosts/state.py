"""Host state (docs/model.md): interfaces, sockets, thread states, the host record, constants.

All state is frozen and hashable. Timers are absolute deadlines in ns (`semantics.time`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from udpsem.base.frozen import fast_init
from udpsem.base.time import MS, NEVER, US
from udpsem.hosts.values import (
    EXTENSION,
    FD,
    IP,
    LOCALHOST,
    TID,
    Arch,
    Errno,
    IcmpGen,
    Port,
    Result,
)
from udpsem.network.messages import IcmpKind, IPMsg

LO = "lo"
IfId = str | tuple[str, int]


@dataclass(frozen=True, slots=True)
class Interface:
    """`{ifid, ipset, primary, netmask}`; `ipset` is a sorted tuple."""

    ifid: IfId
    ipset: tuple[IP, ...]
    primary: IP
    netmask: int
    # Administratively up (`ip link set DEV up`). A down interface's routes are gone (sends
    # through it fail with ENETUNREACH) and nothing arrives on it, but its addresses stay this
    # host's own (bind, and sends to them, still work) [L: Linux 6.18, experiment].
    up: bool = field(default=True, metadata=EXTENSION)
    # The link MTU in bytes (`ip link set DEV mtu N`); None: Ethernet's 1500 (LO: 65536)
    mtu: int | None = field(default=None, metadata=EXTENSION)
    # Path MTUs learned from ICMP fragmentation-needed, per destination, sorted (Linux keeps
    # them as exceptions of the route through this interface, for net.ipv4.route.mtu_expires
    # = 600 s; the model keeps them for ever) [L: Linux 6.18, experiment]
    pmtu: tuple[tuple[IP, int], ...] = field(default=(), metadata=EXTENSION)

    @property
    def is_lo(self) -> bool:
        return self.ifid == LO

    @property
    def link_mtu(self) -> int:
        """The interface's MTU: as set, else Ethernet's 1500 (loopback's 65536)."""
        if self.mtu is not None:
            return self.mtu
        return LO_MTU if self.is_lo else ETH_MTU


ETH_MTU = 1500  # an Ethernet (and veth) interface's MTU on Linux 6.18 (experiment: IP_MTU)
LO_MTU = 65536  # the loopback interface's (`ip link show lo`)
LO_INTERFACE = Interface(LO, (LOCALHOST,), LOCALHOST, 8)


def eth(n: int, primary: IP, netmask: int = 24, extra: tuple[IP, ...] = ()) -> Interface:
    """An Ethernet interface `ETH n` with a primary address."""
    return Interface(("eth", n), tuple(sorted({primary, *extra})), primary, netmask)


@dataclass(frozen=True, slots=True)
class Flags:
    """`FLAGS(bsdcompat, reuseaddr)`."""

    bsdcompat: bool = False
    reuseaddr: bool = False
    broadcast: bool = field(default=False, metadata=EXTENSION)  # SO_BROADCAST [L: experiment]
    recverr: bool = field(default=False, metadata=EXTENSION)  # IP_RECVERR [L: experiment]
    # SO_SELECT_ERR_QUEUE: a pending error or error queue also sets POLLPRI (select's
    # exception set) [L: experiment]
    select_err_queue: bool = field(default=False, metadata=EXTENSION)
    # SO_REUSEPORT: sockets that all set it share an address and port, and each datagram
    # goes to one of them [L: experiment]
    reuseport: bool = field(default=False, metadata=EXTENSION)
    # IP_FREEBIND: bind may take an address that is not (yet) local [L: experiment]
    freebind: bool = field(default=False, metadata=EXTENSION)
    # SO_RXQ_OVFL: a datagram queued while it is on carries the socket's drop count then, and
    # a receive reads that count [L: experiment]
    rxq_ovfl: bool = field(default=False, metadata=EXTENSION)


@dataclass(frozen=True, slots=True)
class ErrEntry:
    """An error-queue entry (IP_RECVERR) [L: Linux 6.18, experiment]: the error, where the
    failed datagram was going, its payload as the ICMP quoted it, the ICMP's sender (the
    offender) and kind."""

    errno: Errno
    ip: IP
    port: Port | None
    data: bytes = b""
    offender: IP | None = None
    kind: IcmpKind = IcmpKind.PORT_UNREACH
    # sock_extended_err's ee_info: a fragmentation-needed's next-hop MTU, else 0
    info: int = field(default=0, metadata=EXTENSION)


@dataclass(frozen=True, slots=True)
class Sock:
    """`SOCK(fd, is1, ps1, is2, ps2, es, f, mq)` plus `lk` and `cl` (docs/model.md#sockets)."""

    fd: FD
    is1: IP | None = None
    ps1: Port | None = None
    is2: IP | None = None
    ps2: Port | None = None
    es: Errno | None = None
    f: Flags = Flags()
    mq: tuple[IPMsg, ...] = ()
    lk: tuple[bool, bool] = (False, False)
    cl: bool = False
    # Linux state added by experiment (Linux 6.18); the defaults are the paper's socket.
    # shutdown for (reading, writing)
    shut: tuple[bool, bool] = field(default=(False, False), metadata=EXTENSION)
    # SO_RCVTIMEO in ns (whole jiffies); None: wait for ever; 0: give up at once
    rcvtimeo: int | None = field(default=None, metadata=EXTENSION)
    sndtimeo: int | None = field(default=None, metadata=EXTENSION)  # SO_SNDTIMEO, likewise
    # SO_RCVBUF as set (bytes, doubled); None: the host's default
    rcvbuf: int | None = field(default=None, metadata=EXTENSION)
    # The error queue (IP_RECVERR), oldest first
    eq: tuple[ErrEntry, ...] = field(default=(), metadata=EXTENSION)
    # SO_SNDBUF as set (bytes, doubled); None: the host's default
    sndbuf: int | None = field(default=None, metadata=EXTENSION)
    # How many datagrams this socket's full receive buffer has dropped (Linux's sk_drops)
    drops: int = field(default=0, metadata=EXTENSION)
    # The drop count each queued datagram was stamped with (SO_RXQ_OVFL), aligned with mq;
    # () while every stamp is 0
    mqd: tuple[int, ...] = field(default=(), metadata=EXTENSION)
    # IP_TTL as set (1..255); None: the default (IP_DEFAULT_TTL, 64)
    ttl: int | None = field(default=None, metadata=EXTENSION)
    # IP_MTU_DISCOVER (PMTUDISC_DONT .. PMTUDISC_OMIT); Linux's default is PMTUDISC_WANT
    pmtudisc: int = field(default=1, metadata=EXTENSION)

    @property
    def quad(self) -> tuple[IP | None, Port | None, IP | None, Port | None]:
        return (self.is1, self.ps1, self.is2, self.ps2)


# Thread states (docs/model.md#thread-states). Each is paired with a deadline in ThreadEntry.

@dataclass(frozen=True, slots=True)
class Run:
    """Waiting for the thread's next call."""


@dataclass(frozen=True, slots=True)
class Ret:
    """About to return `value` (an Ok/Fail) for the call named `call`."""

    value: Result
    call: str = ""


@dataclass(frozen=True, slots=True)
class SendTo2:
    """Blocked in sendto on a full out-queue; `q` is the quad when it blocked."""

    fd: FD
    dest: tuple[IP, Port] | None
    data: bytes
    q: tuple[IP | None, Port | None, IP | None, Port | None]


@dataclass(frozen=True, slots=True)
class RecvFrom2:
    """Blocked in recvfrom on `fd` (with the call's `maxlen`, `peek` and flags). The deadline is
    the socket's SO_RCVTIMEO (sharp) or NEVER."""

    fd: FD
    maxlen: int | None = field(default=None, metadata=EXTENSION)
    peek: bool = field(default=False, metadata=EXTENSION)
    via: str = field(default="recvfrom", metadata=EXTENSION)  # recv / read: data only
    ovfl: bool = field(default=False, metadata=EXTENSION)  # answer the SO_RXQ_OVFL count
    trunc: bool = field(default=False, metadata=EXTENSION)  # MSG_TRUNC: answer the length too


@dataclass(frozen=True, slots=True)
class Select2:
    """Blocked in select; the deadline is the timeout (sharp) or NEVER."""

    reads: tuple[FD, ...]
    writes: tuple[FD, ...]
    excepts: tuple[FD, ...] | None = field(default=None, metadata=EXTENSION)


@dataclass(frozen=True, slots=True)
class Poll2:
    """Blocked in poll on `fds`, the call's `(fd, events)` entries; the deadline is the
    timeout (sharp) or NEVER [L: Linux 6.18, experiment]."""

    fds: tuple[tuple[FD, int], ...]
    # the fds that named a closed socket (an orphan another thread still waits on) when poll
    # was called: Linux finds no file for them and answers POLLNVAL at once
    closed0: tuple[FD, ...] = field(default=(), metadata=EXTENSION)


@dataclass(frozen=True, slots=True)
class Delay2:
    """Sleeping; the deadline is the wake-up time (sharp)."""


@dataclass(frozen=True, slots=True)
class Print2:
    """Console output pending."""

    text: str


@dataclass(frozen=True, slots=True)
class ExitState:
    """This thread called exit; the host will terminate the program."""


@dataclass(frozen=True, slots=True)
class Zombie:
    """Another thread called exit; this thread will never be answered."""


ThreadState = (Run | Ret | SendTo2 | RecvFrom2 | Select2 | Poll2 | Delay2 | Print2 | ExitState
               | Zombie)
RUN = Run()
ZOMBIE = Zombie()
DELAY2 = Delay2()
EXIT = ExitState()
BLOCKED_STATES = (SendTo2, RecvFrom2, Select2, Poll2, Delay2)


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """`ts(tid) = (state, timer)`, the timer as an absolute deadline."""

    tid: TID
    state: ThreadState
    deadline: int = NEVER


@dataclass(frozen=True, slots=True)
class Timing:
    """Timing parameters, in ns (docs/model.md). Defaults are this project's [R]."""

    dpropmin: int = 100 * US
    dpropmax: int = 10 * MS
    dsch: int = 500 * US
    doq: int = 500 * US
    dstore: int = 100 * US
    dthread: int = 100 * US


@dataclass(frozen=True, slots=True)
class RouterLeg:
    """A subnet `net/plen` a router of the host's off-link traffic reaches directly, with
    the MTU of its link into it; `prohibit`: instead, the router's route for it has type
    prohibit (`ip route add prohibit NET/PLEN`, as a firewall's reject with
    admin-prohibited)."""

    net: IP
    plen: int
    mtu: int = 1500
    prohibit: bool = False


@dataclass(frozen=True, slots=True)
class HostConsts:
    """Host constants that never change (docs/model.md#host-state)."""

    arch: Arch = Arch.LINUX
    priv: bool = False
    eph: tuple[int, int] | None = None  # None: the arch's default range
    console: tuple[FD, ...] = (0, 1, 2)
    open_max: int = 1024
    oq_cap: int | None = None  # None is ∞
    allow_badmem: bool = False
    allow_intr: bool = False
    icmp_gen: IcmpGen = IcmpGen.ALWAYS
    linux_error_order: bool = True  # False: every applicable fail rule is a choice
    # Receive-buffer bound (bytes of skb truesize, as Linux counts; see auxiliary.truesize).
    # None: unbounded receive queues, the paper's model; Linux's net.core.rmem_default is
    # 212992 (LINUX_RMEM_DEFAULT).
    rmem_default: int | None = field(default=None, metadata=EXTENSION)
    # net.core.rmem_max: SO_RCVBUF is clamped to it, then doubled
    rmem_max: int = field(default=4194304, metadata=EXTENSION)
    # Send-buffer bound (bytes), as SO_SNDBUF reads: None, the paper's model (no per-socket
    # bound); Linux's net.core.wmem_default is 212992 (LINUX_WMEM_DEFAULT). On loopback Linux
    # frees a datagram's buffer space as it is delivered, so the bound never blocks a send
    # there (experiment: five 60000-byte sends with SO_SNDBUF 4608 all succeed).
    wmem_default: int | None = field(default=None, metadata=EXTENSION)
    # net.core.wmem_max: SO_SNDBUF is clamped to it, then doubled
    wmem_max: int = field(default=4194304, metadata=EXTENSION)
    hz: int = field(default=250, metadata=EXTENSION)  # tick rate: timeouts are whole jiffies
    # Linux processes a loopback send's delivery (and the ICMP it provokes) before sendto
    # returns (sendto_17); False keeps the paper's looser timing (via the out-queue, doq).
    loopback_sync: bool = field(default=False, metadata=EXTENSION)
    # ICMP errors this host sends quote the start of the offending payload (ICMP_QUOTE_MAX
    # bytes), as Linux's do; False: the paper's ICMP, addresses only
    icmp_quote: bool = field(default=False, metadata=EXTENSION)
    # Dynamic neighbour (ARP) resolution, Linux's default: a datagram for a neighbour that does
    # not answer, or sent while the host's carrier is lost, is held (network.neighbours) and
    # sent if the neighbour answers a probe, or dropped after NEIGH_PROBES probes with an ICMP
    # host-unreachable to the sender. False: static neighbours (the paper's model, and
    # `udpsem real --netns`): a send while unplugged is lost (host_send_disc).
    neigh: bool = field(default=False, metadata=EXTENSION)
    # This host's off-link traffic goes through Linux routers, which may answer a datagram for
    # a network they have no route to with ICMP net-unreachable (net_router_unreach).
    router_icmp: bool = field(default=False, metadata=EXTENSION)
    # What this host's routers reach directly: the subnets of their links, each with the
    # link's MTU (a datagram with DF bigger than it is answered with ICMP
    # fragmentation-needed, net_router_frag_needed), and the subnets their routes prohibit
    # (net_router_prohibit). A destination on a router's link that nobody answers for waits
    # in the router's neighbour queue (net_router_neigh_hold). Empty: the routers are not
    # described (any off-link destination no machine owns is net-unreachable), and no
    # router reads the DF bit, so the host's datagrams carry none (IPMsg.df).
    router_legs: tuple[RouterLeg, ...] = field(default=(), metadata=EXTENSION)

    def __post_init__(self) -> None:
        # Accept plain strings for the enums (as a user or a trace header would give them).
        object.__setattr__(self, "arch", Arch(self.arch))
        object.__setattr__(self, "icmp_gen", IcmpGen(self.icmp_gen))

    @property
    def eph_range(self) -> tuple[int, int]:
        if self.eph is not None:
            return self.eph
        return (32768, 60999) if self.arch == Arch.LINUX else (49152, 65535)

    @property
    def payload_max(self) -> int:
        return 9216 if self.arch == Arch.FREEBSD else 65507


# Neighbour resolution on Linux 6.18 (sysctl net.ipv4.neigh.*, read by experiment): a probe is
# sent at once and every retrans_time_ms = 1000 ms; after mcast_solicit = 3 unanswered ones
# the entry fails (measured: 3.08 s from the first send to the error).
NEIGH_RETRANS = 1_000 * MS
NEIGH_PROBES = 3
LINUX_RMEM_DEFAULT = 212992  # net.core.rmem_default on Linux 6.18 (experiment)
SOCK_MIN_RCVBUF = 2304  # the least SO_RCVBUF Linux 6.18 keeps (experiment: setting 0 gives it)
LINUX_WMEM_DEFAULT = 212992  # net.core.wmem_default on Linux 6.18 (experiment)
SOCK_MIN_SNDBUF = 4608  # the least SO_SNDBUF Linux 6.18 keeps (experiment: setting 0 gives it)


@dataclass(frozen=True, slots=True)
class Host:
    """The host record `h` (docs/model.md#host-state). `s` is front-first; `ts` is sorted by tid."""

    ifds: tuple[Interface, ...]
    ts: tuple[ThreadEntry, ...] = ()
    s: tuple[Sock, ...] = ()
    oq: tuple[IPMsg, ...] = ()
    oq_deadline: int = NEVER
    oqf: bool = False

    def thread(self, tid: TID) -> ThreadEntry | None:
        for e in self.ts:
            if e.tid == tid:
                return e
        return None


@dataclass(frozen=True, slots=True)
class RuleCtx:
    """What a rule may read besides the host: constants, timing and the current time."""

    consts: HostConsts = HostConsts()
    timing: Timing = Timing()
    now: int = 0


def initial_host(ifds: tuple[Interface, ...], tids: tuple[TID, ...] = (0,)) -> Host:
    """A quiescent host: no sockets, empty out-queue, the application's threads RUN."""
    ifaces = tuple(sorted({LO_INTERFACE, *ifds}, key=_ifid_key))
    return Host(ifds=ifaces, ts=tuple(ThreadEntry(t, RUN) for t in sorted(tids)))


def _ifid_key(i: Interface) -> tuple[int, int]:
    return (-1, 0) if isinstance(i.ifid, str) else (0, i.ifid[1])


# Host labels (docs/model.md#labels) ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LhCall:
    tid: TID
    call: Any


@dataclass(frozen=True, slots=True)
class LhReturn:
    tid: TID
    value: Result


@dataclass(frozen=True, slots=True)
class LhSendMsg:
    msg: IPMsg


@dataclass(frozen=True, slots=True)
class LhRecvMsg:
    msg: IPMsg


@dataclass(frozen=True, slots=True)
class LhConsole:
    text: str


@dataclass(frozen=True, slots=True)
class LhTau:
    pass


@dataclass(frozen=True, slots=True)
class LhExit:
    pass


@dataclass(frozen=True, slots=True)
class LhEpsilon:
    d: int


HostLabel = LhCall | LhReturn | LhSendMsg | LhRecvMsg | LhConsole | LhTau | LhExit | LhEpsilon
LH_TAU = LhTau()


@dataclass(frozen=True, slots=True)
class HostStep:
    """A host transition's result: the successor host and its label."""

    host: Host
    label: HostLabel = field(default=LH_TAU)

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Interface, Flags, ErrEntry, Sock, Run, Ret, SendTo2, RecvFrom2, Select2, Poll2, Delay2, Print2,
          ExitState, Zombie, ThreadEntry, Timing, HostConsts, Host, RuleCtx, LhCall, LhReturn, LhSendMsg,
          LhRecvMsg, LhConsole, LhTau, LhExit, LhEpsilon, HostStep)
