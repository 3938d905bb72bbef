"""Small-world exhaustive checks: every reachable state of tiny systems, host_ok and network_ok
in each, and the exact state counts pinned (a semantic change shows up here first)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from udpsem.base.time import MS, S
from udpsem.explore import Discretisation, ExploreConfig, Search
from udpsem.explore.engine import ExploreRuntime
from udpsem.explore.properties import NoEscape, model_invariants
from udpsem.hosts.calls import bind, close, recvfrom, sendto, socket
from udpsem.hosts.state import HostConsts, Timing, eth, initial_host
from udpsem.hosts.values import UDPError, ip
from udpsem.network.faults import Faults
from udpsem.state.components import INTERN, Snippet
from udpsem.state.world import Machine, Setup, World, initial_world, owners_of

A_IP, B_IP = ip("10.0.0.1"), ip("10.0.0.2")


def script(steps: tuple[str, ...]) -> Generator[Any, Any, None]:
    """A thread issuing calls from a finite alphabet; errors are caught and ignored."""
    fd = None
    for name in steps:
        try:
            if name == "socket":
                fd = yield socket()
            elif name == "bind5000":
                yield bind(fd, None, 5000)
            elif name == "bind_any":
                yield bind(fd, None, None)
            elif name == "close":
                yield close(fd)
            elif name == "send_b":
                yield sendto(fd, (B_IP, 7000), b"hi", False)
            elif name == "bind7000":
                yield bind(fd, None, 7000)
            elif name == "recv":
                yield recvfrom(fd, False)
        except UDPError:
            pass


def _machine(name: str, addr: int, scripts: dict[int, tuple[str, ...]], setup_rt: Any,
             timing: Timing) -> Machine:
    host = initial_host((eth(0, addr),), tuple(sorted(scripts)))
    snippets = []
    for tid in sorted(scripts):
        code, req = setup_rt.start(script, (scripts[tid],))
        snippets.append(Snippet(tid, INTERN, code, req, timing.dthread))
    return Machine(name, True, host, snippets=tuple(snippets))


def world_of(hosts: list[tuple[str, int, dict[int, tuple[str, ...]]]], faults: Faults,
             timing: Timing | None = None) -> tuple[Setup, list[World]]:
    """A setup and the single initial world of hand-built machines running `script`s."""
    timing = timing or Timing()
    rt = ExploreRuntime()
    ms = tuple(_machine(n, a, s, rt, timing) for n, a, s in hosts)
    setup = Setup(timing=timing, consts={n: HostConsts() for n, _, _ in hosts},
                  modules={n: {} for n, _, _ in hosts}, faults=faults, runtime=rt,
                  owners=owners_of(ms))
    return setup, [initial_world(ms)]


def explore_small(hosts: list[tuple[str, int, dict[int, tuple[str, ...]]]], faults: Faults,
                  horizon: int, timing: str, delays: int = 2) -> Any:
    cfg = ExploreConfig(program="small", horizon=horizon, faults=faults,
                        discretisation=Discretisation(delays=delays, timing=timing),
                        stop_at_first=False)
    invs = model_invariants()
    assert [i.name for i in invs] == ["host_ok", "network_ok"]
    s = Search(cfg, invs, [NoEscape()], world=world_of(hosts, faults))
    return s.run()


ONE_HOST = [("H", A_IP, {1: ("socket", "bind5000", "close"),
                         2: ("socket", "bind5000", "bind_any")})]
TWO_HOSTS = [("A", A_IP, {1: ("socket", "send_b")}),
             ("B", B_IP, {1: ("socket", "bind7000", "recv")})]


@pytest.mark.parametrize("timing, states, transitions", [
    ("eager", 208, 363),
    ("lazy", 1446, 3354),
])
def test_one_host_two_threads(timing: str, states: int, transitions: int) -> None:
    res = explore_small(ONE_HOST, Faults(), 1 * S, timing)
    assert res.complete
    assert all(v == "holds" for v in res.verdicts.values()), res.verdicts
    assert (res.states, res.transitions) == (states, transitions)


@pytest.mark.parametrize("timing, faults, states, transitions", [
    ("eager", Faults(), 77, 157),
    ("lazy", Faults(), 1896, 5038),
    ("eager", Faults(loss=0.5, dup=0.5, max_copies=2, max_successive_drops=1), 163, 359),
    ("lazy", Faults(loss=0.5, dup=0.5, max_copies=2, max_successive_drops=1), 20402, 63414),
])
def test_two_hosts_one_datagram(timing: str, faults: Faults, states: int,
                                transitions: int) -> None:
    res = explore_small(TWO_HOSTS, faults, 50 * MS, timing)
    assert res.complete
    assert all(v == "holds" for v in res.verdicts.values()), res.verdicts
    assert (res.states, res.transitions) == (states, transitions)
