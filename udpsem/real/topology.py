"""Conformance scenarios with several hosts: network namespaces on links, an optional router,
and link events, run on the real kernel and searched for in the model (Linux, as root).

A `Topology` names its hosts (`Node`: a name, an address with its prefix, the link it is
on, and the LIB program it runs, if any), the router's address on each link (none: one
link, no router), and environment `Action`s at fixed times: `ifdown`/`ifup` (`ip link set
eth0 down/up` on the host; on `ifup` a host behind a router gets its default route back, as
a network manager would) and `disconnect`/`reconnect` (the cable is pulled: the switch end
of the host's link goes down, so the host loses its carrier). Each link is a bridge in a
switch namespace, each host a namespace with one veth `eth0` on it; the router, a
namespace with a leg on every link and forwarding on. A link may have a smaller MTU (set on
the router's leg, the switch ports and the hosts' eth0), and the router may prohibit subnets
(`ip route add prohibit`). Neighbours are dynamic (ARP), as on
any Linux host. Only addresses the scenario chooses are used, inside namespaces made for
the run and deleted after it; the machine's own network is never touched.

The model world has one machine per host with that address (the router is not a machine:
the model's network stands for it, forwarding within the propagation delay, and the hosts'
HostConsts.router_legs describe what it reaches: each link's subnet and MTU, the prohibited
subnets), the scenario's constants (default: Linux's, with dynamic neighbours), and the actions as scheduled events
at the same times. `check_topology` runs the real side (one OS thread per LIB thread, in
its host's namespace), then searches the model for a run whose every thread saw exactly
what the real one saw (`udpsem.real.conformance.search_world`).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Self

from udpsem.base.time import MS, S
from udpsem.hosts.state import ETH_MTU, HostConsts, RouterLeg, Timing, eth
from udpsem.hosts.values import ip
from udpsem.real.conformance import (
    LINUX_CONSTS,
    Log,
    ModelHost,
    Program,
    Verdict,
    _RealRun,
    admitted,
    by_host_tid,
    lenient,
)
from udpsem.real.conformance import model_world as conformance_world
from udpsem.state.world import Event, Setup, World

LINUX_NEIGH_CONSTS = replace(LINUX_CONSTS, neigh=True, router_icmp=True)
"""Linux as the conformance suite has it, with dynamic neighbour resolution and Linux
routers (which may answer with ICMP net-unreachable)."""

ACTIONS = ("ifdown", "ifup", "disconnect", "reconnect")


@dataclass(frozen=True)
class Node:
    """A host: its name (the model machine's), `addr` with prefix ("10.1.0.1/24"), the
    link it is on (0, 1, ...), and its program (None: it runs nothing, it only answers)."""

    name: str
    addr: str
    program: Program | None = None
    args: tuple[Any, ...] = ()
    link: int = 0


@dataclass(frozen=True)
class Action:
    """At `at_ms` ms after the start, `kind` (one of ACTIONS) happens to host `host`."""

    at_ms: int
    kind: str
    host: str


@dataclass(frozen=True)
class Topology:
    """A multi-host scenario (see the module docstring). `router`: the router's address on
    each link, in link order ("10.1.0.254/24", ...); empty: a single link, no router.
    `settle`: seconds the real run waits, once every thread is finished or may be blocked in
    a call (not a delay, not waiting for a CPU), before it declares those BLOCKED. `slack_ms`: how late a
    real action may be done (an `ip` command on a loaded machine) before the run is
    discarded as not what the model is told (`LateAction`); scenarios leave at least
    twice that between an action and the calls it affects."""

    name: str
    nodes: tuple[Node, ...]
    actions: tuple[Action, ...] = ()
    router: tuple[str, ...] = ()
    consts: HostConsts = field(default_factory=lambda: LINUX_NEIGH_CONSTS)
    timing: Timing = field(default_factory=Timing)
    settle: float = 0.15
    horizon: int = 2 * S
    note: str = ""
    slack_ms: int = 60
    # The MTU of each link, in link order (the router's leg, the switch ports and the hosts'
    # eth0 on it); empty or 0: Ethernet's 1500
    mtu: tuple[int, ...] = ()
    # Subnets ("10.78.8.0/24") the router's routes prohibit (`ip route add prohibit`)
    prohibit: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: host names are not distinct: {names}")
        for a in self.actions:
            if a.kind not in ACTIONS or a.host not in names:
                raise ValueError(f"{self.name}: bad action {a}")
        links = {n.link for n in self.nodes}
        if not self.router and links != {0}:
            raise ValueError(f"{self.name}: several links need a router")
        if self.router and not links <= set(range(len(self.router))):
            raise ValueError(f"{self.name}: a host is on a link the router is not on")
        if (self.mtu or self.prohibit) and not self.router:
            raise ValueError(f"{self.name}: link MTUs and prohibited subnets need a router")

    def link_mtu(self, link: int) -> int | None:
        """The MTU set on link `link`; None: the default."""
        return self.mtu[link] if link < len(self.mtu) and self.mtu[link] else None


# The real side ---------------------------------------------------------------------------------

def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if r.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {r.stderr.strip() or r.returncode}")


class Lab:
    """The namespaces of a topology, while the `with` block runs (deleted on exit, also
    when the body fails). Host k is namespace `<tag>h<k>`."""

    def __init__(self, topo: Topology, tag: str | None = None) -> None:
        self.topo = topo
        self.tag = tag or f"udpsem-topo-{os.getpid()}-"
        self.switch = f"{self.tag}sw"
        self.routerns = f"{self.tag}r"
        self.ns = {n.name: f"{self.tag}h{k}" for k, n in enumerate(topo.nodes)}
        self.port = {n.name: f"p{k}" for k, n in enumerate(topo.nodes)}
        self.created: list[str] = []

    def __enter__(self) -> Self:
        from udpsem.real.netns import unavailable

        why = unavailable()
        if why is not None:
            raise OSError(why)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _add(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self.created.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _build(self) -> None:
        t = self.topo
        self._add(self.switch)
        for j in range(max(1, len(t.router))):
            _ip("-n", self.switch, "link", "add", f"br{j}", "type", "bridge", "forward_delay",
                "0")
            _ip("-n", self.switch, "link", "set", f"br{j}", "up")
        if t.router:
            self._add(self.routerns)
            for j, addr in enumerate(t.router):
                _ip("-n", self.routerns, "link", "add", f"r{j}", "type", "veth", "peer",
                    "name", f"rp{j}", "netns", self.switch)
                _ip("-n", self.routerns, "addr", "add", addr, "dev", f"r{j}")
                _ip("-n", self.routerns, "link", "set", f"r{j}", "up")
                _ip("-n", self.switch, "link", "set", f"rp{j}", "master", f"br{j}")
                _ip("-n", self.switch, "link", "set", f"rp{j}", "up")
                mtu = t.link_mtu(j)
                if mtu is not None:
                    _ip("-n", self.routerns, "link", "set", f"r{j}", "mtu", str(mtu))
                    _ip("-n", self.switch, "link", "set", f"rp{j}", "mtu", str(mtu))
            subprocess.run(["ip", "netns", "exec", self.routerns, "sysctl", "-qw",
                            "net.ipv4.ip_forward=1"], capture_output=True, timeout=20,
                           check=True)
            for net in t.prohibit:
                _ip("-n", self.routerns, "route", "add", "prohibit", net)
        for n in t.nodes:
            ns = self.ns[n.name]
            self._add(ns)
            _ip("-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name",
                self.port[n.name], "netns", self.switch)
            _ip("-n", ns, "addr", "add", n.addr, "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", self.switch, "link", "set", self.port[n.name], "master", f"br{n.link}")
            _ip("-n", self.switch, "link", "set", self.port[n.name], "up")
            mtu = t.link_mtu(n.link) if t.router else None
            if mtu is not None:
                _ip("-n", self.switch, "link", "set", self.port[n.name], "mtu", str(mtu))
                _ip("-n", ns, "link", "set", "eth0", "mtu", str(mtu))
            self._gateway(n)

    def _gateway(self, n: Node) -> None:
        if self.topo.router:
            gw = self.topo.router[n.link].split("/")[0]
            _ip("-n", self.ns[n.name], "route", "replace", "default", "via", gw)

    def act(self, a: Action) -> None:
        """Perform one action on the real network."""
        node = next(n for n in self.topo.nodes if n.name == a.host)
        if a.kind in ("ifdown", "ifup"):
            _ip("-n", self.ns[a.host], "link", "set", "eth0",
                "down" if a.kind == "ifdown" else "up")
            if a.kind == "ifup":
                self._gateway(node)
        else:
            _ip("-n", self.switch, "link", "set", self.port[a.host],
                "down" if a.kind == "disconnect" else "up")

    def close(self) -> None:
        while self.created:
            subprocess.run(["ip", "netns", "del", self.created.pop()], capture_output=True,
                           timeout=20, check=False)

    def __exit__(self, *exc: object) -> None:
        self.close()


def _wait_all(runs: dict[str, _RealRun], settle: float, until: float,
              limit: float = 30.0) -> dict[tuple[str, int], Log]:
    """Wait until every thread of every host is finished, or every live one may be blocked
    in its call (`_RealRun.may_be_blocked`) with no progress anywhere for `settle` seconds
    (and the last action is done, at monotonic time `until`); then every host's logs, keyed
    (host, tid)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        time.sleep(0.002)
        now = time.monotonic()
        if now < until:
            continue
        live, quiet = False, True
        for run in runs.values():
            with run.lock:
                for t in run.logs:
                    if t in run.done:
                        continue
                    live = True
                    if not run.may_be_blocked(t) or now - run.progress < settle:
                        quiet = False
        if not live or quiet:
            break
    out: dict[tuple[str, int], Log] = {}
    for host, run in runs.items():
        for tid, log in run.wait(0).items():
            out[(host, tid)] = log
    return out


class LateAction(RuntimeError):
    """A real action was done later than the scenario's slack allows (a loaded machine)."""


def run_real(topo: Topology, lab: Lab) -> dict[tuple[str, int], Log]:
    """The per-thread logs of the topology's programs on the real kernel, keyed (host, tid),
    with the actions performed at their times; LateAction if one was done too late."""
    runs = {n.name: _RealRun(topo.settle, lab.ns[n.name]) for n in topo.nodes
            if n.program is not None}
    start = time.monotonic()
    errors: list[BaseException] = []

    def actions() -> None:
        for a in sorted(topo.actions, key=lambda a: a.at_ms):
            time.sleep(max(0.0, start + a.at_ms / 1000 - time.monotonic()))
            try:
                lab.act(a)
            except OSError as e:
                errors.append(e)
            late = (time.monotonic() - start) * 1000 - a.at_ms
            if late > topo.slack_ms:
                errors.append(LateAction(f"{topo.name}: {a.kind} {a.host} at {a.at_ms} ms was "
                                         f"done {late:.0f} ms late (slack {topo.slack_ms} ms)"))

    actor = threading.Thread(target=actions, daemon=True, name="udpsem-topology-actions")
    actor.start()
    for n in topo.nodes:
        if n.program is not None:
            runs[n.name].start(lenient(n.program), n.args)
    last = max((a.at_ms for a in topo.actions), default=0)
    logs = _wait_all(runs, topo.settle, start + last / 1000 + 0.01)
    actor.join(timeout=30)
    if errors:
        raise errors[0]
    return logs


# The model side --------------------------------------------------------------------------------

def _prefix(addr: str) -> tuple[int, int]:
    a, _, k = addr.partition("/")
    return ip(a), int(k or 32)


def router_legs(topo: Topology) -> tuple[RouterLeg, ...]:
    """What the topology's router reaches (HostConsts.router_legs): each link's subnet with
    its MTU, and the prohibited subnets."""
    legs = []
    for j, addr in enumerate(topo.router):
        a, k = _prefix(addr)
        mask = (0xFFFFFFFF << (32 - k)) & 0xFFFFFFFF
        legs.append(RouterLeg(a & mask, k, topo.link_mtu(j) or ETH_MTU))
    for net in topo.prohibit:
        a, k = _prefix(net)
        legs.append(RouterLeg(a, k, ETH_MTU, prohibit=True))
    return tuple(legs)


def model_world(topo: Topology) -> tuple[Setup, World]:
    """The model world of a topology (see the module docstring)."""
    consts = replace(topo.consts, router_legs=router_legs(topo)) if topo.router else topo.consts
    hosts = []
    for n in topo.nodes:
        a, k = _prefix(n.addr)
        iface = eth(0, a, k)
        mtu = topo.link_mtu(n.link) if topo.router else None
        if mtu is not None:
            iface = replace(iface, mtu=mtu)
        hosts.append(ModelHost(n.name, (iface,), n.program, n.args, consts))
    events = tuple(Event(act.at_ms * MS, act.kind, act.host) for act in topo.actions)
    return conformance_world(hosts, topo.timing, topo.horizon, events)


def model_admits(topo: Topology, real: dict[tuple[str, int], Log],
                 max_states: int = 200_000) -> tuple[bool, int, str]:
    """Search the model for a run with exactly the real logs: (admitted, states, near miss).
    The rules of an admitted run count for rule coverage (when it is on)."""
    setup, w0 = model_world(topo)
    found = admitted(setup, w0, real, by_host_tid, max_states)
    return found.path is not None, found.states, found.explain


def check_topology(topo: Topology, tag: str | None = None, attempts: int = 3) -> Verdict:
    """Build the topology's namespaces, run it on the real kernel, delete them, and decide
    whether the model admits what the kernel did. A run whose actions were done too late
    (LateAction) is discarded and made again, up to `attempts` runs in all."""
    for k in range(attempts):
        try:
            with Lab(topo, tag) as lab:
                real = run_real(topo, lab)
            break
        except LateAction:
            if k == attempts - 1:
                raise
    ok, n, why = model_admits(topo, real)
    return Verdict(topo.name, dict(real), ok, n, why)


__all__ = ["ACTIONS", "LINUX_NEIGH_CONSTS", "Action", "Lab", "LateAction", "Node", "Topology",
           "check_topology", "model_admits", "model_world", "router_legs", "run_real"]
