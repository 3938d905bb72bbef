"""Building a world from a description of its hosts: the API for running your own programs.

A `HostSpec` names a machine, its addresses, the module its threads run, and the application
that drives it (a generator yielding `ModCall(fn, arg)` and `Sleep(ns)`). `build_world` turns
a list of them, a fault setting and a runtime into the `(Setup, World)` pair every driver
takes: `semantics.drivers.simulate`, `traces.record.run_world`, the explorer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import LAST, NEVER, deadline_after
from udpsem.hosts.state import HostConsts, Timing, eth, initial_host
from udpsem.hosts.values import ip
from udpsem.network.faults import Faults, union_windows
from udpsem.programs.runtime import APPLICATION, Registered
from udpsem.state.components import App, ModCall, Sleep
from udpsem.state.world import Event, Machine, Setup, World, initial_world, owners_of

Program = Callable[..., Any]


@dataclass(frozen=True)
class HostSpec:
    """One machine: `name`, its ETH addresses (eth0, eth1, ...; loopback is implicit), the
    module functions its application may call, and the application (tid 0) with its
    argument tuple, started at time `start` (ns). `consts` overrides the world's default."""

    name: str
    addresses: Sequence[str]
    app: Program | None = None
    arg: tuple[Any, ...] = ()
    start: int = 0
    module: Mapping[str, Program] = field(default_factory=dict)
    netmask: int = 24
    consts: HostConsts | None = None


def registered_module(spec: HostSpec) -> dict[str, Registered]:
    """The module of `spec` as the world registers it: each function under its name, run by
    the application's thread (tid 0). Thread identity comes from here (see
    `programs.runtime`), so one function registered under two names, or the same closure on
    two hosts, are different threads."""
    return {name: Registered(spec.name, 0, name, fn) for name, fn in spec.module.items()}


def fault_events(faults: Faults, names: Sequence[str]) -> tuple[Event, ...]:
    """The scheduled disconnect/reconnect/crash events; ValueError for an unknown host."""
    known = ", ".join(sorted(names))
    for w in faults.disconnects:
        if w.host not in names:
            raise ValueError(f"--disconnect names unknown host {w.host!r} (hosts: {known})")
    for c in faults.crashes:
        if c.host not in names:
            raise ValueError(f"--crash names unknown host {c.host!r} (hosts: {known})")
    # Only events that will apply are scheduled (docs/model.md#faults): overlapping
    # windows of a host are one window (their union), a host crashes at most once (at its
    # earliest crash), and nothing of a host is scheduled from its crash on (a crashed host
    # never returns; at the crash's instant the crash comes first, see `initial_world`).
    crash_at: dict[str, int] = {}
    for c in faults.crashes:
        crash_at[c.host] = min(c.at, crash_at.get(c.host, c.at))
    windows = union_windows(faults.disconnects)
    events = [Event(w.start, "disconnect", w.host) for w in windows]
    events += [Event(w.end, "reconnect", w.host) for w in windows if w.end is not None]
    events = [e for e in events if e.at < crash_at.get(e.host, e.at + 1)]
    events += [Event(at, "crash", host) for host, at in sorted(crash_at.items())]
    return tuple(events)


def build_world(hosts: Sequence[HostSpec], faults: Faults, runtime: Any, *,
                timing: Timing | None = None, consts: HostConsts | None = None,
                horizon: int = NEVER) -> tuple[Setup, World]:
    """The quiescent world of these machines, their applications and the fault schedule."""
    timing = timing or Timing()
    consts = consts or HostConsts()
    machines = []
    for spec in hosts:
        ifds = tuple(eth(k, ip(a), spec.netmask) for k, a in enumerate(spec.addresses))
        apps: tuple[App, ...] = ()
        if spec.app is not None:
            code, req = runtime.start(spec.app, spec.arg, (spec.name, 0, "app", APPLICATION))
            deadline = spec.start if isinstance(req, ModCall) else NEVER
            if isinstance(req, Sleep):
                deadline = deadline_after(spec.start, req.ns)
            apps = (App(0, code, req, deadline),)
        machines.append(Machine(spec.name, True, initial_host(ifds, (0,)), apps=apps))
    ms = tuple(machines)
    events = fault_events(faults, [m.name for m in ms])
    setup = Setup(timing=timing,
                  consts={s.name: s.consts or consts for s in hosts},
                  modules={s.name: registered_module(s) for s in hosts}, faults=faults,
                  runtime=runtime,
                  horizon=horizon, owners=owners_of(ms))
    return setup, initial_world(ms, events)


