"""Run a model world on the real kernel: OS threads, real sockets, real time; record it.

`run_real_world(setup, world, plan, ...)` takes the very `(Setup, World)` a scenario builds
for the model and runs it for real: each machine's application (tid 0) in an OS thread that
makes the module calls and sleeps, every `create` an OS thread, the store a dict shared by a
host's threads, every LIB call a real system call (`udpsem.real.host`). The program code is
the model's, driven by the model's own thread runtime (the one the world was built
with), so it cannot tell the backends apart:
the same answers, the same `UDPError`s, the same numbering of fds, tids and store locations,
the same (model) addresses.

The recording holds, per thread and in order, the labels the model would show: `modcall`,
`call`, `return`, `store`, `storeret`, `modret`, `thread_end`, each with the host, the tid
and a monotonic timestamp (ns since the start), plus the environment's `disconnect`,
`reconnect` and `crash` at the moments they really happened. `trace_lines` writes it in the
trace format, marked as real (`header.real`), with `obs` records instead of model steps.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from udpsem.base.labels import Label
from udpsem.base.time import MS, US
from udpsem.check.environment import app_gaps
from udpsem.hosts.calls import Call, Create
from udpsem.hosts.state import HostConsts, Timing
from udpsem.hosts.values import Fail, Ok, UDPError
from udpsem.network.faults import Crash, Faults, Window
from udpsem.programs.runtime import GeneratorRuntime
from udpsem.real.capture import Capture
from udpsem.real.host import Killed, RealHost
from udpsem.real.net import Loopback, Netns, Plan, RealNetError
from udpsem.state.components import (
    ModCall,
    Raised,
    Return,
    Sleep,
    StoreGet,
    StoreNew,
    StoreSet,
)
from udpsem.state.world import Setup, World
from udpsem.traces.record import label_json

REAL_TIMING = Timing(dpropmin=1 * US, dpropmax=10 * MS, dsch=50 * MS, doq=50 * MS,
                     dstore=50 * MS, dthread=50 * MS)
"""The timing constants a real host is modelled with (docs/model.md, timing). The kernel delivers on
loopback and veth in microseconds (dpropmin 1 µs; dpropmax is the model's default). The other
bounds are how long a Python thread may take to compute its next step, to be woken from a
blocking call, or to get a store answer: 50 ms covers GIL hand-overs between a dozen
threads on a busy 2-core machine shared with other work (measured on this machine during
the team's test runs: stalls of 18 ms between a select's timeout and its return). The checker's tolerance comes on top of these bounds."""

THREAD_KINDS = ("modcall", "modret", "call", "return", "store", "storeret", "thread_end")
"""Label kinds a real run observes for every thread."""
WIRE_KINDS = ("send", "deliver")
"""Label kinds a capture on the wire adds (per host: datagrams sent, and received)."""


def real_consts() -> HostConsts:
    """This machine's host constants: privileged if root, its ephemeral port range."""
    eph: tuple[int, int] | None = None
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            lo, hi = (int(x) for x in f.read().split())
            eph = (lo, hi)
    except (OSError, ValueError):
        pass
    return HostConsts(priv=os.geteuid() == 0, eph=eph)


@dataclass
class Event:
    """One observed label at `t` ns after the start."""

    t: int
    label: Label


@dataclass
class RealResult:
    """What a real run produced."""

    events: list[Event] = field(default_factory=list)
    duration: int = 0
    faults: Faults = field(default_factory=Faults)
    plan: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    captured: bool = False  # the wire was captured (`send`/`deliver` labels, --capture)

    def escaped(self) -> list[tuple[int, str, str]]:
        """(t, host, error) of each exception that escaped a thread: a created thread's
        `thread_end` with an error, or a module call that ended raised (`modret` of a
        Raised, after which the application ends, as in the model)."""
        out = []
        for e in self.events:
            lab = e.label
            if lab.kind == "thread_end" and lab.value is not None:
                out.append((e.t, lab.host or "", str(lab.value)))
            elif lab.kind == "modret" and isinstance(lab.value, Raised):
                out.append((e.t, lab.host or "", lab.value.error))
        return out


class _Recorder:
    def __init__(self, duration: int) -> None:
        self.t0 = time.monotonic_ns()
        self.duration = duration
        self.lock = threading.Lock()
        self.events: list[Event] = []
        self.stopped = threading.Event()
        self.go = threading.Event()

    def begin(self) -> None:
        """Time 0: release the threads waiting in `wait_go`."""
        self.t0 = time.monotonic_ns()
        self.go.set()

    def now(self) -> int:
        return time.monotonic_ns() - self.t0

    def emit(self, host: RealHost | None, kind: str, hname: str | None, tid: int | None,
             value: Any) -> int:
        """Append a label (timestamped under the lock, so the list is in time order); a
        thread of a dead host, or any thread after the end, stops instead."""
        with self.lock:
            if self.stopped.is_set() or (host is not None and host.dead.is_set()):
                raise Killed(hname or "")
            t = self.now()
            if t > self.duration:
                self.stopped.set()
                raise Killed(hname or "")
            self.events.append(Event(t, Label(kind, hname, tid, value)))
            return t

    def wait_until(self, t: int, host: RealHost | None = None) -> None:
        while True:
            left = t - self.now()
            if left <= 0:
                return
            ev = host.dead if host is not None else self.stopped
            if ev.wait(left / 1e9) or self.stopped.is_set():
                raise Killed("")


class _Threads:
    """Runs program threads of all hosts as OS threads."""

    def __init__(self, setup: Setup, hosts: dict[str, RealHost], rec: _Recorder) -> None:
        self.setup = setup
        self.hosts = hosts
        self.rec = rec
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self, hname: str, tid: int, target: Callable[[], None]) -> None:
        def body() -> None:
            host = self.hosts[hname]
            try:
                host.plan.enter(hname)
                self.rec.go.wait()
                target()
            except Killed:
                pass
            except Exception as e:  # noqa: BLE001 — a bug of the backend, reported
                self.errors.append(f"{hname} thread {tid}: {type(e).__name__}: {e}")
                host.kill()

        th = threading.Thread(target=body, name=f"{hname}/{tid}", daemon=True)
        self.threads.append(th)
        th.start()

    def run_code(self, host: RealHost, tid: int, code: Any, req: Any) -> Any:
        """Feed a program thread (its Code and first request, from the model's runtime)
        until it finishes; its Return or Raised."""
        rec, name, rt = self.rec, host.name, self.setup.runtime
        while True:
            if isinstance(req, (Return, Raised)):
                return req
            if isinstance(req, (StoreNew, StoreSet, StoreGet)):
                rec.emit(host, "store", name, tid, req)
                try:
                    v = host.store_op(req)
                except KeyError:
                    raise RuntimeError(f"{name}: store location {req} was never allocated") \
                        from None
                rec.emit(host, "storeret", name, tid, v)
                code, req = rt.advance(code, Ok(v))
                continue
            if isinstance(req, Create):
                rec.emit(host, "call", name, tid, req)
                child = host.new_tid()
                rec.emit(host, "return", name, tid, Ok(child))
                self._spawn(host, child, req.program, req.arg)
                code, req = rt.advance(code, Ok(child))
                continue
            if not isinstance(req, Call):
                raise TypeError(f"{name}: thread {tid} yielded {req!r}, which is not a LIB "
                                   "call, a store operation or a return")
            rec.emit(host, "call", name, tid, req)
            answer: Ok | Fail
            try:
                answer = Ok(host.perform(req))
            except UDPError as e:
                answer = Fail(e.errno)
            rec.emit(host, "return", name, tid, answer)
            code, req = rt.advance(code, answer)

    def _spawn(self, host: RealHost, tid: int, program: Any, arg: Any) -> None:
        def target() -> None:
            code, req = self.setup.runtime.start(program, arg)
            end = self.run_code(host, tid, code, req)
            err = end.error if isinstance(end, Raised) else None
            self.rec.emit(host, "thread_end", host.name, tid, err)

        self.start(host.name, tid, target)

    def start_app(self, host: RealHost, app: Any) -> None:
        """The application (tid 0): module calls and sleeps, as `module_call_1`,
        `thread_return_1` and `app_wake` do in the model."""
        modules = self.setup.modules[host.name]
        rt = self.setup.runtime

        def target() -> None:
            rec = self.rec
            code, req = app.code, app.request
            at = app.deadline  # its first module call, or the end of its first sleep
            while True:
                if isinstance(req, (Return, Raised)) or req is None:
                    return
                rec.wait_until(at, host)
                if isinstance(req, Sleep):
                    code, req = rt.advance(code, Ok(None))
                    at = rec.now() if not isinstance(req, Sleep) else at + req.ns
                    continue
                if not isinstance(req, ModCall):
                    raise TypeError(f"{host.name}: the application yielded {req!r}")
                fn = modules.get(req.fn)
                if fn is None:
                    raise RuntimeError(f"{host.name}: the module has no function {req.fn!r}")
                rec.emit(host, "modcall", host.name, 0, (req.fn, req.arg))
                scode, sreq = rt.start(fn, req.arg)
                end = self.run_code(host, 0, scode, sreq)
                val = end.value if isinstance(end, Return) else end
                t = rec.emit(host, "modret", host.name, 0, val)
                code, req = rt.advance(code, Ok(end.value) if isinstance(end, Return) else end)
                at = t + req.ns if isinstance(req, Sleep) else t

        self.start(host.name, 0, target)


