"""The sanity properties of docs/model.md#invariants over generated well-formed hosts, and local
receptiveness (network_ok, no deadlock) along seeded heartbeat simulations.

1. Totality / receptiveness: every well-typed call from a RUN thread is accepted by some
   rule, every ZOMBIE call by zombie_1 alone, and every msg_ok datagram for an own
   non-loopback address by a delivery_in_* rule.
2. No time-stop: an urgent host has some non-time rule enabled.
3. Intended overlap only (computed with linux_error_order off, so every fail rule shows):
   two rules apply to one state and label only in cases (a)–(e).
4. Local receptiveness at network level in reachable states, also under generated fault
   settings whose windows overlap (`udpsem.testing.fault_settings`): every scheduled event
   that fires changes something, and a host is down exactly while one of its windows is
   open (their union) until it crashes.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.base.choice import RandomChooser
from udpsem.base.registry import RuleInfo
from udpsem.base.time import MS, S
from udpsem.core.drivers import simulate
from udpsem.core.invariants import network_violations
from udpsem.hosts.lts import (
    call_enabled,
    internal_enabled,
    oq_enabled,
    recv_enabled,
    thread_enabled,
    time_pass,
    urgent,
)
from udpsem.hosts.state import HostConsts, Run, Zombie
from udpsem.network.faults import Crash, Faults, Window
from udpsem.programs.heartbeat import HeartbeatOptions, build
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.testing import HostCase, calls, fault_settings, host_cases, host_consts, messages

ALL_FAILS = host_consts().map(lambda k: replace(k, linux_error_order=False))
CASES_ALL_FAILS = host_cases(consts=ALL_FAILS)
WITH_CALLER = host_cases(consts=ALL_FAILS, min_run=1)


def _b(info: RuleInfo) -> bool:
    """Case (b): badmem_*/create_2 (badfail) and intr_1 may overlap anything."""
    return info.category in ("badfail", "slowintr")


# 1. Totality / receptiveness ----------------------------------------------------------------

@given(host_cases(min_run=1), st.data())
def test_every_call_from_a_run_thread_is_accepted(case: HostCase, data: st.DataObject) -> None:
    tid = next(e.tid for e in case.host.ts if isinstance(e.state, Run))
    call = data.draw(calls(case), label="call")
    for order in (True, False):
        ctx = replace(case.ctx, consts=replace(case.consts, linux_error_order=order))
        assert call_enabled(ctx, case.host, tid, call), (call, case.host)


@given(host_cases(), st.data())
def test_every_zombie_call_is_absorbed_by_zombie_1(case: HostCase, data: st.DataObject) -> None:
    zombies = [e.tid for e in case.host.ts if isinstance(e.state, Zombie)]
    if not zombies:
        return
    call = data.draw(calls(case), label="call")
    en = call_enabled(case.ctx, case.host, zombies[0], call)
    assert [e.rule.name for e in en] == ["zombie_1"]
    assert en[0].outcome.host == case.host


@given(host_cases(), st.data())
def test_every_deliverable_datagram_is_accepted(case: HostCase, data: st.DataObject) -> None:
    if all(i.is_lo for i in case.host.ifds):
        return
    msg = data.draw(messages(case, deliverable=True), label="msg")
    names = [e.rule.name for e in recv_enabled(case.ctx, case.host, msg)]
    assert len(names) == 1 and names[0].startswith("delivery_in_"), (names, msg)


# 2. No time-stop ------------------------------------------------------------------------------

@given(host_cases())
def test_an_urgent_host_has_a_rule_enabled(case: HostCase) -> None:
    en = internal_enabled(case.ctx, case.host)
    if urgent(case.ctx, case.host, en):
        assert en, case.host
    else:
        assert time_pass(case.ctx, case.host, 1) is not None


# 3. Intended overlap only ---------------------------------------------------------------------

@given(WITH_CALLER, st.data())
def test_call_rules_overlap_only_on_failures(case: HostCase, data: st.DataObject) -> None:
    tid = next(e.tid for e in case.host.ts if isinstance(e.state, Run))
    call = data.draw(calls(case), label="call")
    rest = [e.rule for e in call_enabled(case.ctx, case.host, tid, call) if not _b(e.rule)]
    if len(rest) > 1:
        # (a) several fail rules of one call; nothing else may overlap.
        assert all(r.category == "fail" for r in rest), [r.name for r in rest]


@given(CASES_ALL_FAILS)
def test_internal_rules_overlap_only_as_intended(case: HostCase) -> None:
    ctx, h = case.ctx, case.host
    for entry in h.ts:
        rest = [e.rule.name for e in thread_enabled(ctx, h, entry) if not _b(e.rule)]
        assert len(rest) <= 1, (entry, rest)
    oq = [e.rule.name for e in oq_enabled(ctx, h)]
    assert len(oq) == (1 if h.oq else 0), oq
    # (d): while time may pass, only upper-bound-timer rules (and case (b)) are enabled.
    if time_pass(ctx, h, 1) is not None:
        for e in internal_enabled(ctx, h):
            assert (e.rule.name in ("ret_1", "print_2", "exit_2") or e.rule.trigger == "oq"
                    or _b(e.rule)), e.rule.name


@given(CASES_ALL_FAILS, st.data())
def test_input_rules_never_overlap(case: HostCase, data: st.DataObject) -> None:
    msg = data.draw(messages(case), label="msg")
    assert len(recv_enabled(case.ctx, case.host, msg)) <= 1


# 4. Local receptiveness at network level ------------------------------------------------------

HEARTBEATS = [
    (1, Faults()),
    (2, Faults(loss=0.3, dup=0.3)),
    (3, Faults(loss=0.2, dup=0.2, disconnects=(Window("KURT", 2 * S, 5 * S),))),
    (4, Faults(loss=0.1, disconnects=(Window("ALAN", 1 * S, 3 * S),),
               crashes=(Crash("KURT", 6 * S),))),
    (5, Faults(dup=0.5, max_copies=3, crashes=(Crash("ALAN", 4 * S),))),
]


@pytest.mark.parametrize("seed,faults", HEARTBEATS, ids=[str(s) for s, _ in HEARTBEATS])
def test_heartbeat_runs_stay_network_ok(seed: int, faults: Faults) -> None:
    opts = HeartbeatOptions(duration=8 * S, period=250 * MS, kurt_start=300 * MS,
                            consts=HostConsts(oq_cap=2 if seed % 2 else None))
    setup, w = build(opts, faults, GeneratorRuntime())
    assert network_violations(setup, w) == []
    steps = 0
    for st_ in simulate(setup, w, RandomChooser(seed, faults.loss, faults.dup)):
        w = st_.world
        steps += 1
        v = network_violations(setup, w)
        assert not v, (steps, st_.transition.rule, v)
    # No deadlock and no time-stop: the run only ends at the horizon.
    assert w.now >= setup.horizon
    assert steps > 100


# A heartbeat run is dearer than a host step: a fifteenth of the profile's examples (20 under
# `ci`, about 1300 under `thorough`).
_RUNS = settings(max_examples=max(10, settings().max_examples // 15))
_FAULT_HORIZON = 5 * S


def _down(faults: Faults, host: str, t: int) -> bool:
    """Whether one of `host`'s windows is open at `t` (the union semantics)."""
    return any(w.host == host and w.start <= t and (w.end is None or t < w.end)
               for w in faults.disconnects)


