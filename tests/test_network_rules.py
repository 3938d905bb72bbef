"""Network, module and thread rules (docs/rules.md) driven through small worlds built with
`semantics.system`: thread_end_1, exit_2 with host_exit, net_inject and net_emit_outside,
disconnection and crash. network_ok is checked after every step."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from udpsem.base.choice import RandomChooser
from udpsem.base.time import MS, S
from udpsem.core import coverage
from udpsem.core.drivers import Step, inject, simulate
from udpsem.core.invariants import network_violations
from udpsem.hosts.calls import bind, create, delay, exit_, port_of_int, sendto, socket
from udpsem.hosts.state import HostConsts, Timing, eth, initial_host
from udpsem.hosts.values import ip
from udpsem.network.faults import Faults
from udpsem.network.messages import UDP, IPMsg
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.state.components import App, ModCall, Sleep
from udpsem.state.world import Event, Machine, Setup, World, initial_world, owners_of

Gen = Generator[Any, Any, Any]
A_IP, B_IP, OUTSIDE = ip("10.0.0.1"), ip("10.0.0.2"), ip("8.8.8.8")


def child() -> Gen:
    yield port_of_int(7)  # one call, then the INTERN thread's code ends


def exiting_main() -> Gen:
    yield create(child, ())
    yield delay(1_000)
    yield exit_()


def pinger() -> Gen:
    fd = yield socket()
    yield bind(fd, None, 5000)
    while True:
        yield sendto(fd, (B_IP, 6000), b"ping", False)
        yield delay(100_000)


def idle() -> Gen:
    yield delay(10**9)


def app(fn: str) -> Gen:
    yield ModCall(fn)


def _world(programs: dict[str, str], schedule: tuple[Event, ...] = (),
           faults: Faults | None = None, horizon: int = 1 * S) -> tuple[Setup, World]:
    faults = faults if faults is not None else Faults()
    runtime = GeneratorRuntime()
    machines = []
    for name, addr in (("A", A_IP), ("B", B_IP)):
        code, req = runtime.start(app, (programs[name],))
        machines.append(Machine(name, True, initial_host((eth(0, addr, 24),), (0,)),
                                apps=(App(0, code, req, 0),)))
    ms = tuple(machines)
    module = {"exiting_main": exiting_main, "pinger": pinger, "idle": idle}
    setup = Setup(timing=Timing(), consts={"A": HostConsts(), "B": HostConsts()},
                  modules={"A": module, "B": module}, faults=faults, runtime=runtime,
                  horizon=horizon, owners=owners_of(ms))
    return setup, initial_world(ms, schedule)


def _run(setup: Setup, w: World, seed: int = 0) -> tuple[list[Step], World]:
    steps = []
    for st in simulate(setup, w, RandomChooser(seed, setup.faults.loss, setup.faults.dup)):
        assert not network_violations(setup, st.world), (st.transition.rule,
                                                         network_violations(setup, st.world))
        steps.append(st)
        w = st.world
    assert w.now == setup.horizon
    return steps, w


def _fired(steps: list[Step]) -> set[str]:
    return {n for s in steps for n in (s.transition.rule, s.transition.partner) if n}


def test_thread_end_and_exit_with_host_exit() -> None:
    setup, w = _world({"A": "exiting_main", "B": "idle"})
    steps, end = _run(setup, w)
    fired = _fired(steps)
    assert {"create_1", "create_call_1", "create_ret_1", "thread_end_1", "exit_1", "exit_2",
            "host_exit"} <= fired
    ex = next(s for s in steps if s.transition.rule == "exit_2")
    assert ex.transition.partner == "host_exit" and ex.transition.label.kind == "exit"
    a = end.machine("A")
    assert a.host is not None and a.host.ts == () and a.host.s == () and a.snippets == ()


def test_inject_then_icmp_leaves_the_network() -> None:
    setup, w = _world({"A": "idle", "B": "idle"})
    msg = IPMsg(OUTSIDE, A_IP, UDP(53, 9999, b"hello"))
    st = inject(setup, w, msg, setup.timing.dpropmin)
    assert st.transition.rule == "net_inject" and st.transition.label.kind == "in"
    assert not network_violations(setup, st.world)
    steps, _ = _run(setup, st.world)
    rules = [(s.transition.rule, s.transition.partner) for s in steps]
    assert ("delivery_in_udp_2", "net_emit") in rules
    assert ("delivery_out_1", "net_accept_single") in rules
    out = next(s for s in steps if s.transition.rule == "net_emit_outside")
    assert out.transition.label.kind == "out" and out.transition.label.value.dst == OUTSIDE


def test_inject_refuses_a_delay_outside_the_bounds() -> None:
    setup, w = _world({"A": "idle", "B": "idle"})
    try:
        inject(setup, w, IPMsg(OUTSIDE, A_IP, UDP(1, 2, b"")), setup.timing.dpropmax + 1)
    except ValueError as e:
        assert "dpropmax" in str(e)
    else:
        raise AssertionError("an out-of-bounds injection delay was accepted")


def test_disconnection_and_crash() -> None:
    sched = (Event(150 * MS, "disconnect", "B"), Event(350 * MS, "reconnect", "B"),
             Event(450 * MS, "disconnect", "A"), Event(650 * MS, "reconnect", "A"),
             Event(800 * MS, "crash", "B"))
    setup, w = _world({"A": "pinger", "B": "idle"}, sched,
                      Faults(loss=0.3, dup=0.3, max_copies=3))
    steps, end = _run(setup, w, seed=3)
    fired = _fired(steps)
    assert {"host_disconnect", "host_reconnect", "host_recv_disc", "host_send_disc",
            "host_crash", "net_emit_outside", "net_accept_drop", "net_accept_dup"} <= fired
    assert end.machine("B").host is None


def test_coverage_counts_partners_and_message_time() -> None:
    saved = coverage.stop()
    try:
        counts = coverage.start()
        setup, w = _world({"A": "pinger", "B": "idle"}, horizon=300 * MS)
        _run(setup, w)
        assert counts["net_emit"] > 0 and counts["net_accept_single"] > 0
        assert counts["net_msg_time"] > 0 and counts["time_pass"] >= counts["net_msg_time"]
    finally:
        coverage.stop()
        coverage.start().update(saved)


def late_app() -> Gen:
    yield Sleep(20 * MS)
    yield ModCall("idle")


def test_exit_ends_every_application_thread_too() -> None:
    """Regression: after host_exit a second application thread woke up and called the
    module; the new snippet's tid was no longer in dom(ts), no rule accepted its LIB call,
    and the run deadlocked (network_ok N4). host_exit now ends the applications as well."""
    runtime = GeneratorRuntime()
    c0, r0 = runtime.start(app, ("exiting_main",))
    c1, r1 = runtime.start(late_app, ())
    a = Machine("A", True, initial_host((eth(0, A_IP, 24),), (0, 1)),
                apps=(App(0, c0, r0, 0), App(1, c1, r1, 20 * MS)))
    setup = Setup(timing=Timing(), consts={"A": HostConsts()},
                  modules={"A": {"exiting_main": exiting_main, "idle": idle}}, faults=Faults(),
                  runtime=runtime, horizon=100 * MS, owners=owners_of((a,)))
    steps, end = _run(setup, initial_world((a,)))
    assert "host_exit" in _fired(steps) and "app_wake" not in _fired(steps)
    assert end.machine("A").apps == ()