@dataclass(frozen=True)
class WorldSpec:
    """A world to run, explore or replay, as a program file's `world()` returns it.

    `hosts`: the machines. `faults`: the fault defaults (command-line options override
    them one by one). `horizon`: virtual time to run or explore, in ns. `invariants`
    (`udpsem.invariant` predicates on every state) and `monitors` (`udpsem.Monitor` over
    the transitions) are checked by `udpsem run` and `udpsem explore` in addition to the
    model's own host_ok, network_ok, no_escape and no_time_stop.

    Exploration bounds: `max_copies` (≥ 2 enables duplication, up to that many copies of a
    datagram) and `max_successive_drops` (≥ 1 enables loss, at most that many datagrams
    from one host dropped in a row); None leaves the fault off unless `faults` turns it on
    (loss > 0 or dup > 0). A run uses `faults`' probabilities and these as its bounds."""

    hosts: Sequence[HostSpec]
    faults: Faults = field(default_factory=Faults)
    horizon: int = 10_000_000_000
    invariants: Sequence[Any] = ()
    monitors: Sequence[Any] = ()
    max_copies: int | None = None
    max_successive_drops: int | None = None

    def __post_init__(self) -> None:
        if not self.hosts:
            raise ValueError("a world needs at least one host")
        if not isinstance(self.horizon, int) or isinstance(self.horizon, bool) \
                or not 0 < self.horizon <= LAST:
            raise ValueError(f"horizon must be a positive int of ns, at most {LAST} (the "
                             f"model's last instant, about 146 years), got {self.horizon!r}")
        for k, h in enumerate(self.hosts):
            if not isinstance(h, HostSpec):
                raise TypeError(f"hosts[{k}] is a {type(h).__name__}, not a HostSpec")

    def run_faults(self) -> Faults:
        """The fault defaults of a run: `faults` with the bounds applied."""
        f = self.faults
        kw: dict[str, Any] = {}
        if self.max_copies is not None:
            kw["max_copies"] = self.max_copies
        if self.max_successive_drops is not None:
            kw["max_successive_drops"] = self.max_successive_drops
        return dataclasses.replace(f, **kw) if kw else f

    def explore_faults(self) -> Faults:
        """The fault setting of an exploration: a bound enables its fault (probabilities
        only steer random walks, so 0.5 stands for "may happen")."""
        f = self.run_faults()
        copies = self.max_copies if self.max_copies is not None else \
            (f.max_copies if f.dup > 0 else 1)
        drops = self.max_successive_drops if self.max_successive_drops is not None else \
            (f.max_successive_drops if f.loss > 0 else 0)
        return dataclasses.replace(
            f, dup=0.5 if copies > 1 else 0.0, max_copies=max(copies, 1),
            loss=0.5 if drops is None or drops > 0 else 0.0,
            max_successive_drops=None if drops is None else (drops or None))

    def build(self, runtime: Any, faults: Faults | None = None, *,
              timing: Timing | None = None, consts: HostConsts | None = None,
              horizon: int | None = None) -> tuple[Setup, World]:
        """`build_world` of these hosts (faults default: `run_faults()`)."""
        return build_world(self.hosts, faults if faults is not None else self.run_faults(),
                           runtime, timing=timing, consts=consts,
                           horizon=self.horizon if horizon is None else horizon)
