"""`host_ok` (docs/model.md#invariants) as a predicate that says which conjunct fails and why.

`host_violations(h, consts, timing, now)` returns one `Violation(conjunct, detail)` per broken
conjunct instance (empty: the host is well formed); `host_ok` is its emptiness. Timers are
absolute deadlines, so a timer's value is `deadline - now` and the check needs `now`.

The conjuncts are those of docs/model.md (I1, I2, S1–S7, T1–T6, Q1–Q3, G1), plus two that make the
Python encoding explicit:

* **R1** [R] representation: `ts` is sorted by tid without duplicates (it is a finite map),
  and each interface's `ipset` is a sorted tuple without duplicates (it is a set).
* **T4** is read with the well-typedness it needs to be inductive [R]: the recorded quad `q`
  and the destination `ips` of a `SENDTO2` have 32-bit addresses and ports in 1..65535, and
  `q.is1` is `None` or local (it was the socket's `is1` when the thread blocked, and S2 held
  then). Without this, `sendto_8` could queue a datagram that breaks Q1 from a state that
  satisfies the letter of docs/model.md#invariants.
* **T2** also checks that a `FAIL e` names an error that some rule of that call can return
  (the errors each rule declares, read from the rule registry).

The Linux state added by experiment (issue 12) extends these conjuncts and adds two (S8, I3):

* **S2** a socket's address may be a non-local one (IP_FREEBIND, bind_7), only on an
  unconnected socket, or a broadcast or multicast address (bind_8), connected or not.
* **T4** a `SENDTO2`'s recorded `q.is1` may also be such a broadcast or multicast address
  (it sends from the route's source, `send_src`).
* **S8** [R] `shut` is a pair of booleans, the SO_BROADCAST, IP_RECVERR, SO_SELECT_ERR_QUEUE,
  SO_REUSEPORT and IP_FREEBIND flags booleans, every error-queue entry `(ECONNREFUSED |
  EHOSTUNREACH | ENETUNREACH, ip, port, a quote of at most 520 bytes, offender, ICMP kind)`; `rcvtimeo`
  and `sndtimeo` are None or a whole number of jiffies in ns (≥ 0);
  `rcvbuf` is None or at least SOCK_MIN_RCVBUF (2304); `sndbuf` None or at least
  SOCK_MIN_SNDBUF (4608); `ttl` (IP_TTL) None or in 1..255; `drops` a count; `mqd` empty, or one SO_RXQ_OVFL stamp (at most
  `drops`) per queued datagram, not all 0; `pmtudisc` (IP_MTU_DISCOVER) in 0..5; an
  error-queue entry's `info` is a fragmentation-needed's MTU (0..65535) for that kind, else 0.
* **S5** a pending error may also be EMSGSIZE (a fragmentation-needed).
* **I3** [L] every interface's `up` (administratively up) is a boolean; LO is always up
  (I1 compares it with LO_INTERFACE); its `mtu` None or in 68..65536; its learned path MTUs
  a sorted tuple of (address, MTU) with distinct addresses, not on LO, each MTU at least
  552 and below the interface's MTU.
* **T1** a `RECVFROM2` (`SENDTO2`) may have a finite timer only if its socket has a positive
  SO_RCVTIMEO (SO_SNDTIMEO), and then within that timeout of now.
* **T2** a recvfrom answer is `(ip, port, data)`, or `(ip, port, data, truncated)` with a
  buffer length, `(ip, port, data, truncated, drops)` reading SO_RXQ_OVFL, or the data alone
  for recv and read, each with the real length appended under MSG_TRUNC (recv: `(data,
  length)`); a receive ended by shutdown answers no
  source (`None`) and no data. A select
  answer is a pair, or a triple with an exception set; a poll answer a tuple of POLL* masks.
* **T5** a `POLL2` holds `(fd, events)` entries, `events` a 16-bit mask (a C short); any fd (a
  bad one answers POLLNVAL); a `SELECT2`'s exception set names sockets or console fds too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from udpsem.base.time import NEVER
from udpsem.hosts.auxiliary import (
    MIN_PMTU,
    bindable_bcast,
    freebindable,
    full,
    linux_bcast,
    local,
    refs,
    used_fds,
)
from udpsem.hosts.calls import ALL_CALLS, CALL_NAMES
from udpsem.hosts.state import (
    LO,
    LO_INTERFACE,
    SOCK_MIN_RCVBUF,
    SOCK_MIN_SNDBUF,
    Delay2,
    ErrEntry,
    ExitState,
    Host,
    HostConsts,
    Poll2,
    Print2,
    RecvFrom2,
    Ret,
    RuleCtx,
    Run,
    Select2,
    SendTo2,
    Timing,
    Zombie,
)
from udpsem.hosts.values import (
    POLL_ALL,
    UDP_PAYLOAD_MAX,
    Errno,
    Fail,
    Ok,
    is_loopback,
    is_martian,
)
from udpsem.network.messages import ICMP_QUOTE_MAX, ICMP_TYPE_CODE, UDP, IcmpKind, msg_ok

HOST_CONJUNCTS = ("R1", "I1", "I2", "I3", "S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "T1",
                  "T2", "T3", "T4", "T5", "T6", "Q1", "Q2", "Q3", "G1")


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken conjunct: its name (as in docs/model.md#invariants), what is wrong, and where (the
    machine's name, for network-level checks)."""

    conjunct: str
    detail: str
    where: str | None = None

    def __str__(self) -> str:
        at = f"{self.where}: " if self.where is not None else ""
        return f"{self.conjunct}: {at}{self.detail}"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_ip(x: Any) -> bool:
    """A 32-bit address."""
    return _is_int(x) and 0 <= x < 2**32


