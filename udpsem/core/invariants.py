"""`network_ok` (docs/model.md#invariants) as an executable predicate over a `World`.

`network_violations(setup, world)` returns one `Violation` per broken conjunct (empty iff
`network_ok`); host conjuncts keep their names (docs/model.md) and name the machine in `where`.
The network-level conjuncts are named here:

* **N1** no two machines share a host name.
* **N2** no two live machines share a non-loopback address, and `setup.owners` (what
  `net_emit` routes by) names the machine that has each address.
* **N3** structure: every live machine has its constants; a crashed machine has no
  component left (HOST, snippets, store answers, application all became 0).
* **N4** no two snippets (THREAD or THREADCREATE) of one machine share a tid, and every
  snippet's tid is in `dom(ts)` of its host.
* **C1** a snippet waiting for a LIB answer (no store answer pending) has `ts(tid) ≠ RUN`.
* **C2** a `RUN` thread's snippet is not waiting on the host; and [R, local receptiveness]
  a thread the host will answer (`RET`, a blocked `*2` state, `PRINT2`, `EXIT`) has a
  snippet waiting for that answer, or nobody could take `ret` (a time-stop).
* **C3** a `STORERET(tid)` exists iff snippet tid waits for the store: at most one per tid,
  its snippet exists, is waiting, is not creating, and is not in a LIB call.
* **M1** every message in transit is `msg_ok` and its timer is in `[0, dpropmax]`.
* **M2** [L] a datagram held for neighbour resolution (network.neighbours) is held by a
  live machine with dynamic neighbours, from one of its addresses, is UDP; its entry began
  no later than now, and its timer is one of the entry's probes (since + k·NEIGH_RETRANS,
  1 ≤ k ≤ NEIGH_PROBES), at most NEIGH_RETRANS ahead. One the router holds (`router`) has
  a sender that is a machine (live or not), with a router leg (not prohibit) for the
  destination. Every entry holds at most UNRES_QLEN_BYTES (its datagrams' charges).
* **G2** every snippet, store answer and application timer is `≥ 0`; a computing snippet's
  is at most `dthread`, a waiting one's is `∞`, a store answer's at most `dstore`.
* **E1** every scheduled environment event will apply when it is due (an ifdown needs an
  interface that is up, an ifup one that is down, and they alternate likewise)
  (docs/model.md#faults): it names a machine of the world that is alive, is not in
  the past, and a machine's pending disconnects and reconnects alternate, starting with
  the one its connection state admits (a disconnect if connected); a crash is a machine's
  last pending event. So no event fires as a step that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from udpsem.base.time import NEVER
from udpsem.hosts.invariants import HostOkMemo, Violation, host_violations, remember
from udpsem.hosts.state import NEIGH_PROBES, NEIGH_RETRANS, Run, Zombie
from udpsem.network import neighbours
from udpsem.network.messages import UDP, msg_ok
from udpsem.network.rules import router_leg
from udpsem.state.world import InFlight, Machine, Setup, World

NETWORK_CONJUNCTS = ("N1", "N2", "N3", "N4", "C1", "C2", "C3", "M1", "M2", "G2", "E1")


class MachineMemo:
    """Results of a pure function of (one immutable component, the time), memoised by the
    component's identity and the time: for a checker that sees many worlds sharing
    components (exploration, where a successor changes one machine and keeps the others at
    the same time), so that a conjunct over an unchanged component costs a lookup. The memo
    holds the component, so an `id` is never reused while memoised. Bounded: when full, the
    older half is dropped. It lives in a driver's memo, never seen by a rule."""

    def __init__(self, size: int = 1024) -> None:
        self._memo: dict[tuple[int, int], tuple[Any, Any]] = {}
        self._size = size
        self.hits = 0
        self.misses = 0

    def get(self, x: Any, now: int, compute: Callable[..., Any], *args: Any) -> Any:
        """`compute(*args)`, a function of `x` and `now` alone, memoised."""
        key = (id(x), now)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is x:
            self.hits += 1
            return hit[1]
        self.misses += 1
        value = compute(*args)
        remember(self._memo, self._size, key, (x, value))
        return value


