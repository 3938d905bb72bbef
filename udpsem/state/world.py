"""The state of the whole network term (docs/model.md): machines, messages in flight,
the environment's schedule, and what a run holds fixed (`Setup`). Plain immutable values; the
rules over them live in `programs.threads`, `network.rules`, `network.lifecycle` and the
hosts' rule modules, and `core.system` enumerates and fires them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.frozen import fast_init
from udpsem.base.time import NEVER
from udpsem.hosts.state import (
    Host,
    HostConsts,
    Ret,
    RuleCtx,
    Timing,
)
from udpsem.hosts.values import EXTENSION
from udpsem.network.faults import Faults
from udpsem.network.messages import IPMsg
from udpsem.state.components import (
    App,
    Snippet,
    StoreRet,
    ThreadRuntime,
)


@dataclass(frozen=True, slots=True)
class Machine:
    """Every component tagged with host name `name`. `host` is None once it crashed."""

    name: str
    conn: bool
    host: Host | None
    store: tuple[tuple[int, Any], ...] = ()
    snippets: tuple[Snippet, ...] = ()
    storerets: tuple[StoreRet, ...] = ()
    apps: tuple[App, ...] = ()

    def with_host(self, host: Host | None) -> Machine:
        """This machine with another host record (a fast `replace` for the hot path)."""
        return Machine(self.name, self.conn, host, self.store, self.snippets, self.storerets,
                       self.apps)

    def with_parts(self, *, store: tuple[tuple[int, Any], ...] | None = None,
                   snippets: tuple[Snippet, ...] | None = None,
                   storerets: tuple[StoreRet, ...] | None = None,
                   apps: tuple[App, ...] | None = None) -> Machine:
        """This machine with the given components replaced (a fast `replace`)."""
        return Machine(self.name, self.conn, self.host,
                       self.store if store is None else store,
                       self.snippets if snippets is None else snippets,
                       self.storerets if storerets is None else storerets,
                       self.apps if apps is None else apps)

    def snippet(self, tid: int) -> Snippet | None:
        for s in self.snippets:
            if s.tid == tid:
                return s
        return None


@dataclass(frozen=True, slots=True)
class InFlight:
    """`msg_d`: a datagram in transit, arriving at `deadline`; `src` is the sending machine
    (None for injected ones), `seq` a serial number that keeps the order canonical; `hold`
    marks a datagram its sender's link layer (or, with `router`, the router on its way) still
    holds (see network.neighbours)."""

    msg: IPMsg
    deadline: int
    src: str | None
    seq: int
    # Held by `src` for neighbour resolution since this time (network.neighbours); the
    # deadline is then the entry's next probe. None: on the wire.
    hold: int | None = field(default=None, metadata=EXTENSION)
    # Held by the router between `src` and the destination, not by `src` (a router's own
    # neighbour wait, network.neighbours); only with `hold`.
    router: bool = field(default=False, metadata=EXTENSION)


@dataclass(frozen=True, slots=True)
class Event:
    """A scheduled environment event: `disconnect`, `reconnect` or `crash` of `host` at `at`."""

    at: int
    kind: str
    host: str


@dataclass(frozen=True, slots=True)
class World:
    """The network term at time `now`. `drops` counts, per host, the datagrams dropped in a
    row (needed for the bound on successive drops)."""

    now: int
    machines: tuple[Machine, ...]
    net: tuple[InFlight, ...] = ()
    schedule: tuple[Event, ...] = ()
    drops: tuple[tuple[str, int], ...] = ()
    seq: int = 0

    def machine(self, name: str) -> Machine:
        for m in self.machines:
            if m.name == name:
                return m
        raise KeyError(name)


@dataclass
class Setup:
    """What does not change during a run: timing, per-host constants and modules, faults, the
    thread runtime, the horizon, and which machine owns which (non-loopback) address."""

    timing: Timing
    consts: Mapping[str, HostConsts]
    modules: Mapping[str, Mapping[str, Any]]
    faults: Faults
    runtime: ThreadRuntime
    horizon: int = NEVER
    owners: dict[int, str] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Memoised derived data (an implementation detail; see `_machine_local`)."""

    def ctx(self, name: str, now: int) -> RuleCtx:
        """The rule context of machine `name` at `now`; the same object while `now`, the
        constants and the timing are (a RuleCtx is immutable, so sharing it is safe)."""
        key = ("ctx", name)
        c = self.memo.get(key)
        consts = self.consts[name]
        if c is None or c.now != now or c.consts is not consts or c.timing is not self.timing:
            c = RuleCtx(consts, self.timing, now)
            self.memo[key] = c
        return c



def put_machine(w: World, m: Machine) -> tuple[Machine, ...]:
    return tuple(m if x.name == m.name else x for x in w.machines)


def with_machine(w: World, m2: Machine) -> World:
    """`w` with machine `m2` put in place of the machine of the same name."""
    return World(w.now, put_machine(w, m2), w.net, w.schedule, w.drops, w.seq)


# World construction --------------------------------------------------------------------------

def initial_world(machines: tuple[Machine, ...], schedule: tuple[Event, ...] = ()) -> World:
    """A world at time 0 with machines sorted by name and the schedule sorted by time."""
    ms = tuple(sorted(machines, key=lambda m: m.name))
    names = [m.name for m in ms]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate host names in {names}")
    sched = tuple(sorted(schedule, key=lambda e: (e.at, e.host, e.kind)))
    return World(0, ms, (), sched)


def owners_of(machines: tuple[Machine, ...]) -> dict[int, str]:
    """Which machine owns each non-loopback address; ValueError if two share one."""
    owners: dict[int, str] = {}
    for m in machines:
        assert m.host is not None
        for iface in m.host.ifds:
            if iface.is_lo:
                continue
            for a in iface.ipset:
                if a in owners and owners[a] != m.name:
                    raise ValueError(f"address shared by {owners[a]} and {m.name}")
                owners[a] = m.name
    return owners


def ret_value_of(h: Host, tid: int) -> Any:
    """The pending return value of thread tid (testing aid)."""
    e = h.thread(tid)
    return e.state.value if e is not None and isinstance(e.state, Ret) else None

# Records built on every step: a faster __init__, same meaning (see base.frozen).
fast_init(Machine, InFlight, Event, World)