def is_port(x: Any) -> bool:
    """A port: 1..65535."""
    return _is_int(x) and 1 <= x <= 65535


def is_ip_opt(x: Any) -> bool:
    return x is None or is_ip(x)


def is_port_opt(x: Any) -> bool:
    return x is None or is_port(x)


def _is_fd(x: Any) -> bool:
    return _is_int(x) and x >= 0


def _fd_list(x: Any) -> bool:
    return isinstance(x, tuple) and all(_is_fd(fd) for fd in x)


def _ifid_ok(x: Any) -> bool:
    return x == LO or (isinstance(x, tuple) and len(x) == 2 and x[0] == "eth" and _is_int(x[1])
                       and x[1] >= 0)


def _ifaddr_row(x: Any) -> bool:
    return (isinstance(x, tuple) and len(x) == 4 and _ifid_ok(x[0]) and is_ip(x[1])
            and isinstance(x[2], tuple) and all(is_ip(a) for a in x[2])
            and _is_int(x[3]) and 0 <= x[3] <= 32)


def _extended_err(x: Any) -> bool:
    """`(ee_errno, ee_origin, ee_type, ee_code, ee_info, ee_data, offender)`."""
    return (isinstance(x, tuple) and len(x) == 7 and isinstance(x[0], Errno)
            and all(_is_int(f) and f >= 0 for f in x[1:6]) and is_ip_opt(x[6]))


def _recv_answer(v: Any) -> bool:
    """`(ip, port, data)` or `(ip, port, data, truncated)`; `(None, None, b"")` (plus the
    flag) is a receive ended by shutdown. With MSG_TRUNC the real length (at least the data's
    length) comes last: `(data, length)` for recv, `(ip, port, data, truncated[, drops],
    length)` for recvfrom, `(None, None, b"", False, 0)` ended by shutdown."""
    if isinstance(v, bytes):  # recv / read: the data only
        return True
    if isinstance(v, tuple) and len(v) == 2:  # recv with MSG_TRUNC
        return isinstance(v[0], bytes) and _is_int(v[1]) and v[1] >= len(v[0])
    if isinstance(v, tuple) and len(v) == 6:  # SO_RXQ_OVFL and MSG_TRUNC
        return (_recv_answer(v[:5]) and v[0] is not None and _is_int(v[5])
                and v[5] >= len(v[2]))
    if isinstance(v, tuple) and len(v) == 5 and v[0] is None:  # shutdown, MSG_TRUNC
        return v == (None, None, b"", False, 0)
    if not isinstance(v, tuple) or len(v) not in (3, 4, 5):
        return False
    if len(v) == 3 and isinstance(v[2], Errno):  # an error-queue entry (MSG_ERRQUEUE)
        return is_ip(v[0]) and is_port_opt(v[1])
    if len(v) == 5:  # an error-queue entry with its payload and extended error (recvfrom_17),
        # or a datagram with its SO_RXQ_OVFL drop count
        return (is_ip(v[0]) and is_port_opt(v[1]) and isinstance(v[2], bytes)
                and isinstance(v[3], bool)
                and (_extended_err(v[4]) or (_is_int(v[4]) and v[4] >= 0)))
    if len(v) == 4 and not isinstance(v[3], bool):
        return False
    if not isinstance(v[2], bytes):
        return False
    if v[0] is None:
        return v[1] is None and v[2] == b"" and (len(v) == 3 or v[3] is False)
    return is_ip(v[0]) and is_port_opt(v[1])