class PartsMemo:
    """Results of a pure function of some immutable parts and some plain values, memoised by
    the parts' identities and the values: the whole-world conjuncts N1, N2 and E1 read only
    the schedule, the time and the machines' names, connections and interfaces, which most
    successors share with their parent (exploration: a step changes one machine and keeps
    its interfaces). The memo holds the parts, so an `id` is never reused while memoised.
    Bounded: when full, the older half is dropped. It lives in a checker's memo
    (exploration's), never seen by a rule, and serves one `Setup`."""

    def __init__(self, size: int = 1024) -> None:
        self._memo: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
        self._size = size
        self.hits = 0
        self.misses = 0

    def get(self, parts: tuple[Any, ...], values: tuple[Any, ...],
            compute: Callable[..., Any], *args: Any) -> Any:
        """`compute(*args)`, a function of `parts` (by identity) and `values` (by equality)
        alone, memoised."""
        key = (values, *[id(p) for p in parts])
        hit = self._memo.get(key)
        if hit is not None:
            kept = hit[0]
            same = True
            for i in range(len(parts)):
                if kept[i] is not parts[i]:
                    same = False
                    break
            if same:
                self.hits += 1
                return hit[1]
        self.misses += 1
        value = compute(*args)
        remember(self._memo, self._size, key, (parts, value))
        return value


def network_violations(setup: Setup, w: World, host_memo: HostOkMemo | None = None,
                       machine_memo: MachineMemo | None = None,
                       world_memo: PartsMemo | None = None) -> list[Violation]:
    """Every broken conjunct of `network_ok` for world `w` (empty iff it holds). A checker
    that sees many worlds sharing components may pass memos (same list, in the same order,
    less work): a `HostOkMemo`; a `MachineMemo`, since the conjuncts over one machine (its
    host's `host_ok`, N4, C1–C3, G2) read that machine and the time alone, so an unchanged
    machine at the same time is not checked again; and a `PartsMemo` for the whole-world
    conjuncts N1, N2 and E1, which read only the schedule, the time and each machine's name,
    connection and interfaces, all of which most successors share with their parent
    (incremental checking). The messages (M1, M2) are checked every time: their check costs
    about what a memo lookup would."""
    out: list[Violation] = []
    ms = w.machines
    now = w.now
    if world_memo is None:
        first, per_machine, sched = _whole_world(setup, w)
    else:
        parts: list[Any] = [w.schedule]
        values: list[Any] = [now]
        for m in ms:
            parts.append(None if m.host is None else m.host.ifds)
            values.append(m.name)
            values.append(m.conn)
        first, per_machine, sched = world_memo.get(tuple(parts), tuple(values), _whole_world,
                                                   setup, w)
    out.extend(first)
    for i, m in enumerate(ms):
        if m.host is None:
            if m.snippets or m.storerets or m.apps or m.conn:
                out.append(Violation("N3", "a crashed machine still has components or is "
                                           "connected", m.name))
            continue
        if m.name not in setup.consts:
            out.append(Violation("N3", "no host constants for this machine", m.name))
            continue
        out.extend(per_machine[i])
        if machine_memo is None:
            out.extend(_machine_violations(setup, now, m, host_memo))
        else:
            out.extend(machine_memo.get(m, now, _machine_violations, setup, now, m,
                                        host_memo))
    dpropmax = setup.timing.dpropmax
    for k, f in enumerate(w.net):
        if not msg_ok(f.msg):
            out.append(Violation("M1", f"message {k} in transit is not msg_ok: {f.msg}"))
        if f.hold is not None:
            out.extend(_held(setup, w, k, f))
            continue
        d = f.deadline - now
        if not 0 <= d <= dpropmax:
            out.append(Violation("M1", f"message {k} in transit has timer {d} ns, not in "
                                       f"[0, dpropmax = {dpropmax}]"))
    out.extend(sched)
    return out


def _whole_world(setup: Setup, w: World
                 ) -> tuple[list[Violation], list[list[Violation]], list[Violation]]:
    """N1, N2 of each machine, and E1: a function of the schedule, the time and each
    machine's name, connection and interfaces (and the setup)."""
    first, per_machine = _addresses(setup, w.machines)
    return first, per_machine, _schedule(w)


