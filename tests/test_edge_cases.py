"""Semantic edge cases (docs/model.md): scheduled events that cannot apply, ∞ against very
long finite durations, and `close` on a console fd."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.hostkit import call, ctx, host
from udpsem.base.choice import RandomChooser
from udpsem.base.time import LAST, MS, NEVER, S, deadline_after
from udpsem.core.drivers import simulate
from udpsem.core.invariants import network_violations
from udpsem.core.system import enabled
from udpsem.hosts import calls as C
from udpsem.hosts.auxiliary import set_thread
from udpsem.hosts.invariants import host_violations
from udpsem.hosts.state import DELAY2, RUN, HostConsts, Ret, Select2, Sock, Timing
from udpsem.hosts.values import Errno, Fail, Ok, SockOpt
from udpsem.network.faults import Crash, Faults, Window, union_windows
from udpsem.programs.checks import check_request
from udpsem.programs.heartbeat import HeartbeatOptions, build
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.programs.world import HostSpec, build_world, fault_events
from udpsem.state.components import ModCall, Sleep
from udpsem.state.world import Event, World
from udpsem.traces.record import run

# Scheduled environment events ---------------------------------------------------------------


def _events(res_steps: list[Any]) -> list[tuple[int, str, str]]:
    return [(t.world.now, t.rule, t.label.host) for t in res_steps
            if t.rule in ("host_disconnect", "host_reconnect", "host_crash")]


def _heartbeat(faults: Faults, duration: int) -> tuple[Any, list[Any], list[tuple[int, bool]]]:
    """A heartbeat run: its result, every transition, and KURT's conn after each step."""
    steps: list[Any] = []
    conn: list[tuple[int, bool]] = []

    def watch(st: Any) -> None:
        steps.append(st.transition)
        conn.append((st.world.now, st.world.machine("KURT").conn))

    res = run("heartbeat", {"duration_ns": duration}, faults, 1, observers=(watch,))
    return res, steps, conn


def test_overlapping_windows_are_their_union() -> None:
    """KURT@10s-20s and KURT@15s-30s: KURT is down from 10 s to 30 s, with one disconnect
    and one reconnect step. (Before the fix the disconnect at 15 s fired as a step that
    changed nothing and the reconnect at 20 s plugged KURT back in 10 s early.)"""
    f = Faults(disconnects=(Window("KURT", 10 * S, 20 * S), Window("KURT", 15 * S, 30 * S)))
    res, steps, conn = _heartbeat(f, 35 * S)
    assert _events(steps) == [(10 * S, "host_disconnect", "KURT"),
                              (30 * S, "host_reconnect", "KURT")]
    assert res.rules_fired["host_disconnect"] == 1 and res.rules_fired["host_reconnect"] == 1
    down = [up for t, up in conn if 10 * S < t < 30 * S]
    assert down and not any(down)  # every step between 10 s and 30 s sees KURT unplugged
    assert res.observer.violations == 0  # Theorem 2's checker saw the same windows


def test_union_of_windows() -> None:
    w = [Window("KURT", 10 * S, 20 * S), Window("KURT", 15 * S, 30 * S),
         Window("KURT", 30 * S, 40 * S),  # touching: still down at 30 s
         Window("KURT", 50 * S, 60 * S), Window("ALAN", 1 * S, 2 * S),
         Window("KURT", 70 * S, None), Window("KURT", 80 * S, 90 * S)]  # absorbed by the open one
    assert union_windows(tuple(w)) == (
        Window("ALAN", 1 * S, 2 * S), Window("KURT", 10 * S, 40 * S),
        Window("KURT", 50 * S, 60 * S), Window("KURT", 70 * S, None))
    # a window inside another changes nothing
    assert union_windows((Window("K", 1, 10), Window("K", 2, 3))) == (Window("K", 1, 10),)


def test_nothing_is_scheduled_for_a_crashed_host() -> None:
    """A crash ends a host for good: its later window events, a window open at the crash,
    and a second crash would each be a step that changes nothing."""
    f = Faults(disconnects=(Window("KURT", 10 * S, 20 * S), Window("KURT", 30 * S, 40 * S),
                            Window("ALAN", 12 * S, 14 * S)),
               crashes=(Crash("KURT", 25 * S), Crash("KURT", 15 * S), Crash("ALAN", 13 * S)))
    ev = sorted(fault_events(f, ["ALAN", "KURT"]), key=lambda e: (e.at, e.host, e.kind))
    assert ev == [Event(10 * S, "disconnect", "KURT"), Event(12 * S, "disconnect", "ALAN"),
                  Event(13 * S, "crash", "ALAN"), Event(15 * S, "crash", "KURT")]
    # a disconnect at the very instant of the crash is not scheduled either
    same = Faults(disconnects=(Window("KURT", 5 * S, 9 * S),), crashes=(Crash("KURT", 5 * S),))
    assert fault_events(same, ["KURT"]) == (Event(5 * S, "crash", "KURT"),)