# The result type of each call (docs/model.md#the-lib), as a predicate on the Ok value.
RESULT_SHAPES: dict[str, Callable[[Any], bool]] = {
    "socket": _is_fd,
    "bind": lambda v: v is None,
    "connect": lambda v: v is None,
    "disconnect": lambda v: v is None,
    "getsockname": lambda v: (isinstance(v, tuple) and len(v) == 2 and is_ip_opt(v[0])
                              and is_port_opt(v[1])),
    "getpeername": lambda v: (isinstance(v, tuple) and len(v) == 2 and is_ip_opt(v[0])
                              and is_port_opt(v[1])),
    "sendto": lambda v: v is None,
    "recvfrom": lambda v: _recv_answer(v),
    "geterr": lambda v: v is None or isinstance(v, Errno),
    "getsockopt": lambda v: v is None or isinstance(v, bool) or (_is_int(v) and v >= 0),
    "setsockopt": lambda v: v is None,
    "close": lambda v: v is None,
    "select": lambda v: (isinstance(v, tuple) and len(v) in (2, 3)
                         and all(_fd_list(x) for x in v)),
    "port_of_int": is_port,
    "ip_of_string": is_ip,
    "getifaddrs": lambda v: isinstance(v, tuple) and all(_ifaddr_row(r) for r in v),
    "create": lambda v: _is_int(v) and v >= 0,
    "delay": lambda v: v is None,
    "print_endline_flush": lambda v: v is None,
    # exit never returns: no Ok value is well typed.
    "exit": lambda v: False,
    "shutdown": lambda v: v is None,
    "fionread": lambda v: _is_int(v) and v >= 0,
    "poll": lambda v: isinstance(v, tuple) and all(_poll_bits(x) for x in v),
    "read": lambda v: v == b"",  # a read of 0 bytes (read_1); longer reads are recvfrom
}


def _poll_bits(x: Any) -> bool:
    return _is_int(x) and x & ~POLL_ALL == 0 and x >= 0

_STATE_CALL = {SendTo2: "sendto", RecvFrom2: "recvfrom", Select2: "select", Delay2: "delay",
               Print2: "print_endline_flush", Poll2: "poll"}
# Generic call rules registered for every call ("*") and the calls they really concern.
_STAR_CALLS = {
    "notsockfd_1": tuple(c.name for c in ALL_CALLS if c.takes_fd),
    "notsockfd_2": tuple(c.name for c in ALL_CALLS if c.takes_fd),
    "badmem_2": ("bind", "connect", "sendto", "recvfrom", "select"),
}


@cache
def call_errors() -> dict[str, frozenset[Errno]]:
    """For each call, the errors some rule can answer it with (read from the registry)."""
    import udpsem.hosts.rules  # noqa: F401  (registers the rules)
    from udpsem.base.registry import RULES

    out: dict[str, set[Errno]] = {name: set() for name in CALL_NAMES}
    for info in RULES.values():
        # intr_1 (slowintr) declares no errors: the registry asks that only of fail rules.
        errors = info.errors or (("EINTR",) if info.category == "slowintr" else ())
        if not errors:
            continue
        if info.trigger == "call":
            targets: tuple[str, ...] = (
                (info.call,) if info.call is not None and info.call != "*"
                else _STAR_CALLS.get(info.name, tuple(CALL_NAMES)))
        elif info.trigger == "thread":
            targets = tuple(_STATE_CALL[s] for s in info.states if s in _STATE_CALL)
        else:
            continue
        for c in targets:
            out.setdefault(c, set()).update(Errno(e) for e in errors)
    return {k: frozenset(v) for k, v in out.items()}