def plan_for(world: World, netns: bool) -> Plan:
    """The address plan of `world`'s machines (one address each)."""
    hosts = []
    for m in world.machines:
        assert m.host is not None
        hosts.append((m.name, [a for i in m.host.ifds if not i.is_lo for a in i.ipset]))
    return Netns(hosts) if netns else Loopback(hosts)


@contextmanager
def sigint_cleanup(cleanup: Callable[[], None]) -> Iterator[None]:
    """Run `cleanup` on SIGINT/SIGTERM as well as on normal exit (then re-raise the
    interrupt as KeyboardInterrupt)."""
    old: dict[signal.Signals, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        cleanup()
        raise KeyboardInterrupt

    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        try:
            cleanup()
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)


def run_real_world(setup: Setup, world: World, plan: Plan, duration: int,
                   progress: Callable[[int], None] | None = None,
                   capture: bool = False) -> RealResult:
    """Run `world` on the kernel for `duration` ns with the environment events of its
    schedule (disconnect/reconnect through the plan, crash = kill the host's threads).
    With `capture` (namespaces only) the datagrams on each host's link are recorded too
    (`udpsem.real.capture`)."""
    res = RealResult(duration=duration, plan=plan.describe())
    rec = _Recorder(duration)
    hosts = {m.name: RealHost(m.name, plan) for m in world.machines}
    threads = _Threads(setup, hosts, rec)
    done: list[bool] = []
    cap: Capture | None = None
    if capture:
        if not isinstance(plan, Netns):
            plan.close()
            raise RealNetError("a capture on the wire needs --netns (on loopback there is "
                               "no link to capture)")
        names = [m.name for m in world.machines]
        cap = Capture(names, plan.enter, plan.model_of,
                      any(setup.consts[n].icmp_quote for n in names),
                      any(setup.consts[n].router_legs for n in names))

    def cleanup() -> None:
        if done:
            return
        done.append(True)
        rec.stopped.set()
        for h in hosts.values():
            h.kill()
        for th in threads.threads:
            th.join(timeout=2)
        if cap is not None:
            cap.stop()  # before the namespaces (and its sockets' links) go
        for h in hosts.values():
            h.close()
        plan.close()

    windows: dict[str, list[int]] = {}
    downs: dict[str, list[int]] = {}  # the ifdown/ifup moments, likewise
    crashes: list[Crash] = []
    # Python hands the GIL over every 5 ms by default: a thread between its recorded call and
    # the system call could wait that long, more than the checker's tolerance. 0.2 ms keeps
    # the gap small at the cost of more hand-overs (a real run is mostly asleep anyway).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    with sigint_cleanup(cleanup):
        try:
            if cap is not None:
                try:
                    cap.start()
                except OSError as e:
                    raise RealNetError(str(e)) from None
            for m in world.machines:
                for a in m.apps:
                    threads.start_app(hosts[m.name], a)
            rec.begin()
            for ev in sorted(world.schedule, key=lambda e: (e.at, e.kind, e.host)):
                rec.wait_until(ev.at)
                if ev.kind == "disconnect":
                    plan.disconnect(ev.host)
                elif ev.kind == "reconnect":
                    plan.reconnect(ev.host)
                elif ev.kind == "ifdown":
                    plan.ifdown(ev.host)
                elif ev.kind == "ifup":
                    plan.ifup(ev.host)
                else:
                    if plan.kind == "netns":
                        plan.disconnect(ev.host)  # a dead machine answers nothing
                    hosts[ev.host].kill()
                t = rec.emit(None, ev.kind, ev.host, None, None)
                if ev.kind == "crash":
                    crashes.append(Crash(ev.host, t))
                elif ev.kind in ("ifdown", "ifup"):
                    downs.setdefault(ev.host, []).append(t)
                else:
                    windows.setdefault(ev.host, []).append(t)
            while rec.now() < duration and not rec.stopped.is_set():
                rec.stopped.wait(min(0.5, max(0.0, (duration - rec.now()) / 1e9)))
                if progress is not None:
                    progress(rec.now())
        except Killed:
            pass
        except KeyboardInterrupt:
            res.interrupted = True
        finally:
            cleanup()
            sys.setswitchinterval(switch)
    res.events = list(rec.events)
    if cap is not None:
        res.captured = True
        res.errors.extend(cap.errors)
        wire = [Event(f.t - rec.t0, Label(f.kind, f.host, None, f.msg)) for f in cap.frames]
        # In time order with the threads' labels (a stable sort keeps each thread's order).
        res.events = sorted(res.events + [e for e in wire if 0 <= e.t <= duration],
                            key=lambda e: e.t)
    res.errors.extend(threads.errors)
    res.faults = _measured_faults(setup.faults, windows, crashes, downs)
    return res