def _addresses(setup: Setup, ms: tuple[Machine, ...]
               ) -> tuple[list[Violation], list[list[Violation]]]:
    """N1, and N2 of each machine (empty for a crashed one or one without constants, which
    N3 names): a function of the machines' names and interfaces (and the setup)."""
    first: list[Violation] = []
    names = [m.name for m in ms]
    if len(set(names)) != len(names):
        first.append(Violation("N1", f"host names are not distinct: {names}"))
    seen: dict[int, str] = {}
    per_machine: list[list[Violation]] = []
    for m in ms:
        out: list[Violation] = []
        per_machine.append(out)
        if m.host is None or m.name not in setup.consts:
            continue
        for iface in m.host.ifds:
            if iface.is_lo:
                continue
            for a in iface.ipset:
                if a in seen and seen[a] != m.name:
                    out.append(Violation("N2", f"address {a} is also {seen[a]}'s", m.name))
                seen[a] = m.name
                if setup.owners.get(a) != m.name:
                    out.append(Violation("N2", f"the network routes {a} to "
                                               f"{setup.owners.get(a)}", m.name))
    return first, per_machine


def _schedule(w: World) -> list[Violation]:
    """E1: every pending scheduled event applies when it is due."""
    out: list[Violation] = []
    machines = {m.name: m for m in w.machines}
    conn = {name: m.conn for name, m in machines.items()}
    # (some non-loopback interface up, some down): what an ifdown / an ifup needs
    ifs = {name: (any(not i.is_lo and i.up for i in m.host.ifds),
                  any(not i.is_lo and not i.up for i in m.host.ifds))
           for name, m in machines.items() if m.host is not None}
    crashed: set[str] = set()
    for ev in w.schedule:
        m = machines.get(ev.host)
        what = f"scheduled {ev.kind} at {ev.at} ns"
        if m is None:
            out.append(Violation("E1", f"{what} names no machine of the world", ev.host))
        elif m.host is None or ev.host in crashed:
            out.append(Violation("E1", f"{what}: the machine has crashed by then", ev.host))
        elif ev.at < w.now:
            out.append(Violation("E1", f"{what} is in the past (now {w.now} ns)", ev.host))
        elif ev.kind == "crash":
            crashed.add(ev.host)
        elif ev.kind in ("disconnect", "reconnect"):
            if conn[ev.host] != (ev.kind == "disconnect"):
                state = "connected" if conn[ev.host] else "disconnected"
                out.append(Violation("E1", f"{what} cannot apply: the machine is {state} "
                                           "by then", ev.host))
            conn[ev.host] = not conn[ev.host]
        elif ev.kind in ("ifdown", "ifup"):
            some_up, some_down = ifs[ev.host]
            if not (some_up if ev.kind == "ifdown" else some_down):
                out.append(Violation("E1", f"{what} cannot apply: no interface of the machine "
                                           f"is {'up' if ev.kind == 'ifdown' else 'down'} by "
                                           "then", ev.host))
            ifs[ev.host] = (ev.kind == "ifup", ev.kind == "ifdown")
        else:
            out.append(Violation("E1", f"{what}: unknown event kind", ev.host))
    return out


def _held(setup: Setup, w: World, k: int, f: InFlight) -> list[Violation]:
    """M2 for held datagram number k."""
    out: list[Violation] = []

    def bad(detail: str) -> None:
        out.append(Violation("M2", f"held datagram {k}: {detail}", f.src))

    assert f.hold is not None
    names = {m.name: m for m in w.machines}
    m = names.get(f.src) if f.src is not None else None
    if f.router:  # held by the router on its way: the sender may have gone since
        if m is None:
            bad("its sender is no machine")
        else:
            leg = router_leg(setup.consts[m.name].router_legs, f.msg.dst)
            if leg is None or leg.prohibit:
                bad("its destination is on none of its sender's router legs")
    elif m is None or m.host is None:
        bad("its holder is not a live machine")
    else:
        if not setup.consts[m.name].neigh:
            bad("its holder has static neighbours")
        if not any(f.msg.src in i.ipset for i in m.host.ifds):
            bad("its source is not an address of its holder")
    if not isinstance(f.msg.body, UDP):
        bad("it is not UDP")
    span = f.deadline - f.hold
    if f.hold > w.now:
        bad(f"its entry begins in the future ({f.hold - w.now} ns)")
    if span % NEIGH_RETRANS or not 1 <= span // NEIGH_RETRANS <= NEIGH_PROBES:
        bad(f"its timer is {span} ns after the entry began, not a probe")
    if not 0 <= f.deadline - w.now <= NEIGH_RETRANS:
        bad(f"its timer {f.deadline - w.now} ns is not in [0, NEIGH_RETRANS]")
    if isinstance(f.msg.body, UDP):
        queued = neighbours.queued_bytes(w, f, neighbours.entry_mtu(w, f))
        if queued > neighbours.UNRES_QLEN_BYTES:
            bad(f"its entry holds {queued} bytes, above UNRES_QLEN_BYTES")
    return out