def result_violation(call: str, value: Any) -> str | None:
    """Why `value` is not a well-typed result of `call` (T2), or None if it is."""
    if call not in RESULT_SHAPES:
        return f"RET for unknown call {call!r}"
    if isinstance(value, Fail):
        if not isinstance(value.errno, Errno):
            return f"{call}: FAIL of a non-error {value.errno!r}"
        if value.errno not in call_errors().get(call, frozenset()):
            return f"{call}: no rule answers it with FAIL {value.errno.value}"
        return None
    if not isinstance(value, Ok):
        return f"{call}: RET of {value!r}, neither OK nor FAIL"
    if not RESULT_SHAPES[call](value.value):
        return f"{call}: OK {value.value!r} is not of the call's result type"
    return None


# host_ok -----------------------------------------------------------------------------------

def host_violations(h: Host, consts: HostConsts | None = None, timing: Timing | None = None,
                    now: int = 0) -> list[Violation]:
    """Every broken conjunct of `host_ok h` at time `now` (empty iff host_ok holds)."""
    consts = consts if consts is not None else HostConsts()
    timing = timing if timing is not None else Timing()
    out: list[Violation] = []

    def bad(conj: str, detail: str) -> None:
        out.append(Violation(conj, detail))

    _interfaces(h, bad)
    _sockets(h, consts, bad)
    _threads(h, consts, timing, now, bad)
    _outqueue(h, consts, timing, now, bad)
    return out