def _measured_faults(f: Faults, windows: dict[str, list[int]], crashes: list[Crash],
                     downs: dict[str, list[int]] | None = None) -> Faults:
    """The fault setting with the disconnect and ifdown windows and the crashes at the
    moments they really happened."""
    def measured(moments: dict[str, list[int]]) -> tuple[Window, ...]:
        ws: list[Window] = []
        for host, times in sorted(moments.items()):
            for k in range(0, len(times), 2):
                ws.append(Window(host, times[k], times[k + 1] if k + 1 < len(times) else None))
        return tuple(ws)

    return dataclasses.replace(f, disconnects=measured(windows), crashes=tuple(crashes),
                               ifdowns=measured(downs or {}))


def trace_lines(program: str, params: dict[str, int], timing: Timing, consts: HostConsts,
                res: RealResult, world: World) -> Iterator[dict[str, Any]]:
    """The real trace: a header marked `real`, then one `obs` record per label."""
    from udpsem.traces.record import header_json

    header = header_json(program, params, timing, consts, res.faults, None, world)
    wire = {"capture_blind": capture_blind(res.faults, res.duration)} if res.captured else {}
    yield {**header,
           "real": {"plan": res.plan,
                    "observed": [*THREAD_KINDS, *(WIRE_KINDS if res.captured else ())],
                    **wire,
                    "app_gaps": app_gaps([(ev.t, label_json(ev.label)) for ev in res.events]),
                    "end_ns": res.duration, "kernel": platform.release(),
                    "interrupted": res.interrupted, "errors": res.errors}}
    for i, ev in enumerate(res.events):
        yield {"type": "obs", "i": i, "t": ev.t, "label": label_json(ev.label)}


