"""Incremental work in exploration gives the same answers: per-machine invariant memos
(`core.invariants.MachineMemo`), the whole-world conjuncts' memo (`PartsMemo`), per-machine fingerprint digests, and thread states shared
between interleavings instead of rebuilt (`ExploreRuntime.advance`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.base.choice import RandomChooser
from udpsem.base.time import MS, NEVER, S
from udpsem.core.drivers import simulate
from udpsem.core.invariants import MachineMemo, PartsMemo, network_violations
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


# The whole-world conjuncts (N1, N2, E1) memoised by the parts they read ----------------------

def _corruptions(setup: Any, w: World) -> list[World]:
    """Worlds that share components with `w` (so a memo keyed by identity sees them) and
    break, or may break, a memoised conjunct: N1 (a repeated name), N2 (another machine's
    interfaces, the same tuple object), E1 (an event in the past, of an unknown kind, for no
    machine, one the connection state does not admit, an ifdown with every interface down,
    the clock moved past an event)."""
    from udpsem.state.world import Event

    a, b = w.machines[0], w.machines[1]
    out = []

    def with_ms(*ms: Any, sched: Any = None, now: int | None = None) -> World:
        return World(w.now if now is None else now, tuple(ms), w.net,
                     w.schedule if sched is None else sched, w.drops, w.seq)

    out.append(with_ms(a, replace(b, name=a.name)))
    if a.host is not None and b.host is not None:
        out.append(with_ms(a, b.with_host(replace(b.host, ifds=a.host.ifds))))
        down = tuple(replace(i, up=False) if not i.is_lo else i for i in b.host.ifds)
        out.append(with_ms(a, b.with_host(replace(b.host, ifds=down)),
                           sched=(Event(w.now, "ifdown", b.name),)))
    out.append(with_ms(a, replace(b, conn=not b.conn)))
    out.append(with_ms(a, b, sched=(*w.schedule, Event(w.now - 1, "crash", a.name))))
    out.append(with_ms(a, b, sched=(Event(w.now, "reboot", b.name), *w.schedule)))
    out.append(with_ms(a, b, sched=(Event(w.now, "crash", "NOBODY"),)))
    out.append(with_ms(a, b, sched=(Event(w.now, "crash", a.name),
                                    Event(w.now + 1, "crash", a.name))))
    if w.schedule:
        out.append(with_ms(a, b, now=w.schedule[0].at + 1))
    return out


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**16), st.lists(st.integers(0, 399), max_size=12),
       st.integers(2, 64))
def test_whole_world_memo_equals_the_full_check(seed: int, corrupt: list[int],
                                                size: int) -> None:
    """network_violations with every memo (HostOkMemo, MachineMemo, and the PartsMemo of
    N1/N2/E1) gives exactly the list of the check without memos, on every world of a random
    run with a disconnect window, and on broken worlds built from its components (interleaved
    with the healthy ones, so the memos have seen their parts). A small memo: its eviction
    runs too."""
    faults = Faults(loss=0.3, dup=0.3, disconnects=(parse_window("KURT@1s-2s"),))
    setup, w = hb.build(hb.HeartbeatOptions(duration=4 * S), faults, GeneratorRuntime())
    worlds = [s.world for s in simulate(setup, w, RandomChooser(seed, 0.3, 0.3),
                                        max_steps=400)]
    hosts, machines, parts = HostOkMemo(), MachineMemo(size), PartsMemo(size)
    broken = 0
    for k, w in enumerate(worlds):
        seq = [w, *(_corruptions(setup, w) if k in corrupt else []), w]
        for v in seq:
            full = network_violations(setup, v)
            assert network_violations(setup, v, hosts, machines, parts) == full
            broken += bool(full)
    assert parts.hits > 0
    if corrupt and any(k < len(worlds) for k in corrupt):
        assert broken > 0