def remember(memo: dict[Any, Any], size: int, key: Any, entry: Any) -> None:
    """Store `entry` at `key` in a checker's bounded memo (`HostOkMemo`, and the core's
    `MachineMemo` and `PartsMemo`): when it holds `size` entries, the older half (at least
    one) is dropped first (a dict keeps insertion order)."""
    if len(memo) >= size:
        for k in list(memo)[: max(1, size // 2)]:
            del memo[k]
    memo[key] = entry


class HostOkMemo:
    """`host_violations` for a checker that sees many hosts sharing components (exploration):
    the conjuncts that do not depend on time (I1–I2 over `ifds`; S1–S7 over `s`, `ifds` and,
    when a socket is closed, `ts`) are memoised by the identity of the components they read
    (the memo holds those immutable objects, so an `id` is never reused while memoised); the
    timed ones (threads, out-queue) are checked every time. Same list, same order, as
    `host_violations`. Bounded: when full, the older half is dropped."""

    def __init__(self, size: int = 4096) -> None:
        self._memo: dict[tuple[int, ...], tuple[tuple[Any, ...], list[Violation]]] = {}
        self._size = size
        self._last: tuple[Host, int, HostConsts, Timing, list[Violation]] | None = None

    def _static(self, parts: tuple[Any, ...], check: Callable[[Bad], None]) -> list[Violation]:
        key = tuple([id(p) for p in parts])
        hit = self._memo.get(key)
        if hit is not None:
            kept = hit[0]
            for i in range(len(parts)):  # a loop, not all() over a generator: 3× faster
                if kept[i] is not parts[i]:
                    break
            else:
                return hit[1]
        found: list[Violation] = []
        check(lambda conj, detail: found.append(Violation(conj, detail)))
        remember(self._memo, self._size, key, (parts, found))
        return found

    def violations(self, h: Host, consts: HostConsts, timing: Timing,
                   now: int) -> list[Violation]:
        last = self._last
        if last is not None and last[0] is h and last[1] == now and last[2] is consts \
                and last[3] is timing:
            return list(last[4])  # the same host at the same time (host_ok, then network_ok)
        out = self._violations(h, consts, timing, now)
        self._last = (h, now, consts, timing, out)
        return list(out)

    def _violations(self, h: Host, consts: HostConsts, timing: Timing,
                    now: int) -> list[Violation]:
        out = list(self._static((h.ifds,), lambda bad: _interfaces(h, bad)))
        closed = any(s.cl for s in h.s)
        out.extend(self._static((h.s, h.ifds, consts, h.ts if closed else None),
                                lambda bad: _sockets(h, consts, bad)))

        def bad(conj: str, detail: str) -> None:
            out.append(Violation(conj, detail))

        _threads(h, consts, timing, now, bad)
        _outqueue(h, consts, timing, now, bad)
        return out


def host_ok(h: Host, consts: HostConsts | None = None, timing: Timing | None = None,
            now: int = 0) -> bool:
    """`host_ok h` (docs/model.md#invariants) at time `now`."""
    return not host_violations(h, consts, timing, now)


def ctx_violations(ctx: RuleCtx, h: Host) -> list[Violation]:
    """`host_violations` with the constants, timing and time of a rule context."""
    return host_violations(h, ctx.consts, ctx.timing, ctx.now)


Bad = Callable[[str, str], None]


def _interfaces(h: Host, bad: Bad) -> None:
    los = [i for i in h.ifds if i.ifid == LO]
    if len(los) != 1:
        bad("I1", f"{len(los)} loopback interfaces, not exactly one")
    elif los[0] != LO_INTERFACE:
        bad("I1", f"the loopback interface is {los[0]}, not {{LO, {{127.0.0.1}}, 127.0.0.1, 8}}")
    ids = [i.ifid for i in h.ifds]
    if len(set(ids)) != len(ids):
        bad("I1", f"ifids are not distinct: {ids}")
    for i in h.ifds:
        if not _ifid_ok(i.ifid):
            bad("I1", f"malformed ifid {i.ifid!r}")
        if not isinstance(i.up, bool):
            bad("I3", f"{i.ifid} has up = {i.up!r}, not a boolean")
        if i.mtu is not None and not (_is_int(i.mtu) and 68 <= i.mtu <= 65536):
            bad("I3", f"{i.ifid} has mtu = {i.mtu!r}, not in 68..65536")
        pm = i.pmtu
        if not isinstance(pm, tuple) or (pm and i.is_lo) or any(
                not (isinstance(e, tuple) and len(e) == 2 and is_ip(e[0]) and _is_int(e[1])
                     and MIN_PMTU <= e[1] < i.link_mtu) for e in pm) or \
                [e[0] for e in pm] != sorted({e[0] for e in pm}):
            bad("I3", f"{i.ifid} has learned path MTUs {pm!r}, not sorted (address, MTU) "
                      f"pairs with {MIN_PMTU} ≤ MTU < the interface's")
    seen: dict[int, Any] = {}
    for i in h.ifds:
        if list(i.ipset) != sorted(set(i.ipset)):
            bad("R1", f"ipset of {i.ifid} is not a sorted tuple without duplicates")
        if i.primary not in i.ipset:
            bad("I2", f"primary of {i.ifid} is not in its ipset")
        if not (_is_int(i.netmask) and 0 <= i.netmask <= 32):
            bad("I2", f"netmask of {i.ifid} is {i.netmask!r}, not in 0..32")
        for a in i.ipset:
            if not is_ip(a):
                bad("I2", f"{i.ifid} has a non-32-bit address {a!r}")
                continue
            if i.is_lo:
                continue
            if is_loopback(a) or is_martian(a):
                bad("I2", f"{i.ifid} has a loopback or martian address {a}")
            if a in seen:
                bad("I2", f"address {a} is on both {seen[a]} and {i.ifid}")
            seen[a] = i.ifid


def _sockets(h: Host, consts: HostConsts, bad: Bad) -> None:
    fds = [s.fd for s in h.s]
    if len(set(fds)) != len(fds):
        bad("S1", f"socket fds are not distinct: {fds}")
    for fd in fds:
        if not _is_fd(fd):
            bad("S1", f"socket fd {fd!r} is not a natural number")
        if fd in consts.console:
            bad("S1", f"socket fd {fd} is a console fd")
    n = len(used_fds(h, consts))
    if n > consts.open_max:
        bad("S1", f"{n} fds in use, more than OPEN_MAX = {consts.open_max}")
    for s in h.s:
        where = f"socket {s.fd}"
        for name, v in (("is1", s.is1), ("is2", s.is2)):
            if not is_ip_opt(v):
                bad("S2", f"{where}: {name} = {v!r} is not a 32-bit address")
        for name, v in (("ps1", s.ps1), ("ps2", s.ps2)):
            if not is_port_opt(v):
                bad("S2", f"{where}: {name} = {v!r} is not a port in 1..65535")
        # IP_FREEBIND binds an address the host lacks (bind_7); such a socket has no route, so
        # it is never connected; a broadcast or multicast one (bind_8) may be connected
        # [L: Linux 6.18, experiment]
        if s.is1 is not None and is_ip(s.is1) and not local(h, s.is1) and \
                not bindable_bcast(h, s.is1) and (
                not freebindable(h, s.is1) or s.is2 is not None):
            bad("S2", f"{where}: local address {s.is1} is not local")
        if s.is2 is None and s.ps2 is not None:
            bad("S3", f"{where}: a peer port without a peer address")
        if s.is2 is not None and (s.is1 is None or s.ps1 is None):
            bad("S3", f"{where}: connected without a local address and port")
        la, lp = s.lk
        if la and s.is1 is None:
            bad("S4", f"{where}: lk.la set but is1 is None")
        if lp and s.ps1 is None:
            bad("S4", f"{where}: lk.lp set but ps1 is None")
        if s.es not in (None, Errno.ECONNREFUSED, Errno.EHOSTUNREACH, Errno.ENETUNREACH,
                        Errno.EMSGSIZE):
            bad("S5", f"{where}: pending error {s.es!r} is not one ICMP sets")
        for k, m in enumerate(s.mq):
            if not isinstance(m.body, UDP):
                bad("S6", f"{where}: mq[{k}] is not a UDP datagram")
            if not msg_ok(m):
                bad("S6", f"{where}: mq[{k}] is not msg_ok")
                continue
            if is_martian(m.src):
                bad("S6", f"{where}: mq[{k}] has a martian source {m.src}")
            # A broadcast delivered on this host keeps its broadcast destination
            # (delivery_loopback_bcast_1; Linux 6.18, experiment).
            if not local(h, m.dst) and not linux_bcast(h, m.dst):
                bad("S6", f"{where}: mq[{k}] has a destination {m.dst} that is neither "
                          "local nor a broadcast address")
        if s.cl and not refs(h, s.fd):
            bad("S7", f"{where}: closed but no blocked thread refers to it")
        _s8(s, consts, where, bad)


def _s8(s: Any, consts: HostConsts, where: str, bad: Bad) -> None:
    if not (isinstance(s.shut, tuple) and len(s.shut) == 2
            and all(isinstance(x, bool) for x in s.shut)):
        bad("S8", f"{where}: shut = {s.shut!r} is not a pair of booleans")
    if not isinstance(s.f.broadcast, bool):
        bad("S8", f"{where}: SO_BROADCAST = {s.f.broadcast!r} is not a boolean")
    jiffy = 1_000_000_000 // consts.hz
    for name, t in (("rcvtimeo", s.rcvtimeo), ("sndtimeo", s.sndtimeo)):
        if t is not None and not (_is_int(t) and t >= 0 and t % jiffy == 0):
            bad("S8", f"{where}: {name} = {t!r} is not a whole number of jiffies")
    if s.rcvbuf is not None and not (_is_int(s.rcvbuf) and s.rcvbuf >= SOCK_MIN_RCVBUF):
        bad("S8", f"{where}: rcvbuf = {s.rcvbuf!r} is below {SOCK_MIN_RCVBUF}")
    if not isinstance(s.f.recverr, bool):
        bad("S8", f"{where}: IP_RECVERR = {s.f.recverr!r} is not a boolean")
    if not all(isinstance(x, bool) for x in (s.f.reuseport, s.f.freebind, s.f.rxq_ovfl)):
        bad("S8", f"{where}: SO_REUSEPORT / IP_FREEBIND / SO_RXQ_OVFL are not booleans")
    if not (_is_int(s.drops) and s.drops >= 0):
        bad("S8", f"{where}: drops = {s.drops!r} is not a count")
    elif s.mqd and not (len(s.mqd) == len(s.mq) and any(s.mqd)
                        and all(_is_int(d) and 0 <= d <= s.drops for d in s.mqd)):
        bad("S8", f"{where}: mqd = {s.mqd!r} is not one stamp (at most drops = {s.drops}) "
                  "per queued datagram, some of them non-zero")
    if not isinstance(s.f.select_err_queue, bool):
        bad("S8", f"{where}: SO_SELECT_ERR_QUEUE = {s.f.select_err_queue!r} is not a boolean")
    if s.sndbuf is not None and not (_is_int(s.sndbuf) and s.sndbuf >= SOCK_MIN_SNDBUF):
        bad("S8", f"{where}: sndbuf = {s.sndbuf!r} is below {SOCK_MIN_SNDBUF}")
    if s.ttl is not None and not (_is_int(s.ttl) and 1 <= s.ttl <= 255):
        bad("S8", f"{where}: IP_TTL = {s.ttl!r} is not in 1..255")
    if not (_is_int(s.pmtudisc) and 0 <= s.pmtudisc <= 5):
        bad("S8", f"{where}: IP_MTU_DISCOVER = {s.pmtudisc!r} is not in 0..5")
    for k, ent in enumerate(s.eq):
        frag = isinstance(ent, ErrEntry) and ent.kind == IcmpKind.FRAG_NEEDED
        if not (isinstance(ent, ErrEntry)
                and ent.errno in (Errno.ECONNREFUSED, Errno.EHOSTUNREACH, Errno.ENETUNREACH,
                                  Errno.EMSGSIZE)
                and _is_int(ent.info) and (0 <= ent.info <= 65535 if frag else ent.info == 0)
                and is_ip(ent.ip) and is_port_opt(ent.port) and isinstance(ent.data, bytes)
                and len(ent.data) <= ICMP_QUOTE_MAX and is_ip_opt(ent.offender)
                and ent.kind in ICMP_TYPE_CODE):
            bad("S8", f"{where}: error-queue entry {k} {ent!r} is not (ICMP error, ip, port, "
                      f"a quote of at most {ICMP_QUOTE_MAX} bytes, offender, ICMP kind)")


def _timed_wait_ok(s: Any, st: Any, dl: int, now: int) -> bool:
    """T1 for RECVFROM2/SENDTO2: no timer, or a timer on a socket that is still there.

    The timer comes from the socket's SO_RCVTIMEO / SO_SNDTIMEO as it was when the call
    blocked; Linux reads the timeout once, at the call's entry, so a later setsockopt does not
    change a call already waiting (and the timer may then exceed, or lack, the socket's current
    timeout)."""
    del st, now
    return dl == NEVER or s is not None


def _threads(h: Host, consts: HostConsts, timing: Timing, now: int, bad: Bad) -> None:
    tids = [e.tid for e in h.ts]
    if tids != sorted(set(tids)):
        bad("R1", f"ts is not sorted by distinct tids: {tids}")
    exits = [e.tid for e in h.ts if isinstance(e.state, ExitState)]
    zombies = [e.tid for e in h.ts if isinstance(e.state, Zombie)]
    if len(exits) > 1:
        bad("T6", f"several threads in EXIT: {exits}")
    if exits:
        others = [e.tid for e in h.ts
                  if not isinstance(e.state, (ExitState, Zombie))]
        if others:
            bad("T6", f"thread {exits[0]} is EXIT but {others} are not ZOMBIE")
    elif zombies:
        bad("T6", f"ZOMBIE threads {zombies} without an EXIT thread")
    by_fd = {s.fd: s for s in h.s}
    for e in h.ts:
        st, dl, where = e.state, e.deadline, f"thread {e.tid}"
        if dl < now:
            bad("G1", f"{where}: timer {dl - now} ns is negative")
        if isinstance(st, (Run, Zombie)):
            if dl != NEVER:
                bad("T1", f"{where}: {type(st).__name__} with a finite timer")
        elif isinstance(st, (SendTo2, RecvFrom2)):
            if not _timed_wait_ok(by_fd.get(st.fd), st, dl, now):
                bad("T1", f"{where}: {type(st).__name__} with a finite timer its socket's "
                          "timeout does not allow")
        elif isinstance(st, (Ret, Print2, ExitState)):
            if not now <= dl <= now + timing.dsch:
                bad("T1", f"{where}: {type(st).__name__} timer {dl - now} ns is not in "
                          f"[0, dsch = {timing.dsch}]")
        elif isinstance(st, Delay2):
            if dl >= NEVER:
                bad("T1", f"{where}: DELAY2 with an infinite timer")
        elif isinstance(st, (Select2, Poll2)):
            pass  # any timer in [0, ∞]; G1 covers the lower bound
        else:
            bad("T1", f"{where}: unknown thread state {st!r}")
        if isinstance(st, Ret):
            why = result_violation(st.call, st.value)
            if why is not None:
                bad("T2", f"{where}: {why}")
        elif isinstance(st, RecvFrom2):
            s = by_fd.get(st.fd)
            if s is None:
                bad("T3", f"{where}: RECVFROM2 on fd {st.fd}, which has no socket")
            elif s.ps1 is None:
                bad("T3", f"{where}: RECVFROM2 on socket {st.fd}, which has no port")
            if st.via not in ("recvfrom", "recv", "read"):
                bad("T3", f"{where}: RECVFROM2 made by {st.via!r}, not recvfrom, recv or read")
        elif isinstance(st, SendTo2):
            _t4(h, st, by_fd, where, bad)
        elif isinstance(st, Select2):
            for fd in (*st.reads, *st.writes, *(st.excepts or ())):
                if fd not in by_fd and fd not in consts.console:
                    bad("T5", f"{where}: SELECT2 on fd {fd}, neither a socket nor console")
        elif isinstance(st, Poll2):
            # Any fd may be polled (a bad one answers POLLNVAL); the entries are well typed.
            for ent in st.fds:
                if not (isinstance(ent, tuple) and len(ent) == 2 and _is_int(ent[0])
                        and _is_int(ent[1]) and 0 <= ent[1] <= 0xFFFF):
                    bad("T5", f"{where}: POLL2 entry {ent!r} is not (fd, events)")
            polled = {ent[0] for ent in st.fds if isinstance(ent, tuple) and ent}
            if list(st.closed0) != sorted(set(st.closed0)) or not set(st.closed0) <= polled:
                bad("T5", f"{where}: POLL2 closed0 {st.closed0!r} is not a sorted set of "
                          "polled fds")


def _t4(h: Host, st: SendTo2, by_fd: dict[int, Any], where: str, bad: Bad) -> None:
    s = by_fd.get(st.fd)
    if s is None:
        bad("T4", f"{where}: SENDTO2 on fd {st.fd}, which has no socket")
    elif s.ps1 is None:
        bad("T4", f"{where}: SENDTO2 on socket {st.fd}, which has no port")
    if not (isinstance(st.q, tuple) and len(st.q) == 4):
        bad("T4", f"{where}: SENDTO2 quad {st.q!r} is not a quad")
        return
    is1, ps1, is2, ps2 = st.q
    if ps1 is None:
        bad("T4", f"{where}: SENDTO2 quad has no local port")
    if not (is_ip_opt(is1) and is_ip_opt(is2) and is_port_opt(ps1) and is_port_opt(ps2)):
        bad("T4", f"{where}: SENDTO2 quad {st.q!r} is ill-typed")
    elif is1 is not None and not local(h, is1) and not bindable_bcast(h, is1):
        bad("T4", f"{where}: SENDTO2 quad has a non-local source {is1}")
    if st.dest is not None and not (isinstance(st.dest, tuple) and len(st.dest) == 2
                                    and is_ip(st.dest[0]) and is_port(st.dest[1])):
        bad("T4", f"{where}: SENDTO2 destination {st.dest!r} is ill-typed")
    if not isinstance(st.data, bytes) or len(st.data) > UDP_PAYLOAD_MAX:
        bad("T4", f"{where}: SENDTO2 data is not a string of at most {UDP_PAYLOAD_MAX} bytes")
    if st.dest is None and is2 is None:
        bad("T4", f"{where}: SENDTO2 with neither a destination nor a peer")


def _outqueue(h: Host, consts: HostConsts, timing: Timing, now: int, bad: Bad) -> None:
    for k, m in enumerate(h.oq):
        if not msg_ok(m):
            bad("Q1", f"oq[{k}] is not msg_ok")
        elif not local(h, m.src):
            bad("Q1", f"oq[{k}] has a non-local source {m.src}")
    dl = h.oq_deadline
    if not h.oq and dl != NEVER:
        bad("Q2", "the out-queue is empty but its timer is finite")
    if h.oq and not now <= dl <= now + timing.doq:
        bad("Q2", f"the out-queue timer {dl - now} ns is not in [0, doq = {timing.doq}]")
    if dl < now:
        bad("G1", f"the out-queue timer {dl - now} ns is negative")
    if h.oqf != full(consts, h.oq):
        bad("Q3", f"oqf = {h.oqf} but full(oq) = {full(consts, h.oq)} "
                  f"(len {len(h.oq)}, OQ_CAP {consts.oq_cap})")


__all__ = [
    "HOST_CONJUNCTS",
    "RESULT_SHAPES",
    "HostOkMemo",
    "Violation",
    "call_errors",
    "ctx_violations",
    "host_ok",
    "host_violations",
    "is_ip",
    "is_port",
    "remember",
    "result_violation",
]