@_RUNS
@given(fault_settings(("ALAN", "KURT"), _FAULT_HORIZON), st.integers(0, 2**32 - 1))
def test_generated_faults_apply_as_their_union(faults: Faults, seed: int) -> None:
    opts = HeartbeatOptions(duration=_FAULT_HORIZON, period=250 * MS, kurt_start=300 * MS)
    setup, w = build(opts, faults, GeneratorRuntime())
    assert network_violations(setup, w) == []
    crash_at = {c.host: c.at for c in sorted(faults.crashes, key=lambda c: -c.at)}
    for st_ in simulate(setup, w, RandomChooser(seed, faults.loss, faults.dup)):
        before, w = w, st_.world
        v = network_violations(setup, w)
        assert not v, (st_.transition.rule, v)
        t = st_.transition
        if t.rule in ("host_disconnect", "host_reconnect", "host_crash"):
            # no step that changes nothing
            assert before.machine(t.label.host) != w.machine(t.label.host), t.rule
        for m in w.machines:
            if m.host is None:
                assert w.now >= crash_at[m.name]
                continue
            # at an instant with an event due, the event may still be pending: check between
            if not any(e.at == w.now for e in before.schedule):
                assert m.conn == (not _down(faults, m.name, w.now)), (m.name, w.now, faults)
    assert w.now >= setup.horizon
