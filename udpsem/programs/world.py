"""Building a world from a description of its hosts: the API for running your own programs.

A `HostSpec` names a machine, its addresses, the module its threads run, and the application
that drives it (a generator yielding `ModCall(fn, arg)` and `Sleep(ns)`). `build_world` turns
a list of them, a fault setting and a runtime into the `(Setup, World)` pair every driver
takes: `semantics.drivers.simulate`, `traces.record.run_world`, the explorer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.time import NEVER
from udpsem.hosts.state import HostConsts, Timing, eth, initial_host
from udpsem.hosts.values import ip
from udpsem.network.faults import Faults
from udpsem.programs.runtime import Registered
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
    events = [Event(w.start, "disconnect", w.host) for w in faults.disconnects]
    events += [Event(w.end, "reconnect", w.host) for w in faults.disconnects if w.end is not None]
    events += [Event(c.at, "crash", c.host) for c in faults.crashes]
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
            code, req = runtime.start(spec.app, spec.arg, (spec.name, 0, "app"))
            deadline = spec.start if isinstance(req, ModCall) else NEVER
            if isinstance(req, Sleep):
                deadline = spec.start + req.ns
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