def test_crash_inside_a_window_leaves_no_reconnect_step() -> None:
    f = Faults(disconnects=(Window("KURT", 2 * S, 6 * S),), crashes=(Crash("KURT", 4 * S),))
    res, steps, _ = _heartbeat(f, 8 * S)
    assert _events(steps) == [(2 * S, "host_disconnect", "KURT"), (4 * S, "host_crash", "KURT")]
    assert "host_reconnect" not in res.rules_fired


def test_network_ok_e1_refuses_a_schedule_that_cannot_apply() -> None:
    """E1 is what keeps the event rules honest: a world whose schedule holds an event that
    cannot apply is not network_ok, and the event is not offered as a transition."""
    setup, w = build(HeartbeatOptions(duration=1 * S), Faults(), GeneratorRuntime())
    assert not [v for v in network_violations(setup, w) if v.conjunct == "E1"]
    bad = World(w.now, w.machines, w.net, (Event(0, "reconnect", "KURT"),
                                           Event(5 * MS, "disconnect", "NOBODY")), w.drops)
    e1 = [v for v in network_violations(setup, bad) if v.conjunct == "E1"]
    assert [v.where for v in e1] == ["KURT", "NOBODY"]
    assert "cannot apply: the machine is connected" in e1[0].detail
    assert "host_reconnect" not in [c.rule for c in enabled(setup, bad)]


# ∞ against very long finite durations ---------------------------------------------------------
#
# NEVER (2^62 ns) encodes ∞; docs/model.md#timers: no LIB duration, however long, may reach it
# (a very long delay still ends, a long select timeout is never "no timeout"). What Linux 6.18
# does, measured on this machine with C (a 0.2 s SIGALRM interrupts each call, which then
# reports the time left):
# - nanosleep of 5e9 s leaves 4999999999.8 s: exact; of 2^40 s or more it leaves
#   9223360806 s = KTIME_MAX - uptime: the deadline saturates at KTIME_MAX, finite;
# - select with tv_sec 5e9, 2^40, LLONG_MAX/1e6: waits, then reports the exact time left
#   (interrupted, not EINVAL, not "no timeout");
# - SO_RCVTIMEO of 5e9 s and 2^40 s reads back exactly; only tv_sec >= LONG_MAX/HZ - 1
#   (3.7e16 s at HZ = 250) turns into "no timeout", far beyond the LIB's largest int
#   (2^62 - 1 µs = 4.6e12 s), so in the model a socket timeout is always finite.
# The model does as Linux's hrtimers do, at its own end of time: a deadline beyond the
# clock's last instant LAST = NEVER - 1 is LAST (`deadline_after`), and since a run stops at
# its horizon (at most LAST) before anything due then happens, no run can tell.

HUGE_US = 5 * 10**15  # 5e18 ns, beyond NEVER = 4.61e18 ns: the example


def _t1(h: Any, now: int) -> list[Any]:
    return [v for v in host_violations(h, HostConsts(), Timing(), now)
            if v.conjunct in ("T1", "G1")]


def test_deadline_after_saturates_below_never() -> None:
    assert deadline_after(0, 10**18) == 10**18  # 31.7 years: exact
    assert deadline_after(0, HUGE_US * 1000) == LAST
    # exactly onto NEVER: 904 ns + 4611686018427387 µs = 2^62 ns (2^62 = ...387904)
    assert 904 + 4611686018427387 * 1000 == NEVER
    assert deadline_after(904, 4611686018427387 * 1000) == LAST
    assert deadline_after(LAST, 1) == LAST