def capture_blind(faults: Faults, end: int) -> dict[str, list[list[int]]]:
    """Per host, the windows `[start, end]` in which its link or its interface was down (a
    disconnect, an ifdown, or from a crash on), when a capture on its interface cannot see
    what the host sends: the checker leaves its wire labels unobserved there."""
    out: dict[str, list[list[int]]] = {}
    for w in (*faults.disconnects, *faults.ifdowns):
        out.setdefault(w.host, []).append([w.start, end if w.end is None else w.end])
    for c in faults.crashes:
        out.setdefault(c.host, []).append([c.at, end])
    return {h: sorted(ws) for h, ws in sorted(out.items())}


@dataclass
class RealRun:
    """A catalogued program run for real: the result, its trace lines and its observer."""

    result: RealResult
    lines: list[dict[str, Any]]
    observer: Any
    params: dict[str, int]
    transitions: int


def run_program(program: str, params: dict[str, int], faults: Faults, netns: bool = False,
                progress: Callable[[int], None] | None = None,
                capture: bool = False) -> RealRun:
    """Build the catalogued `program` (or program file `FILE.py[:NAME]`) as the model would
    (with REAL_TIMING and this machine's constants) and run it on the kernel for its
    `duration_ns`."""
    from udpsem.programs.catalog import scenario

    sc = scenario(program)
    full = {**sc.defaults, **params}
    consts = real_consts()
    setup, world = sc.build(full, REAL_TIMING, consts, faults, GeneratorRuntime())
    plan = plan_for(world, netns)
    res = run_real_world(setup, world, plan, full["duration_ns"], progress, capture)
    lines = list(trace_lines(program, full, REAL_TIMING, consts, res, world))
    obs = sc.observer()
    if getattr(obs, "reads_model_state", False):
        obs.real_run()  # a program file's properties: checked on the model run `check` finds
    else:
        for ev in res.events:
            obs.on_step(_as_step(ev))
    return RealRun(res, lines, obs, full, len(res.events))


@dataclass(frozen=True)
class _Now:
    now: int


@dataclass(frozen=True)
class _Tr:
    label: Label
    world: _Now
    rule: str = "real"
    partner: str | None = None


@dataclass(frozen=True)
class _Step:
    transition: _Tr


def _as_step(ev: Event) -> Any:
    """An observed label in the shape observers read (`st.transition.label`, `.world.now`)."""
    return _Step(_Tr(ev.label, _Now(ev.t)))
