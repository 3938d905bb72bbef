"""Incremental work in exploration gives the same answers: per-machine invariant memos
(`core.invariants.MachineMemo`), per-machine fingerprint digests, and thread states shared
between interleavings instead of rebuilt (`ExploreRuntime.advance`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from udpsem.base.choice import RandomChooser
from udpsem.base.time import MS, NEVER, S
from udpsem.core.drivers import simulate
from udpsem.core.invariants import MachineMemo, network_violations
from udpsem.explore import ExploreConfig, explore
from udpsem.explore.engine import ExploreRuntime
from udpsem.explore.fingerprint import Keyer
from udpsem.hosts.invariants import HostOkMemo
from udpsem.hosts.state import Timing
from udpsem.network.faults import Faults, apply_preset, parse_window
from udpsem.programs import heartbeat as hb
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.state.world import World, put_machine

PAPER = apply_preset(Faults(loss=0.5, dup=0.5), "paper")


def _worlds(seed: int, n: int = 400) -> tuple[Any, list[World]]:
    setup, w = hb.build(hb.HeartbeatOptions(duration=20 * S), Faults(loss=0.3, dup=0.3),
                        GeneratorRuntime())
    return setup, [s.world for s in simulate(setup, w, RandomChooser(seed, 0.3, 0.3),
                                             max_steps=n)]


@pytest.mark.parametrize("seed", [1, 2])
def test_machine_memo_gives_the_same_violations(seed: int) -> None:
    """Along a run (successive worlds share machines), with and without the memos; then a
    machine broken in a world the memo has seen the healthy version of is still caught."""
    setup, worlds = _worlds(seed)
    memo, hosts = MachineMemo(), HostOkMemo()
    for w in worlds:
        assert network_violations(setup, w, hosts, memo) == network_violations(setup, w)
    # A step at the same time keeps the other machine (time steps change the clock for all).
    assert memo.hits > 100
    w = worlds[-1]
    m = w.machines[0]
    assert m.host is not None
    e = m.host.ts[0]
    broken_host = replace(m.host, ts=(replace(e, deadline=w.now - 1), *m.host.ts[1:]))
    broken = World(w.now, put_machine(w, m.with_host(broken_host)), w.net, w.schedule, w.drops,
                   w.seq)
    found = network_violations(setup, broken, hosts, memo)
    assert found == network_violations(setup, broken)
    assert any(v.conjunct == "G1" for v in found)


def test_per_machine_digests_are_canonical() -> None:
    """Equal worlds built separately (no shared objects) get equal fingerprints; the digest
    memo is keyed by identity and time, so a machine at another time is keyed again."""
    fps = []
    for _ in range(2):
        setup, worlds = _worlds(3, 200)
        keyer = Keyer(setup.runtime, 20 * S)
        fps.append([keyer.fingerprint(w) for w in worlds])
    assert fps[0] == fps[1]
    assert len(set(fps[0])) > 50
    setup, worlds = _worlds(3, 50)
    keyer = Keyer(setup.runtime, 20 * S)
    w = next(w for w in worlds if any(e.deadline < NEVER for m in w.machines if m.host
                                      for e in m.host.ts))  # a thread timer runs
    later = World(w.now + MS, w.machines, w.net, w.schedule, w.drops, w.seq)
    assert keyer.fingerprint(w) != keyer.fingerprint(later)


def test_shared_thread_states_change_nothing_but_rebuilds(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """With and without sharing equal thread states between interleavings: the same states,
    transitions and verdicts. Sharing cut the benchmark's rebuilds from 9,310 to 20; here,
    from hundreds to a handful (each rebuild replays a thread's whole answer history)."""
    f = replace(PAPER, disconnects=(parse_window("KURT@1s-2s"),))
    cfg = ExploreConfig(horizon=3 * S, faults=f, timing=Timing())
    shared, _ = explore(cfg)
    monkeypatch.setattr(ExploreRuntime, "advance", GeneratorRuntime.advance)
    rebuilt, _ = explore(cfg)
    assert (shared.states, shared.transitions, shared.max_depth) == \
        (rebuilt.states, rebuilt.transitions, rebuilt.max_depth)
    assert shared.verdicts == rebuilt.verdicts
    assert rebuilt.rebuilds > 100 and shared.rebuilds * 10 < rebuilt.rebuilds