def test_a_delay_past_never_stays_finite_and_host_ok() -> None:
    for now, us in ((0, HUGE_US), (904, 4611686018427387), (10**9, C.LIB_INT_MAX)):
        name, st = call(ctx(now), host(), C.delay(us))
        e = st.host.thread(0)
        assert name == "delay_1" and e is not None and e.state == DELAY2
        assert e.deadline == LAST != NEVER  # finite: it still ends (at the end of time)
        assert _t1(st.host, now) == []  # T1 "DELAY2 has a finite timer" held; it failed before
    name, st = call(ctx(0), host(), C.delay(10**15))  # 31.7 years: exact, not clamped
    assert st.host.thread(0).deadline == 10**18  # type: ignore[union-attr]


def test_a_huge_select_timeout_is_not_no_timeout() -> None:
    name, st = call(ctx(0), host(), C.select([], [], HUGE_US))
    e = st.host.thread(0)
    assert name == "select_1" and e is not None and isinstance(e.state, Select2)
    assert e.deadline == LAST  # finite, so select_4 would time it out
    _, forever = call(ctx(0), host(), C.select([], [], None))
    assert forever.host.thread(0).deadline == NEVER  # type: ignore[union-attr]
    assert _t1(st.host, 0) == []


def test_a_huge_socket_timeout_stays_finite() -> None:
    c = ctx(0)
    for opt in (SockOpt.SO_RCVTIMEO, SockOpt.SO_SNDTIMEO):
        name, st = call(c, host(socks=[Sock(3)]), C.setsockopt(3, opt, HUGE_US))
        assert name == "setsockopt_3"
        s = st.host.s[0]
        # 5e15 µs is a whole number of 4 ms jiffies, so it is kept exactly, as on Linux
        assert (s.rcvtimeo if opt == SockOpt.SO_RCVTIMEO else s.sndtimeo) == HUGE_US * 1000
        name, st2 = call(c, set_thread(st.host, 0, RUN), C.getsockopt(3, opt))
        assert name == "getsockopt_3" and _answer(st2.host) == Ok(HUGE_US)
    blocked = host(socks=[Sock(3, None, 5000, rcvtimeo=HUGE_US * 1000)])
    name, st = call(ctx(7), blocked, C.recvfrom(3, False))
    e = st.host.thread(0)
    assert name == "recvfrom_4" and e is not None and e.deadline == LAST  # finite: it times out
    assert _t1(st.host, 7) == []


def _answer(h: Any) -> Any:
    e = h.thread(0)
    assert e is not None and isinstance(e.state, Ret)
    return e.state.value


def test_the_lib_takes_ints_up_to_2_62_minus_1() -> None:
    """The largest duration a program may pass is LIB_INT_MAX µs (the paper's OCaml int);
    beyond it the argument is refused where it is yielded (a trace could not record it)."""
    assert C.LIB_INT_MAX == 2**62 - 1
    for req in (C.delay(C.LIB_INT_MAX), C.select([], [], C.LIB_INT_MAX), C.delay(-(2**62)),
                C.setsockopt(3, SockOpt.SO_RCVTIMEO, C.LIB_INT_MAX)):
        assert check_request(req, False) is None, req
    for req in (C.delay(2**62), C.select([], [], 10**20), C.port_of_int(2**62),
                C.setsockopt(3, SockOpt.SO_RCVTIMEO, -(2**62) - 1)):
        bad = check_request(req, False)
        assert bad is not None and "2**62-1" in bad, req


def _sleepy(us: int) -> Any:
    def main() -> Any:
        yield C.delay(us)
        yield C.print_endline_flush("woke")
    return main


def _selecty(us: int) -> Any:
    def main() -> Any:
        fd = yield C.socket()
        ready = yield C.select([fd], [], us)
        yield C.print_endline_flush(f"select {ready}")
    return main


def _app(*reqs: Any) -> Any:
    def app() -> Any:
        yield from reqs
    return app


def _simulate(main: Any, horizon: int, pre: tuple[Any, ...] = ()) -> list[Any]:
    """Run one host whose application makes `pre` requests then calls `main`; check
    network_ok (host_ok of every host included) after every step; the transitions."""
    spec = HostSpec("A", ("10.0.0.1",), _app(*pre, ModCall("main")), module={"main": main})
    setup, w = build_world([spec], Faults(), GeneratorRuntime(), horizon=horizon)
    out = []
    for st in simulate(setup, w, RandomChooser(0, 0.0, 0.0)):
        assert network_violations(setup, st.world) == [], (st.transition.rule, st.world.now)
        out.append(st.transition)
    assert out[-1].world.now == horizon
    return out