def network_ok(setup: Setup, w: World) -> bool:
    """`network_ok` (docs/model.md#invariants)."""
    return not network_violations(setup, w)


def _machine_violations(setup: Setup, now: int, m: Machine,
                        host_memo: HostOkMemo | None) -> list[Violation]:
    """host_ok of the machine's host, then N4, C1–C3 and G2: a function of (m, now)."""
    assert m.host is not None
    hv = host_violations if host_memo is None else host_memo.violations
    out = [Violation(v.conjunct, v.detail, m.name)
           for v in hv(m.host, setup.consts[m.name], setup.timing, now)]
    out.extend(_agreement(setup, now, m))
    return out


def _agreement(setup: Setup, now: int, m: Machine) -> list[Violation]:
    """N4, C1–C3 and G2 for one live machine."""
    assert m.host is not None
    out: list[Violation] = []
    t = setup.timing

    def bad(conj: str, detail: str) -> None:
        out.append(Violation(conj, detail, m.name))

    ts = {e.tid: e for e in m.host.ts}
    tids = [s.tid for s in m.snippets]
    if len(set(tids)) != len(tids):
        bad("N4", f"snippet tids are not distinct: {tids}")
    rets: dict[int, int] = {}
    for r in m.storerets:
        rets[r.tid] = rets.get(r.tid, 0) + 1
        if not now <= r.deadline <= now + t.dstore:
            bad("G2", f"STORERET({r.tid}) timer {r.deadline - now} ns is not in "
                      f"[0, dstore = {t.dstore}]")
    for tid, n in rets.items():
        if n > 1:
            bad("C3", f"{n} pending store answers for thread {tid}")
    snips = {s.tid: s for s in m.snippets}
    for s in m.snippets:
        where = f"snippet {s.tid}"
        e = ts.get(s.tid)
        if e is None:
            bad("N4", f"{where}: tid is not in dom(ts)")
        waiting = s.request is None
        if waiting and s.deadline != NEVER:
            bad("G2", f"{where}: waiting with a finite timer")
        if not waiting and not now <= s.deadline <= now + t.dthread:
            bad("G2", f"{where}: computing with timer {s.deadline - now} ns, not in "
                      f"[0, dthread = {t.dthread}]")
        if s.tid in rets:
            if not waiting or s.creating is not None:
                bad("C3", f"{where}: a store answer is pending but it does not wait for it")
            elif e is not None and not isinstance(e.state, (Run, Zombie)):
                bad("C3", f"{where}: waits for the store while in a LIB call "
                          f"({type(e.state).__name__})")
        elif waiting and e is not None and isinstance(e.state, Run):
            bad("C1", f"{where}: waits for a LIB answer but ts({s.tid}) = RUN")
    for r in m.storerets:
        if r.tid not in snips:
            bad("C3", f"STORERET({r.tid}) for a thread without a snippet")
    for e in m.host.ts:
        if isinstance(e.state, (Run, Zombie)):
            continue
        snip = snips.get(e.tid)
        if snip is None or snip.request is not None or e.tid in rets:
            bad("C2", f"thread {e.tid} is {type(e.state).__name__} but no snippet waits for "
                      "the host's answer")
    for a in m.apps:
        if a.request is None and a.deadline != NEVER:
            bad("G2", f"application {a.tid}: waiting with a finite timer")
        if a.deadline < now:
            bad("G2", f"application {a.tid}: timer {a.deadline - now} ns is negative")
    return out


__all__ = ["NETWORK_CONJUNCTS", "MachineMemo", "PartsMemo", "Violation", "network_ok",
           "network_violations"]