def _printed(trs: list[Any]) -> list[tuple[int, str]]:
    return [(t.world.now, t.label.value) for t in trs if t.rule == "print_2"]


def test_a_very_long_delay_still_ends() -> None:
    """delay(10^15 µs) (31.7 years) ends exactly then; the run jumps there (nothing else
    happens meanwhile) and host_ok holds all along."""
    trs = _simulate(_sleepy(10**15), 2 * 10**18)
    woke = [t.world.now for t in trs if t.rule == "delay_3"]
    assert len(woke) == 1 and 10**18 <= woke[0] <= 10**18 + 2 * MS  # + the call's dsch
    assert [s for _, s in _printed(trs)] == ["woke\n"]


def test_a_delay_past_never_runs_to_the_last_instant() -> None:
    """delay(5·10^15 µs) (158 years) and the longest delay the LIB takes both sleep through
    a run to the clock's last instant with host_ok (T1) holding at every step, and neither
    wakes (their exact deadlines are later). Before the fix T1 failed ("DELAY2 with an
    infinite timer")."""
    for us in (HUGE_US, C.LIB_INT_MAX):
        trs = _simulate(_sleepy(us), LAST)
        assert "delay_1" in [t.rule for t in trs] and "delay_3" not in [t.rule for t in trs]
        e = trs[-1].world.machine("A").host.thread(0)
        assert e is not None and e.state == DELAY2 and e.deadline == LAST


def test_a_huge_select_timeout_waits_like_a_finite_one() -> None:
    trs = _simulate(_selecty(HUGE_US), LAST)
    e = trs[-1].world.machine("A").host.thread(0)
    assert e is not None and isinstance(e.state, Select2) and e.deadline == LAST
    short = _simulate(_selecty(10**15), 2 * 10**18)  # 31.7 years: select_4 times it out
    assert [t.world.now for t in short if t.rule == "select_4"] != []
    assert [s for _, s in _printed(short)] == ["select ((), ())\n"]


def test_an_application_sleep_past_never_stays_finite() -> None:
    # 10 ns, then the longest sleep (2^62 - 1 ns): its exact deadline is NEVER + 9 ns
    trs = _simulate(_sleepy(1), LAST, (Sleep(10), Sleep(C.LIB_INT_MAX)))
    apps = trs[-1].world.machine("A").apps
    assert [a.deadline for a in apps] == [LAST] and "module_call_1" not in [t.rule for t in trs]


# close on a console fd ------------------------------------------------------------------------

def test_close_of_a_console_fd_is_enotsock_where_linux_closes_it() -> None:
    """The model answers `close(0)`, `close(1)`, `close(2)` with ENOTSOCK (notsockfd_1:
    every fd-taking call on a console fd, as the specification says), and the fd stays a
    console fd. Linux closes it (exit 0, and the fd is then free: the next open gets it).
    A deviation kept on purpose (README, "Deviations kept on purpose"): console fds are host
    constants in the model, and a program that closes one is not a UDP program."""
    for fd in (0, 1, 2):
        name, st = call(ctx(), host(), C.close(fd))
        assert name == "notsockfd_1" and _answer(st.host) == Fail(Errno.ENOTSOCK)
        assert st.host.s == ()
    if sys.platform == "linux":
        probe = ("import os, socket\n"
                 "os.close(0)\n"  # succeeds: no exception
                 "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                 "print(s.fileno())\n")  # the freed fd 0 is reused at once
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             check=False, stdin=subprocess.DEVNULL, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "0", out


def test_a_huge_poll_timeout_stays_finite() -> None:
    """poll's timeout is in ms (Linux: a C int, so at most 24.8 days; negative waits for
    ever); the model's LIB int goes much further, and such a deadline saturates too."""
    from udpsem.hosts.state import Poll2

    name, st = call(ctx(0), host(), C.poll(((0, 1),), C.LIB_INT_MAX))
    e = st.host.thread(0)
    assert name == "poll_1" and e is not None and isinstance(e.state, Poll2)
    assert e.deadline == LAST and _t1(st.host, 0) == []
    _, forever = call(ctx(0), host(), C.poll(((0, 1),), -1))
    assert forever.host.thread(0).deadline == NEVER  # type: ignore[union-attr]
    assert check_request(C.poll(((0, 1),), C.LIB_INT_MAX), False) is None
    bad = check_request(C.poll(((0, 1),), 2**62), False)
    assert bad is not None and "milliseconds" in bad
